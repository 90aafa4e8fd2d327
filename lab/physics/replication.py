"""Replication physics: DynamoDB global tables and S3 Cross-Region Replication, each write arriving after its lag.

Both run inside the local cloud's process, on one timer thread: a write through moto's API (patched in
extensions.py to tell this module) is copied to the other side when its lag has passed, and the moment it
became visible there is written to the ground truth. Nothing here calls an AWS API; it reads and writes moto's
backends as AWS's own replication reads and writes its storage.

DynamoDB (global tables version 2019.11.21): every replica accepts writes; a write in one replica is applied
to every other replica after the table's lag, unless that replica holds a newer write of the same item (last
writer wins). UpdateTable ReplicaUpdates Create copies the table and its items to the new region, Delete removes
the replica (and its items) from that region; replication to it stops.

S3: an object written to a source bucket under an enabled rule's filter prefix is PENDING at once; after the
bucket's lag S3 assumes the rule's role and writes the replica (same key, bytes, metadata and version id) to the
destination, REPLICA there and COMPLETED at the source; a missing role, an unversioned destination or a
destination policy that denies the role make it FAILED, with AWS's failure reason in the ground truth. Delete
markers are replicated only when the rule's DeleteMarkerReplication is Enabled; deletes of a version never are.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import heapq
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from drillkit_lab.physics.groundtruth import GroundTruth

GLOBAL_TABLE_VERSION = "2019.11.21"
DEFAULT_TABLE_LAG = 0.5  # a table made global through the API, not the stack spec
DEFAULT_BUCKET_LAG = 1.0  # a bucket given a replication configuration through the API, not the stack spec
REPLICATE_OBJECT = "s3:ReplicateObject"


class Timer:
    """One thread that runs each scheduled job at its time, in time order."""

    def __init__(self, name: str):
        self._jobs: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def at(self, when: float, job: Callable[[], None]) -> None:
        with self._wake:
            heapq.heappush(self._jobs, (when, next(self._order), job))
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._jobs or self._jobs[0][0] > time.time()):
                    self._wake.wait(None if not self._jobs else max(0.0, self._jobs[0][0] - time.time()))
                if self._stopped:
                    return
                _, _, job = heapq.heappop(self._jobs)
            try:
                job()
            except Exception as error:  # noqa: BLE001 one write that cannot land (its table deleted meanwhile) stops no other
                print(f"lab replication: {error!r}", file=sys.stderr)


def _key_of(attributes: dict[str, Any], key_names: list[str]) -> str:
    """An item's primary key as one string (its attributes in DynamoDB's JSON), stable whatever the order."""
    return json.dumps({name: attributes[name] for name in key_names}, sort_keys=True, separators=(",", ":"))


@dataclass
class GlobalTables:
    """DynamoDB global tables: which regions hold a replica of which table, and the writes on their way."""

    backend_for: Callable[[str], Any]  # region -> moto's DynamoDB backend
    ground_truth: GroundTruth
    timer: Timer
    lags: dict[str, float] = field(default_factory=dict)  # table name -> replication lag (the stack spec's knob)
    groups: dict[str, set[str]] = field(default_factory=dict)  # table name -> regions holding a replica
    _written: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (region, table, key) -> newest write
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def configure(self, table: str, lag_seconds: float) -> None:
        self.lags[table] = lag_seconds

    def replicas(self, table: str, region: str) -> list[str] | None:
        """The other regions' replicas a DescribeTable in `region` lists; None when the table is not global."""
        with self._lock:
            regions = self.groups.get(table, set())
            if region not in regions:
                return None
            return sorted(regions - {region})

    def add_replica(self, table: str, region: str, new_region: str) -> None:
        """CreateTableReplica: the same table (name, keys, indexes, stream) and its items in `new_region`."""
        source = self.backend_for(region).get_table(table)
        target_backend = self.backend_for(new_region)
        kept = ("IndexName", "KeySchema", "Projection")
        indexes = [{k: v for k, v in i.describe().items() if k in kept} for i in source.global_indexes]
        target = target_backend.create_table(
            table,
            schema=source.schema,
            throughput=getattr(source, "throughput", None),
            attr=source.attr,
            global_indexes=indexes,
            indexes=[],
            streams=source.stream_specification,
            billing_mode=source.billing_mode,
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
        for item in source.all_items():
            target.put_item(item.to_json()["Attributes"])
        with self._lock:
            self.groups.setdefault(table, {region}).add(new_region)
        self.ground_truth.record("dynamodb_replica", table=table, region=new_region, status="ACTIVE")

    def remove_replica(self, table: str, region: str) -> None:
        """DeleteTableReplica: the replica and its items leave `region`; nothing replicates to or from it."""
        with self._lock:
            group = self.groups.get(table, set())
            group.discard(region)
            if len(group) < 2:
                self.groups.pop(table, None)
        self.backend_for(region).tables.pop(table, None)
        self.ground_truth.record("dynamodb_replica", table=table, region=region, status="DELETED")

    def table_deleted(self, table: str, region: str) -> None:
        """DeleteTable of a replica: that region leaves the global table (the others keep replicating)."""
        with self._lock:
            if region not in self.groups.get(table, set()):
                return
        self.remove_replica(table, region)

    def written(self, region: str, table_name: str, key: dict[str, Any]) -> None:
        """A write through `region`'s API: the item as it is now travels to every other replica."""
        with self._lock:
            others = self.groups.get(table_name, set()) - {region}
        if region not in self.groups.get(table_name, set()) or not others:
            return
        table = self.backend_for(region).get_table(table_name)
        key_names = table.table_key_attrs
        item = table.get_item(*_key_values(table, key))
        image = item.to_json()["Attributes"] if item is not None else None
        item_key = _key_of(key, key_names)
        now = time.time()
        with self._lock:
            self._written[(region, table_name, item_key)] = now
        due = now + self.lags.get(table_name, DEFAULT_TABLE_LAG)
        for other in sorted(others):
            self.timer.at(due, functools.partial(self._apply, table_name, region, other, key, item_key, image, now))

    def _apply(
        self, table_name: str, source: str, region: str, key: dict[str, Any], item_key: str, image: Any, written_at: float
    ) -> None:
        with self._lock:
            if region not in self.groups.get(table_name, set()) or source not in self.groups.get(table_name, set()):
                return  # the replica was removed while the write was on its way
            if self._written.get((region, table_name, item_key), 0.0) > written_at:
                return  # last writer wins: the replica holds a newer write of this item
            self._written[(region, table_name, item_key)] = written_at
            table = self.backend_for(region).get_table(table_name)
            if image is None:
                table.delete_item(*_key_values(table, key))
            else:
                table.put_item(image)
        self.ground_truth.record(
            "dynamodb_replicated",
            table=table_name,
            key=item_key,
            source_region=source,
            region=region,
            deleted=image is None,
            written_at=written_at,
        )


def _key_values(table: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return DynamoType(key[table.hash_key_attr]), range_value


# -- S3 Cross-Region Replication -----------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One rule of a bucket's replication configuration, as moto keeps it (the request's XML as a dict)."""

    id: str
    priority: int
    enabled: bool
    prefix: str
    destination: str  # the destination bucket's name
    delete_markers: bool

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Rule:
        filter_ = raw.get("Filter") or {}
        prefix = filter_.get("Prefix") if "Prefix" in filter_ else (filter_.get("And") or {}).get("Prefix", raw.get("Prefix"))
        destination = str((raw.get("Destination") or {}).get("Bucket", ""))
        return cls(
            id=str(raw.get("ID", "")),
            priority=int(raw.get("Priority") or 0),
            enabled=raw.get("Status") == "Enabled",
            prefix=prefix or "",
            destination=destination.removeprefix("arn:aws:s3:::"),
            delete_markers=(raw.get("DeleteMarkerReplication") or {}).get("Status") == "Enabled",
        )


def rules_of(bucket: Any) -> tuple[str, list[Rule]]:
    """A bucket's replication role and its rules (none without a configuration)."""
    configuration = getattr(bucket, "replication", None)
    if not configuration:
        return "", []
    raw_rules = configuration.get("Rule") or []
    listed = [raw_rules] if isinstance(raw_rules, dict) else raw_rules
    return str(configuration.get("Role", "")), [Rule.parse(r) for r in listed]


def rule_for(bucket: Any, key: str) -> tuple[str, Rule | None]:
    """The rule that decides for an object: the highest-priority rule whose filter prefix the key starts with."""
    role, rules = rules_of(bucket)
    matching = sorted((r for r in rules if key.startswith(r.prefix)), key=lambda r: -r.priority)
    return role, matching[0] if matching else None


@dataclass
class BucketReplication:
    """S3 replication: the objects on their way and their ReplicationStatus."""

    s3: Callable[[], Any]  # moto's S3 backend (one for the partition: buckets know their region)
    iam: Callable[[], Any]  # moto's IAM backend
    ground_truth: GroundTruth
    timer: Timer
    lags: dict[str, float] = field(default_factory=dict)  # source bucket -> replication lag (the stack spec's knob)
    replicating: threading.local = field(default_factory=threading.local)  # set while S3 itself writes a replica

    def configure(self, bucket: str, lag_seconds: float) -> None:
        self.lags[bucket] = lag_seconds

    def object_written(self, bucket_name: str, key: Any) -> None:
        """PutObject (or CopyObject, CompleteMultipartUpload) in a source bucket: PENDING if a rule covers it."""
        covering = self._covering(bucket_name, key.name)
        if covering is None:
            return  # not eligible: no x-amz-replication-status at all
        key.lab_replication_status = "PENDING"
        role, rule = covering
        self._after_lag(bucket_name, lambda written_at: self._replicate(bucket_name, key, role, rule, written_at))

    def delete_marker_written(self, bucket_name: str, key_name: str) -> None:
        """DeleteObject without a version id created a delete marker: replicated only if the rule says Enabled."""
        covering = self._covering(bucket_name, key_name, delete_marker=True)
        if covering is not None:
            role, rule = covering
            self._after_lag(
                bucket_name, lambda written_at: self._replicate_delete_marker(bucket_name, key_name, role, rule, written_at)
            )

    def _covering(self, bucket_name: str, key_name: str, delete_marker: bool = False) -> tuple[str, Rule] | None:
        """The role and rule that replicate a write of ``key_name``; None when S3 does not replicate it (no enabled
        rule covers it, a delete marker the rule leaves behind, or the write is S3's own replica)."""
        if getattr(self.replicating, "active", False):
            return None
        role, rule = rule_for(self.s3().get_bucket(bucket_name), key_name)
        if rule is None or not rule.enabled or (delete_marker and not rule.delete_markers):
            return None
        return role, rule

    def _after_lag(self, bucket_name: str, replicate: Callable[[float], None]) -> None:
        """``replicate(written_at)`` once the bucket's replication lag has passed since now, the write's instant."""
        written_at = time.time()
        self.timer.at(written_at + self.lags.get(bucket_name, DEFAULT_BUCKET_LAG), lambda: replicate(written_at))

    @contextlib.contextmanager
    def _replica_write(self) -> Iterator[None]:
        """S3 writing a replica: a write that no rule replicates again."""
        self.replicating.active = True
        try:
            yield
        finally:
            self.replicating.active = False

    def failure(self, role_arn: str, destination: str) -> str | None:
        """Why S3 cannot replicate into `destination` with `role_arn` now (AWS's failure reason), or None."""
        if not self._role_trusts_s3(role_arn):
            return "AssumeRoleNotPermitted"
        try:
            bucket = self.s3().get_bucket(destination)
        except Exception:  # noqa: BLE001 moto's MissingBucket
            return "DstBucketNotFound"
        if bucket.versioning_status != "Enabled":
            return "DstBucketUnversioned"
        if _denies(bucket.policy, role_arn, destination):
            return "DstPutObjectNotPermitted"
        return None

    def _role_trusts_s3(self, role_arn: str) -> bool:
        try:
            role = self.iam().get_role(role_arn.rsplit("/", 1)[-1])
        except Exception:  # noqa: BLE001 moto's NotFoundException: the role does not exist
            return False
        if role.arn != role_arn:
            return False
        trust = json.loads(role.assume_role_policy_document)
        for statement in _statements(trust):
            services = (statement.get("Principal") or {}).get("Service", [])
            services = [services] if isinstance(services, str) else services
            if statement.get("Effect") == "Allow" and "s3.amazonaws.com" in services:
                return True
        return False

    def _replicate(self, bucket_name: str, key: Any, role: str, rule: Rule, written_at: float) -> None:
        reason = self.failure(role, rule.destination)
        about = {"bucket": bucket_name, "key": key.name, "version_id": key.version_id, "rule": rule.id, "written_at": written_at}
        if reason is not None:
            key.lab_replication_status = "FAILED"
            self.ground_truth.record("s3_replication_failed", **about, reason=reason)
            return
        with self._replica_write():
            replica = self.s3().put_object(
                rule.destination, key.name, key.value, storage=key.storage_class, disable_notification=False
            )
        replica._version_id = key.version_id  # the replica keeps the source's version id, as in S3
        replica._metadata.update(key.metadata)
        replica.lab_replication_status = "REPLICA"
        key.lab_replication_status = "COMPLETED"
        self.ground_truth.record("s3_replicated", **about, destination=rule.destination)

    def _replicate_delete_marker(self, bucket_name: str, key_name: str, role: str, rule: Rule, written_at: float) -> None:
        if self.failure(role, rule.destination) is not None:
            return
        with self._replica_write():
            self.s3().delete_object(rule.destination, key_name)
        self.ground_truth.record(
            "s3_delete_marker_replicated", bucket=bucket_name, destination=rule.destination, key=key_name, written_at=written_at
        )


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy.get("Statement") or []
    return [statements] if isinstance(statements, dict) else list(statements)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _denies(policy: bytes | None, role_arn: str, destination: str) -> bool:
    """An explicit Deny of s3:ReplicateObject to the role (or everyone, or its account) on the destination's objects."""
    if not policy:
        return False
    account_root = f"arn:aws:iam::{role_arn.split(':')[4]}:root" if role_arn.count(":") >= 5 else ""
    for statement in _statements(json.loads(policy)):
        if statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        principals = ["*"] if principal == "*" else _listed((principal or {}).get("AWS"))
        if not any(p in ("*", role_arn, account_root) for p in principals):
            continue
        actions = _listed(statement.get("Action"))
        resources = _listed(statement.get("Resource"))
        if any(fnmatch.fnmatchcase(REPLICATE_OBJECT, a) for a in actions) and any(
            fnmatch.fnmatchcase(f"arn:aws:s3:::{destination}/x", r) for r in resources
        ):
            return True
    return False


class Replication:
    """The lab's replication physics: both stores, one timer."""

    def __init__(
        self, dynamodb_for: Callable[[str], Any], s3: Callable[[], Any], iam: Callable[[], Any], ground_truth: GroundTruth
    ):
        self.timer = Timer("replication")
        self.tables = GlobalTables(dynamodb_for, ground_truth, self.timer)
        self.buckets = BucketReplication(s3, iam, ground_truth, self.timer)

    def start(self) -> None:
        CURRENT[0] = self
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        if CURRENT[0] is self:
            CURRENT[0] = None


CURRENT: list[Replication | None] = [None]  # the running lab's replication (moto's patches find it here)
