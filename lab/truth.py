"""When things really happened, from the lab's ground-truth log: what drillkit's measurements are judged against.

Replication (DynamoDB global tables, S3 replication): `replications` dates each write as it became visible in
the other copy, so a measured recovery point can be compared with the newest write really there at any instant.

The tests of measurement (tests/lab/test_scenarios.py) and the benchmark of its error (benchmarks/ratios.py)
read the same moments through these functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from drillkit_lab.physics.groundtruth import read


def events_since(log: Path, t: float, event: str, **match: Any) -> list[dict[str, Any]]:
    found = [e for e in read(log) if e["event"] == event and e["t"] >= t]
    return [e for e in found if all(e.get(k) == v for k, v in match.items())]


def detection_at(log: Path, lab_info: dict[str, Any], since: float) -> float | None:
    """The primary's health check turned unhealthy (Route 53's own verdict, not a sample of it)."""
    check = lab_info["regions"]["primary"]["health_check_id"]
    return next((e["t"] for e in events_since(log, since, "health_check", id=check, healthy=False)), None)


def dns_cutover_at(log: Path, lab_info: dict[str, Any], since: float) -> float | None:
    """The authoritative DNS server first answered the standby."""
    standby = lab_info["regions"]["standby"]["dns_answer"]
    values = {standby, standby.rstrip(".")}
    return next((e["t"] for e in events_since(log, since, "dns_answer") if e["value"] in values), None)


class Replicated(BaseModel):
    """One write as it became visible in the other region's copy (a DynamoDB replica or an S3 destination)."""

    model_config = ConfigDict(frozen=True)

    store: Literal["dynamodb", "s3"]
    name: str = Field(description="The table, or the source bucket.")
    key: str = Field(description="The item's key (DynamoDB JSON) or the object's key.")
    version_id: str | None = Field(default=None, description="The object's version (S3).")
    destination: str = Field(description="The region the replica is in (DynamoDB) or the destination bucket (S3).")
    deleted: bool = Field(default=False, description="The write was a delete (a DeleteItem, or a replicated delete marker).")
    written_at: float = Field(description="When the write was applied in its own region.")
    visible_at: float = Field(description="When it became visible in the other copy.")

    @property
    def lag(self) -> float:
        return self.visible_at - self.written_at


class ReplicationFailed(BaseModel):
    """An S3 object whose replication FAILED, with the failure reason S3 reports (s3:Replication:OperationFailedReplication)."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    version_id: str | None
    rule: str
    reason: str
    written_at: float
    failed_at: float


def _replicated(e: dict[str, Any]) -> Replicated | None:
    """A replication event of the log as a delivered write; None for every other event."""
    if e["event"] == "dynamodb_replicated":
        store, name, destination, deleted = "dynamodb", e["table"], e["region"], e["deleted"]
    elif e["event"] in ("s3_replicated", "s3_delete_marker_replicated"):
        store, name, destination, deleted = "s3", e["bucket"], e["destination"], e["event"] == "s3_delete_marker_replicated"
    else:
        return None
    return Replicated(
        store=store,
        name=name,
        key=e["key"],
        version_id=e.get("version_id"),
        destination=destination,
        deleted=deleted,
        written_at=e["written_at"],
        visible_at=e["t"],
    )


def replications(log: Path, since: float = 0.0, name: str | None = None) -> list[Replicated]:
    """Every write the replication physics delivered since `since` (of one table or source bucket if named)."""
    found = (_replicated(e) for e in read(log) if e["t"] >= since)
    return [r for r in found if r is not None and (name is None or r.name == name)]


def replication_failures(log: Path, since: float = 0.0, bucket: str | None = None) -> list[ReplicationFailed]:
    return [
        ReplicationFailed(
            bucket=e["bucket"],
            key=e["key"],
            version_id=e["version_id"],
            rule=e["rule"],
            reason=e["reason"],
            written_at=e["written_at"],
            failed_at=e["t"],
        )
        for e in events_since(log, since, "s3_replication_failed")
        if bucket is None or e["bucket"] == bucket
    ]


def newest_visible(log: Path, name: str, at: float) -> Replicated | None:
    """The truth a recovery point is judged against: the newest write of a store visible in the other copy at `at`."""
    visible = [r for r in replications(log, name=name) if r.visible_at <= at and not r.deleted]
    return max(visible, key=lambda r: r.written_at, default=None)
