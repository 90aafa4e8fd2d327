"""DynamoDB ledger: the drill record, the environment lock and write-ahead undo records.

The only module that knows the table's keys. pk/sk strings in one table:
  ENV#<environment>  LOCK            who holds the environment and until when
  DRILL#<id>         RECORD          the DrillRecord (drillkit.record), one attribute per step's piece
  DRILL#<id>         UNDO#<nnn>      prior state of one change, written before the change
  ENV#<environment>  UNLOCK#<time>   audit: a stale lock released by hand (`drillkit unlock`), by whom and why
RECORD items also carry ``listing`` and ``started_at``, the keys of the RECENT_INDEX that `drillkit list` reads.
Every call goes through aws.aws_call: throttling becomes TransientError (retried by the machine), anything
else AwsCallFailed naming the item; a failed condition is answered here, by name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from drillkit import aws, clock
from drillkit.errors import AwsCallFailed, DrillNotFound, DrillStateInvalid, EnvironmentLocked
from drillkit.model import UndoRecord, UndoStatus
from drillkit.record import STEP_PIECES, DrillProgress, DrillRecord, Phase, Step

UNDO_PENDING: Final = "pending"  # recorded, change may or may not have happened
UNDO_APPLIED: Final = "applied"  # change acknowledged
UNDO_RESTORED: Final = "restored"

RECENT_INDEX = "recent-drills"  # template.yaml LedgerTable: partition ``listing``, sort ``started_at``
_LISTED = "DRILL"
_CONDITION_FAILED = "ConditionalCheckFailedException"
_RECORD_KEYS = ("pk", "sk", "listing", "started_at")


def _plain(value: Any) -> Any:
    """DynamoDB returns Decimals; hand back JSON-friendly numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _stored(value: Any) -> Any:
    return json.loads(json.dumps(value), parse_float=Decimal)


def _record_key(drill_id: str) -> dict[str, str]:
    return {"pk": f"DRILL#{drill_id}", "sk": "RECORD"}


def _lock_key(environment: str) -> dict[str, str]:
    return {"pk": f"ENV#{environment}", "sk": "LOCK"}


def _undo_key(drill_id: str, seq: int) -> dict[str, str]:
    return {"pk": f"DRILL#{drill_id}", "sk": f"UNDO#{seq:03d}"}


def _problems(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())


def _undo_record(drill_id: str, item: dict[str, Any]) -> UndoRecord:
    """An undo item as its model; one that does not read is named, never replayed half-understood."""
    try:
        return UndoRecord.model_validate(_plain(item))
    except ValidationError as error:
        raise DrillStateInvalid(f"drill {drill_id}: undo record {item.get('sk')}: {_problems(error)}") from None


@contextmanager
def _unless_condition_failed(operation: str, resource_id: str) -> Iterator[list[bool]]:
    """aws_call, except that a failed ConditionExpression is an answer, not an error: yields [False] then."""
    answer = [True]
    try:
        with aws.aws_call(operation, resource_id):
            yield answer
    except AwsCallFailed as error:
        if error.code != _CONDITION_FAILED:
            raise
        answer[0] = False


def _record_of(item: dict[str, Any]) -> DrillRecord:
    try:
        return DrillRecord.model_validate({k: v for k, v in _plain(item).items() if k not in _RECORD_KEYS})
    except ValidationError as error:
        raise DrillStateInvalid(f"drill record {item.get('pk')} does not read as a DrillRecord: {_problems(error)}") from None


