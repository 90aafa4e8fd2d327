"""An Aurora-like global database: one SQL store per region, replicated from the writer at a lag.

Each cluster is a real SQLite database. Statements that change data on the writer are logged and
replayed on the reader once the replication lag has passed (statement-based replication), so what
a reader shows is exactly what the writer had `lag` seconds earlier. The clusters' status comes
from the local cloud (stop_db_cluster, start_db_cluster); the global operations moto lacks are
done here:

- failover (unplanned, AllowDataLoss): the reader is promoted with what it had received; the
  statements still in flight are lost and written to the ground truth; the old writer becomes a
  reader rebuilt from the new writer, as Aurora does when the old primary region comes back;
- switchover (planned): waits until the reader has caught up, then swaps roles; nothing is lost.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from drillkit_lab.physics.groundtruth import GroundTruth

WRITE_VERBS = ("insert", "update", "delete", "replace", "create", "drop", "alter")


class DatabaseUnavailable(Exception):
    """The cluster is stopped or not available (the Data API cannot reach it)."""


class ReadOnly(Exception):
    """A change was sent to a reader cluster."""


@dataclass
class Cluster:
    role_name: str  # primary / standby: where it sits in the lab stack
    region: str
    identifier: str
    arn: str
    role: str  # writer / reader
    db: sqlite3.Connection = field(default_factory=lambda: sqlite3.connect(":memory:", check_same_thread=False))


@dataclass
class InFlight:
    apply_at: float
    written_at: float
    sql: str
    params: dict[str, Any]


class GlobalDatabase:
    def __init__(self, rds_backends: Any, ground_truth: GroundTruth, lag_seconds: float, global_cluster_id: str | None):
        self.rds_backends = rds_backends  # region -> moto RDS backend
        self.ground_truth = ground_truth
        self.lag_seconds = lag_seconds
        self.global_cluster_id = global_cluster_id
        self.clusters: dict[str, Cluster] = {}  # by ARN
        self._in_flight: deque[InFlight] = deque()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._available: dict[str, bool] = {}
        self._writes_paused = threading.Event()
        self._thread = threading.Thread(target=self._run, name="database", daemon=True)

    def add(self, cluster: Cluster) -> None:
        self.clusters[cluster.arn] = cluster
        self.ground_truth.record("db_role", cluster=cluster.identifier, region=cluster.region, role=cluster.role)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    # -- lookups ---------------------------------------------------------------------------
    def cluster(self, arn_or_id: str) -> Cluster | None:
        return self.clusters.get(arn_or_id) or next((c for c in self.clusters.values() if c.identifier == arn_or_id), None)

    def of(self, role_name: str) -> Cluster | None:
        return next((c for c in self.clusters.values() if c.role_name == role_name), None)

    def writer(self) -> Cluster | None:
        return next((c for c in self.clusters.values() if c.role == "writer"), None)

    def available(self, cluster: Cluster) -> bool:
        backend = self.rds_backends[cluster.region]
        described = backend.clusters.get(cluster.identifier)
        return described is not None and described.status == "available"

    def replicates(self) -> bool:
        return self.global_cluster_id is not None

    # -- SQL, as the Data API runs it ---------------------------------------------------------
    def execute(self, arn_or_id: str, sql: str, params: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]], int]:
        cluster = self.cluster(arn_or_id)
        if cluster is None:
            raise KeyError(arn_or_id)
        if not self.available(cluster):
            raise DatabaseUnavailable(f"cluster {cluster.identifier} is not available")
        changes = sql.lstrip().split(None, 1)[0].lower() in WRITE_VERBS
        while changes and self._writes_paused.is_set():
            time.sleep(0.01)
        with self._lock:
            if changes and cluster.role != "writer":
                raise ReadOnly(f"cluster {cluster.identifier} is a reader: cannot execute {sql.split(None, 1)[0].upper()}")
            cursor = cluster.db.execute(sql, params)
            rows = cursor.fetchall()
            columns = [d[0] for d in cursor.description or []]
            cluster.db.commit()
            if changes:
                now = time.time()
                self.ground_truth.record("db_write", cluster=cluster.identifier, sql=sql, params=params)
                if self.replicates():
                    self._in_flight.append(InFlight(now + self.lag_seconds, now, sql, dict(params)))
            return columns, rows, cursor.rowcount if changes else 0

    def healthy(self, role_name: str) -> bool:
        """What a deep health check sees: its region's cluster answers, as the app there needs it.

        The primary region's app writes, so it needs its cluster to be the writer: after a global
        failover or switchover its health fails and Route 53 moves traffic after the database.
        The standby region's app is a warm standby that reads, so a reader is enough there.
        """
        cluster = self.of(role_name)
        if cluster is None or not self.available(cluster):
            return False
        if role_name == "primary" and cluster.role != "writer":
            return False
        with self._lock:
            cluster.db.execute("select 1").fetchall()
        return True

    # -- replication and the global operations -------------------------------------------------
    def _readers(self) -> list[Cluster]:
        return [c for c in self.clusters.values() if c.role == "reader"]

    def _replicate(self, until: float) -> None:
        with self._lock:
            while self._in_flight and self._in_flight[0].apply_at <= until:
                item = self._in_flight.popleft()
                for reader in self._readers():
                    reader.db.execute(item.sql, item.params)
                    reader.db.commit()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._replicate(time.time())
            for cluster in list(self.clusters.values()):
                available = self.available(cluster)
                if available != self._available.get(cluster.arn):
                    self._available[cluster.arn] = available
                    self.ground_truth.record("db_available", cluster=cluster.identifier, available=available)
            self._stop.wait(0.02)

    def _promote(self, target: Cluster) -> None:
        old = self.writer()
        with self._lock:
            if old is not None and old is not target:
                # The old writer comes back as a reader with the new writer's data.
                old.db.close()
                old.db = sqlite3.connect(":memory:", check_same_thread=False)
                target.db.backup(old.db)
                old.role = "reader"
                self.ground_truth.record("db_role", cluster=old.identifier, region=old.region, role="reader")
            target.role = "writer"
            self.ground_truth.record("db_role", cluster=target.identifier, region=target.region, role="writer")

    def failover(self, target_arn_or_id: str) -> list[InFlight]:
        target = self.cluster(target_arn_or_id)
        if target is None:
            raise KeyError(target_arn_or_id)
        with self._lock:
            lost = list(self._in_flight)
            self._in_flight.clear()
            if lost:
                self.ground_truth.record(
                    "db_writes_lost",
                    global_cluster=self.global_cluster_id,
                    count=len(lost),
                    writes=[{"written_at": i.written_at, "sql": i.sql, "params": i.params} for i in lost],
                )
            self._promote(target)
        return lost

    def switchover(self, target_arn_or_id: str, timeout: float = 30.0) -> None:
        target = self.cluster(target_arn_or_id)
        if target is None:
            raise KeyError(target_arn_or_id)
        self._writes_paused.set()  # writes wait while the reader catches up: nothing in flight may be lost
        try:
            deadline = time.time() + timeout
            while True:
                with self._lock:
                    if not self._in_flight:
                        self._promote(target)
                        return
                if time.time() > deadline:
                    raise TimeoutError(f"reader {target.identifier} did not catch up within {timeout:g}s")
                time.sleep(0.02)
        finally:
            self._writes_paused.clear()
