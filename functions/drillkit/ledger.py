"""DynamoDB ledger: drill records, the environment lock and write-ahead undo records.

Keys: pk/sk strings in one table.
  ENV#<environment>  LOCK            who holds the environment and until when
  DRILL#<id>         RECORD          phase, milestones, verdict (the CLI polls this)
  DRILL#<id>         UNDO#<nnn>      prior state of one change, written before the change
  ENV#<environment>  UNLOCK#<time>   audit: a stale lock released by hand (`drillkit unlock`), by whom and why
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from drillkit import aws, clock
from drillkit.errors import EnvironmentLocked

UNDO_PENDING = "pending"  # recorded, change may or may not have happened
UNDO_APPLIED = "applied"  # change acknowledged
UNDO_RESTORED = "restored"


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


class Ledger:
    def __init__(self, table_name: str, table: Any | None = None):
        """``table``: a DynamoDB Table resource of the caller's own session (the CLI's); default drillkit.aws's."""
        self.table_name = table_name
        self.table = table if table is not None else aws.resource_table(table_name)

    # -- environment lock -------------------------------------------------
    def acquire_lock(self, environment: str, drill_id: str, ttl_seconds: int) -> None:
        now = clock.now()
        try:
            with_condition = {
                "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now OR drill_id = :me",
                "ExpressionAttributeValues": {":now": _stored(now), ":me": drill_id},
            }
            self.table.put_item(
                Item=_stored(
                    {
                        "pk": f"ENV#{environment}",
                        "sk": "LOCK",
                        "drill_id": drill_id,
                        "acquired_at": now,
                        "expires_at": now + ttl_seconds,
                    }
                ),
                **with_condition,
            )
        except ClientError as error:
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise
            holder = self.lock_holder(environment) or {}
            raise EnvironmentLocked(
                f"environment {environment} is locked by drill {holder.get('drill_id', '?')} "
                f"until {clock.iso(holder.get('expires_at'))}"
            ) from None

    def lock_holder(self, environment: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": f"ENV#{environment}", "sk": "LOCK"}, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def release_lock(self, environment: str, drill_id: str) -> bool:
        try:
            self.table.delete_item(
                Key={"pk": f"ENV#{environment}", "sk": "LOCK"},
                ConditionExpression="drill_id = :me",
                ExpressionAttributeValues={":me": drill_id},
            )
            return True
        except ClientError as error:
            if aws.error_code(error) == "ConditionalCheckFailedException":
                return False
            raise

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
        try:
            self.table.delete_item(
                Key={"pk": f"ENV#{environment}", "sk": "LOCK"},
                ConditionExpression="drill_id = :holder",
                ExpressionAttributeValues={":holder": drill_id},
            )
        except ClientError as error:
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise
            raise EnvironmentLocked(
                f"the lock on {environment} is no longer held by drill {drill_id}; nothing released"
            ) from None
        self.table.put_item(Item=_stored(audit))
        return _plain(_stored(audit))

    def unlock_audit(self, environment: str) -> list[dict[str, Any]]:
        """Every lock of ``environment`` released by hand, oldest first."""
        page = self.table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :unlock)",
            ExpressionAttributeValues={":pk": f"ENV#{environment}", ":unlock": "UNLOCK#"},
            ConsistentRead=True,
        )
        items = [_plain(i) for i in page.get("Items", [])]
        while "LastEvaluatedKey" in page:
            page = self.table.query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :unlock)",
                ExpressionAttributeValues={":pk": f"ENV#{environment}", ":unlock": "UNLOCK#"},
                ConsistentRead=True,
                ExclusiveStartKey=page["LastEvaluatedKey"],
            )
            items.extend(_plain(i) for i in page.get("Items", []))
        return items

    # -- drill record -----------------------------------------------------
    def create_drill(self, drill_id: str, fields: dict[str, Any]) -> None:
        self.table.put_item(Item=_stored({"pk": f"DRILL#{drill_id}", "sk": "RECORD", **fields}))

    def update_drill(self, drill_id: str, **fields: Any) -> None:
        names = {f"#{k}": k for k in fields}
        values = {f":{k}": _stored(v) for k, v in fields.items()}
        self.table.update_item(
            Key={"pk": f"DRILL#{drill_id}", "sk": "RECORD"},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def record_milestone(self, drill_id: str, name: str, t: float) -> None:
        self.table.update_item(
            Key={"pk": f"DRILL#{drill_id}", "sk": "RECORD"},
            UpdateExpression="SET milestones.#m = :t",
            ExpressionAttributeNames={"#m": name},
            ExpressionAttributeValues={":t": _stored(t)},
        )

    def get_drill(self, drill_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": f"DRILL#{drill_id}", "sk": "RECORD"}, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    # -- write-ahead undo records ----------------------------------------
    def put_undo(self, drill_id: str, seq: int, record: dict[str, Any]) -> dict[str, Any]:
        """Write the undo record once; a retried injection gets the first one back."""
        key = {"pk": f"DRILL#{drill_id}", "sk": f"UNDO#{seq:03d}"}
        try:
            self.table.put_item(
                Item=_stored({**key, **record, "seq": seq, "status": UNDO_PENDING, "recorded_at": clock.now()}),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if aws.error_code(error) != "ConditionalCheckFailedException":
                raise
        return self.get_undo(drill_id, seq)

    def get_undo(self, drill_id: str, seq: int) -> dict[str, Any]:
        item = self.table.get_item(Key={"pk": f"DRILL#{drill_id}", "sk": f"UNDO#{seq:03d}"}, ConsistentRead=True)
        return _plain(item["Item"])

    def list_undo(self, drill_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :undo)",
            "ExpressionAttributeValues": {":pk": f"DRILL#{drill_id}", ":undo": "UNDO#"},
            "ConsistentRead": True,
        }
        while True:
            page = self.table.query(**query)
            items.extend(_plain(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda i: i["seq"])
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def mark_undo(self, drill_id: str, seq: int, status: str, **fields: Any) -> None:
        fields = {"status": status, **fields}
        self.table.update_item(
            Key={"pk": f"DRILL#{drill_id}", "sk": f"UNDO#{seq:03d}"},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            ExpressionAttributeNames={f"#{k}": k for k in fields},
            ExpressionAttributeValues={f":{k}": _stored(v) for k, v in fields.items()},
        )