class Ledger:
    def __init__(self, table_name: str, dynamodb: Any | None = None):
        """``dynamodb``: a boto3 DynamoDB resource (the CLI's, on a deployment's session); default drillkit.aws's."""
        self.table_name = table_name
        self.table = dynamodb.Table(table_name) if dynamodb is not None else aws.resource_table(table_name)

    # -- environment lock -------------------------------------------------
    def acquire_lock(self, environment: str, drill_id: str, ttl_seconds: int) -> None:
        now = clock.now()
        item = {**_lock_key(environment), "drill_id": drill_id, "acquired_at": now, "expires_at": now + ttl_seconds}
        with _unless_condition_failed("PutItem", f"{self.table_name} lock {environment}") as taken:
            self.table.put_item(
                Item=_stored(item),
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR drill_id = :me",
                ExpressionAttributeValues={":now": _stored(now), ":me": drill_id},
            )
        if not taken[0]:
            holder = self.lock_holder(environment) or {}
            raise EnvironmentLocked(
                f"environment {environment} is locked by drill {holder.get('drill_id', '?')} "
                f"until {clock.iso(holder.get('expires_at'))}"
            )

    def lock_holder(self, environment: str) -> dict[str, Any] | None:
        with aws.aws_call("GetItem", f"{self.table_name} lock {environment}"):
            item = self.table.get_item(Key=_lock_key(environment), ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def release_lock(self, environment: str, drill_id: str) -> bool:
        """False when the lock is not this drill's (expired and taken by another, or released already)."""
        with _unless_condition_failed("DeleteItem", f"{self.table_name} lock {environment}") as released:
            self.table.delete_item(
                Key=_lock_key(environment),
                ConditionExpression="drill_id = :me",
                ExpressionAttributeValues={":me": drill_id},
            )
        return released[0]

    def release_stale_lock(self, environment: str, drill_id: str, by: str, reason: str, why_stale: str) -> dict[str, Any]:
        """Release a lock by hand (the caller checked that its drill no longer runs), and keep an audit item of it.

        The lock is deleted only if ``drill_id`` still holds it, so a lock a new drill took meanwhile stays.
        Returns the audit item; raises EnvironmentLocked when the lock changed hands.
        """
        now = clock.now()
        audit = {
            "pk": f"ENV#{environment}",
            "sk": f"UNLOCK#{clock.iso(now)}#{drill_id}",
            "environment": environment,
            "drill_id": drill_id,
            "released_at": now,
            "released_by": by,
            "reason": reason,
            "why_stale": why_stale,
        }
        with _unless_condition_failed("DeleteItem", f"{self.table_name} lock {environment}") as released:
            self.table.delete_item(
                Key=_lock_key(environment),
                ConditionExpression="drill_id = :holder",
                ExpressionAttributeValues={":holder": drill_id},
            )
        if not released[0]:
            raise EnvironmentLocked(f"the lock on {environment} is no longer held by drill {drill_id}; nothing released")
        with aws.aws_call("PutItem", f"{self.table_name} unlock audit {environment}"):
            self.table.put_item(Item=_stored(audit))
        return _plain(_stored(audit))

    def unlock_audit(self, environment: str) -> list[dict[str, Any]]:
        """Every lock of ``environment`` released by hand, oldest first."""
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :unlock)",
            "ExpressionAttributeValues": {":pk": f"ENV#{environment}", ":unlock": "UNLOCK#"},
            "ConsistentRead": True,
        }
        while True:
            with aws.aws_call("Query", f"{self.table_name} unlock audit {environment}"):
                page = self.table.query(**query)
            items.extend(_plain(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- drill record -----------------------------------------------------
    def create(self, record: DrillRecord) -> None:
        """Write a new record (preflight); a retried preflight writes the same one again."""
        item = {
            **_record_key(record.drill_id),
            "listing": _LISTED,
            "started_at": record.context.started_at,
            **record.model_dump(mode="json"),
        }
        with aws.aws_call("PutItem", f"{self.table_name} drill {record.drill_id}"):
            self.table.put_item(Item=_stored(item))

    def load(self, drill_id: str) -> DrillRecord | None:
        with aws.aws_call("GetItem", f"{self.table_name} drill {drill_id}"):
            item = self.table.get_item(Key=_record_key(drill_id), ConsistentRead=True).get("Item")
        return _record_of(item) if item else None

    def progress(self, drill_id: str) -> DrillProgress | None:
        """The phase, injection time and milestones alone (None before preflight wrote the record).

        What a follower polls every half second: a projection, so that neither side handles the whole record
        (tens of kilobytes of readings by the end) for three attributes of it.
        """
        with aws.aws_call("GetItem", f"{self.table_name} drill {drill_id}"):
            item = self.table.get_item(
                Key=_record_key(drill_id),
                ConsistentRead=True,
                # The whole injection piece (a few hundred bytes): moto fails a nested path into a NULL attribute.
                ProjectionExpression="#phase, injection, milestones",
                ExpressionAttributeNames={"#phase": "phase"},
            ).get("Item")
        if not item:
            return None
        plain = _plain(item)
        try:
            return DrillProgress(
                phase=plain.get("phase", Phase.PREFLIGHT),
                injected_at=(plain.get("injection") or {}).get("t_inject"),
                milestones=plain.get("milestones") or {},
            )
        except ValidationError as error:
            pk = _record_key(drill_id)["pk"]
            raise DrillStateInvalid(f"drill record {pk}: its progress does not read: {_problems(error)}") from None

    def require(self, drill_id: str) -> DrillRecord:
        """The record, or DrillNotFound naming the id."""
        record = self.load(drill_id)
        if record is None:
            raise DrillNotFound(f"drill_id: no drill {drill_id} in ledger {self.table_name}")
        return record

    def save_step(self, drill_id: str, step: Step, piece: BaseModel, *, phase: Phase | None = None) -> None:
        """Set one step's piece (and the phase it leads to) and nothing else: other writers' pieces stay as they are."""
        expected = STEP_PIECES[step]
        if not isinstance(piece, expected):
            raise DrillStateInvalid(f"{step}: expected a {expected.__name__}, got a {type(piece).__name__}")
        self._set(drill_id, {step: piece.model_dump(mode="json"), **({"phase": phase.value} if phase else {})})

    def set_phase(self, drill_id: str, phase: Phase) -> None:
        self._set(drill_id, {"phase": phase.value})

    def enter(self, drill_id: str, phase: Phase) -> DrillRecord:
        """A step starts: write its phase and read the whole record back, in one call."""
        return _record_of(self._set(drill_id, {"phase": phase.value}, return_record=True))

    def finish(self, drill_id: str, verdict: str, report_key: str) -> None:
        self._set(drill_id, {"phase": Phase.DONE.value, "verdict": verdict, "report_key": report_key})

    def record_milestone(self, drill_id: str, name: str, t: float) -> None:
        with aws.aws_call("UpdateItem", f"{self.table_name} drill {drill_id}"):
            self.table.update_item(
                Key=_record_key(drill_id),
                UpdateExpression="SET milestones.#m = :t",
                ExpressionAttributeNames={"#m": name},
                ExpressionAttributeValues={":t": _stored(t)},
            )

    def decide_approval(self, drill_id: str, decision: str, by: str, at: float, reason: str) -> bool:
        """Record a pending approval's decision; False when it was no longer pending (two people answered at once)."""
        with _unless_condition_failed("UpdateItem", f"{self.table_name} drill {drill_id}") as decided:
            self.table.update_item(
                Key=_record_key(drill_id),
                UpdateExpression="SET approval.#s = :decision, approval.decided_by = :by, approval.decided_at = :at, "
                "approval.reason = :reason",
                ConditionExpression="approval.#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_stored(
                    {":decision": decision, ":by": by, ":at": at, ":reason": reason, ":pending": "pending"}
                ),
            )
        return decided[0]

    def recent(self, limit: int) -> list[DrillRecord]:
        """The newest drills first, running ones included (by when preflight started them)."""
        records: list[DrillRecord] = []
        query: dict[str, Any] = {
            "IndexName": RECENT_INDEX,
            "KeyConditionExpression": "listing = :drills",
            "ExpressionAttributeValues": {":drills": _LISTED},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        while len(records) < limit:
            with aws.aws_call("Query", f"{self.table_name} index {RECENT_INDEX}"):
                page = self.table.query(**query)
            records.extend(_record_of(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return records[:limit]

    def _set(self, drill_id: str, fields: dict[str, Any], return_record: bool = False) -> dict[str, Any]:
        # The condition keeps a stray write (a drill id that never got a record) from creating a partial one.
        answer: dict[str, Any] = {}
        with _unless_condition_failed("UpdateItem", f"{self.table_name} drill {drill_id}") as found:
            answer = self.table.update_item(
                Key=_record_key(drill_id),
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={f"#{k}": k for k in fields},
                ExpressionAttributeValues={f":{k}": _stored(v) for k, v in fields.items()},
                ReturnValues="ALL_NEW" if return_record else "NONE",
            )
        if not found[0]:
            raise DrillNotFound(f"drill_id: no drill {drill_id} in ledger {self.table_name} to save {', '.join(fields)} to")
        return dict(answer.get("Attributes") or {})

    # -- write-ahead undo records ----------------------------------------
    def put_undo(
        self, drill_id: str, seq: int, *, fault: str, resource_id: str, prior: dict[str, Any], method: str | None = None
    ) -> UndoRecord:
        """Write the undo record once; a retried injection gets the first one back."""
        now = clock.now()
        record = UndoRecord(
            seq=seq, fault=fault, method=method, resource_id=resource_id, prior=prior, status=UNDO_PENDING, recorded_at=now
        )
        item = {**_undo_key(drill_id, seq), **record.model_dump(mode="json", exclude_none=True)}
        with _unless_condition_failed("PutItem", f"{self.table_name} drill {drill_id} undo {seq}"):
            self.table.put_item(Item=_stored(item), ConditionExpression="attribute_not_exists(pk)")
        return self.get_undo(drill_id, seq)

    def get_undo(self, drill_id: str, seq: int) -> UndoRecord:
        with aws.aws_call("GetItem", f"{self.table_name} drill {drill_id} undo {seq}"):
            item = self.table.get_item(Key=_undo_key(drill_id, seq), ConsistentRead=True)
        return _undo_record(drill_id, item["Item"])

    def list_undo(self, drill_id: str) -> list[UndoRecord]:
        items: list[UndoRecord] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :undo)",
            "ExpressionAttributeValues": {":pk": _record_key(drill_id)["pk"], ":undo": "UNDO#"},
            "ConsistentRead": True,
        }
        while True:
            with aws.aws_call("Query", f"{self.table_name} drill {drill_id} undo records"):
                page = self.table.query(**query)
            items.extend(_undo_record(drill_id, i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda i: i.seq)
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def mark_undo(
        self, drill_id: str, seq: int, status: UndoStatus, applied_at: float | None = None, restored_at: float | None = None
    ) -> None:
        fields: dict[str, Any] = {"status": status, "applied_at": applied_at, "restored_at": restored_at}
        fields = {key: value for key, value in fields.items() if value is not None}
        with aws.aws_call("UpdateItem", f"{self.table_name} drill {drill_id} undo {seq}"):
            self.table.update_item(
                Key=_undo_key(drill_id, seq),
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
                ExpressionAttributeNames={f"#{k}": k for k in fields},
                ExpressionAttributeValues={f":{k}": _stored(v) for k, v in fields.items()},
            )
