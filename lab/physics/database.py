"""An Aurora-like global database: one SQL store per region, replicated from the writer at a lag.

Each cluster is a real SQLite database. Statements that change data on the writer are logged and
replayed on the reader once the replication lag has passed (statement-based replication), so what
a reader shows is exactly what the writer had `lag` seconds earlier. The clusters' status comes
from the local cloud (stop_db_cluster, start_db_cluster); the global operations moto lacks are
done here:

- failover (unplanned, AllowDataLoss): the statements still in flight are lost (written to the
  ground truth) and the old writer takes no more writes at once; the reader is promoted with what
  it had received once the operation's time has passed; the old writer then stays a secondary in
  `pending-resync` for the rejoin time, after which it is rebuilt from the new writer (`connected`),
  as Aurora does when the old primary region comes back;
- switchover (planned): the writer takes no more writes, the reader catches up at once (nothing in
  flight is lost), and the roles swap once the operation's time has passed.

Both take time, as in AWS: the global cluster shows a FailoverState (`pending`, then `failing-over`
or `switching-over`) meanwhile and refuses another failover or switchover (GlobalClusterBusy).
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from drillkit_lab.physics.groundtruth import GroundTruth
from drillkit_lab.physics.looks import Looks

# A cluster's status changes through the RDS API, which wakes the thread (look_again); this catches any other change.
STATUS_RECHECK_SECONDS = 0.5

WRITE_VERBS = ("insert", "update", "delete", "replace", "create", "drop", "alter")


class DatabaseUnavailable(Exception):
    """The cluster is stopped or not available (the Data API cannot reach it)."""


class ReadOnly(Exception):
    """A change was sent to a reader cluster (or to a writer a global operation is demoting)."""


class GlobalClusterBusy(Exception):
    """A failover or switchover is already in progress (AWS: InvalidGlobalClusterStateFault)."""


class ClusterNotEligible(Exception):
    """The target cannot become the writer now (AWS: InvalidDBClusterStateFault)."""


SYNCHRONIZED = "connected"
RESYNCING = "pending-resync"
PENDING_SHARE = 0.1  # part of an operation's time the FailoverState reads `pending` (checks before it starts)


@dataclass
class Cluster:
    role_name: str  # primary / standby: where it sits in the lab stack
    region: str
    identifier: str
    arn: str
    role: str  # writer / reader
    synchronization: str = SYNCHRONIZED  # GlobalClusterMember.SynchronizationStatus: connected / pending-resync
    demoting: bool = False  # a global operation is taking the writer role away: it refuses writes
    db: sqlite3.Connection = field(default_factory=lambda: sqlite3.connect(":memory:", check_same_thread=False))


@dataclass
class GlobalOperation:
    """A failover or switchover in progress: what DescribeGlobalClusters shows as FailoverState."""

    kind: Literal["failover", "switchover"]
    from_arn: str
    to_arn: str
    started_at: float
    seconds: float

    @property
    def data_loss_allowed(self) -> bool:
        return self.kind == "failover"

    def status(self, now: float) -> str:
        if now < self.started_at + self.seconds * PENDING_SHARE:
            return "pending"
        return "failing-over" if self.kind == "failover" else "switching-over"

    def failover_state(self, now: float) -> dict[str, Any]:
        return {
            "Status": self.status(now),
            "FromDbClusterArn": self.from_arn,
            "ToDbClusterArn": self.to_arn,
            "IsDataLossAllowed": self.data_loss_allowed,
        }


@dataclass
class InFlight:
    apply_at: float
    written_at: float
    sql: str
    params: dict[str, Any]


class GlobalDatabase:
    def __init__(
        self,
        rds_backends: Any,
        ground_truth: GroundTruth,
        lag_seconds: float,
        global_cluster_id: str | None,
        failover_seconds: float = 1.0,
        switchover_seconds: float = 1.0,
        rejoin_seconds: float = 1.0,
    ):
        self.rds_backends = rds_backends  # region -> moto RDS backend
        self.ground_truth = ground_truth
        self.lag_seconds = lag_seconds
        self.global_cluster_id = global_cluster_id
        self.failover_seconds = failover_seconds
        self.switchover_seconds = switchover_seconds
        self.rejoin_seconds = rejoin_seconds
        self.operation: GlobalOperation | None = None
        self._rejoins: dict[str, float] = {}  # old writer ARN -> when it is a synchronized secondary again
        if global_cluster_id:
            BY_GLOBAL_CLUSTER[global_cluster_id.lower()] = self
        self.clusters: dict[str, Cluster] = {}  # by ARN
        self._in_flight: deque[InFlight] = deque()
        self._lock = threading.RLock()
        self._looks = Looks(guard=STATUS_RECHECK_SECONDS)  # look_again(): it wakes before its next due time
        self._available: dict[str, bool] = {}
        self._thread = threading.Thread(target=lambda: self._looks.run(self._look), name="database", daemon=True)

    def add(self, cluster: Cluster) -> None:
        self.clusters[cluster.arn] = cluster
        self.ground_truth.record("db_role", cluster=cluster.identifier, region=cluster.region, role=cluster.role)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._looks.stop()
        self._thread.join(timeout=3)

    def look_again(self) -> None:
        """A cluster's status may have changed (an RDS call): the physics thread records it now, not at its next due time."""
        self._looks.look_again()

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
        with self._lock:
            if changes and cluster.role != "writer":
                raise ReadOnly(f"cluster {cluster.identifier} is a reader: cannot execute {sql.split(None, 1)[0].upper()}")
            if changes and cluster.demoting:
                operation = self.operation.kind if self.operation else "operation"
                verb = sql.split(None, 1)[0].upper()
                raise ReadOnly(f"cluster {cluster.identifier} is being demoted by a global {operation}: cannot execute {verb}")
            cursor = cluster.db.execute(sql, params)
            rows = cursor.fetchall()
            columns = [d[0] for d in cursor.description or []]
            cluster.db.commit()
            if changes:
                now = time.time()
                self.ground_truth.record("db_write", cluster=cluster.identifier, sql=sql, params=params)
                if self.replicates():
                    self._in_flight.append(InFlight(now + self.lag_seconds, now, sql, dict(params)))
                    self._looks.look_again()  # due at its lag, which may come before the thread's next due time
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
        if role_name == "primary" and (cluster.role != "writer" or cluster.demoting):
            return False
        with self._lock:
            cluster.db.execute("select 1").fetchall()
        return True

    # -- replication and the global operations -------------------------------------------------
    def _readers(self) -> list[Cluster]:
        # A secondary still resynchronizing after a failover receives nothing until it is rebuilt.
        return [c for c in self.clusters.values() if c.role == "reader" and c.synchronization == SYNCHRONIZED]

    def _replicate(self, until: float) -> None:
        with self._lock:
            while self._in_flight and self._in_flight[0].apply_at <= until:
                item = self._in_flight.popleft()
                for reader in self._readers():
                    reader.db.execute(item.sql, item.params)
                    reader.db.commit()

    def _next_due(self) -> float:
        """When the thread has work next (a statement to apply, an operation or a rejoin to complete); inf: none."""
        with self._lock:
            due = [self._in_flight[0].apply_at] if self._in_flight else []
            if self.operation is not None:
                due.append(self.operation.started_at + self.operation.seconds)
            due.extend(self._rejoins.values())
        return min(due, default=math.inf)

    def _look(self) -> float | None:
        """Apply what is due and record availability; the seconds until the next work (None: none).

        The thread sleeps until then, or until woken (a write, an operation begun, an RDS call): polling every 20 ms
        made it the busiest thread of an idle lab. Statements are applied at their due time to the millisecond.
        """
        now = time.time()
        self._replicate(now)
        self.advance(now)
        for cluster in list(self.clusters.values()):
            available = self.available(cluster)
            if available != self._available.get(cluster.arn):
                self._available[cluster.arn] = available
                self.ground_truth.record("db_available", cluster=cluster.identifier, available=available)
        due = self._next_due()
        return None if due == math.inf else due - time.time()

    def failover_state(self, now: float | None = None) -> dict[str, Any] | None:
        with self._lock:
            return None if self.operation is None else self.operation.failover_state(time.time() if now is None else now)

    def begin(self, kind: Literal["failover", "switchover"], target_arn_or_id: str, now: float | None = None) -> GlobalOperation:
        """Start a failover (AllowDataLoss) or a switchover to the target; it completes in advance()."""
        target = self.cluster(target_arn_or_id)
        if target is None:
            raise KeyError(target_arn_or_id)
        now = time.time() if now is None else now
        with self._lock:
            if self.operation is not None:
                raise GlobalClusterBusy(
                    f"Global cluster {self.global_cluster_id} is in the state {self.operation.status(now)}: "
                    f"a {self.operation.kind} to {self.operation.to_arn} is in progress"
                )
            old = self.writer()
            if old is None or old is target:
                raise ClusterNotEligible(f"DB cluster {target.arn} is already the primary cluster of {self.global_cluster_id}")
            if target.synchronization != SYNCHRONIZED:
                raise ClusterNotEligible(
                    f"DB cluster {target.arn} is not synchronized with the primary ({target.synchronization})"
                )
            seconds = self.failover_seconds if kind == "failover" else self.switchover_seconds
            self.operation = GlobalOperation(kind, old.arn, target.arn, now, seconds)
            old.demoting = True  # from now on the old writer takes no writes
            if kind == "failover":
                self._lose_in_flight()
            else:
                # A switchover synchronizes every secondary first: nothing in flight is lost.
                self._replicate(math.inf)
            self.ground_truth.record(
                "db_global_operation",
                global_cluster=self.global_cluster_id,
                kind=kind,
                status=self.operation.status(now),
                from_cluster=old.identifier,
                to_cluster=target.identifier,
            )
            self._looks.look_again()  # the thread completes it at its time
            return self.operation

    def advance(self, now: float) -> None:
        """Complete the operation whose time has passed, and the rejoins of old writers."""
        with self._lock:
            operation = self.operation
            if operation is not None and now >= operation.started_at + operation.seconds:
                target = self.clusters[operation.to_arn]
                self._promote(target, resync=operation.kind == "failover")
                self.operation = None
                if operation.kind == "failover":
                    self._rejoins[operation.from_arn] = now + self.rejoin_seconds
                self.ground_truth.record(
                    "db_global_operation",
                    global_cluster=self.global_cluster_id,
                    kind=operation.kind,
                    status="completed",
                    from_cluster=self.clusters[operation.from_arn].identifier,
                    to_cluster=target.identifier,
                )
            for arn, rejoin_at in list(self._rejoins.items()):
                if now >= rejoin_at:
                    del self._rejoins[arn]
                    self._rejoin(self.clusters[arn])

    def _lose_in_flight(self) -> list[InFlight]:
        lost = list(self._in_flight)
        self._in_flight.clear()
        if lost:
            self.ground_truth.record(
                "db_writes_lost",
                global_cluster=self.global_cluster_id,
                count=len(lost),
                writes=[{"written_at": i.written_at, "sql": i.sql, "params": i.params} for i in lost],
            )
        return lost

    def _promote(self, target: Cluster, resync: bool) -> None:
        old = self.writer()
        with self._lock:
            if old is not None and old is not target:
                old.role = "reader"
                old.demoting = False
                if resync:
                    # After a failover the old writer is a secondary that must be rebuilt before it replicates.
                    old.synchronization = RESYNCING
                self.ground_truth.record("db_role", cluster=old.identifier, region=old.region, role="reader")
            target.role = "writer"
            self.ground_truth.record("db_role", cluster=target.identifier, region=target.region, role="writer")
        self._mirror_writer_into_moto()

    def _rejoin(self, cluster: Cluster) -> None:
        writer = self.writer()
        with self._lock:
            if writer is not None and writer is not cluster:
                # The old writer comes back as a reader with the new writer's data. What is in flight now is in
                # that copy already: deliver it to the other secondaries first so that nobody replays it onto the copy.
                self._replicate(math.inf)
                cluster.db.close()
                cluster.db = sqlite3.connect(":memory:", check_same_thread=False)
                writer.db.backup(cluster.db)
            cluster.synchronization = SYNCHRONIZED
            self.ground_truth.record("db_synchronization", cluster=cluster.identifier, status=SYNCHRONIZED)

    def _mirror_writer_into_moto(self) -> None:
        """moto's own global cluster keeps IsWriter too (its Readers list and member calls read it)."""
        for backend in self.rds_backends.values():
            found = getattr(backend, "global_clusters", {}).get(self.global_cluster_id)
            for member in getattr(found, "members", []):
                member.is_writer = (
                    member.db_cluster_arn in self.clusters and self.clusters[member.db_cluster_arn].role == "writer"
                )

    # -- what DescribeGlobalClusters shows (moto's model, patched by install_global_cluster_state) --
    def member_view(self, cluster_arn: str) -> dict[str, Any] | None:
        cluster = self.clusters.get(cluster_arn)
        if cluster is None:
            return None
        return {"IsWriter": cluster.role == "writer", "SynchronizationStatus": cluster.synchronization}


BY_GLOBAL_CLUSTER: dict[str, GlobalDatabase] = {}  # lower-case global cluster id -> its physics
