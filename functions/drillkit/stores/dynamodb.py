"""DynamoDB global tables: the heartbeat item, written through the primary region's replica, read in the standby's.

One item per drill and table, overwritten every sample: partition key ``drillkit-heartbeat#<drill id>`` (and, for a
table with a sort key, sort key ``drillkit-heartbeat``), attributes ``drill_id``, ``seq`` and ``written_at``. Global
tables replicate the newest write of an item (last writer wins), so the standby replica's copy of the item is the
newest heartbeat that reached it: one eventually consistent GetItem there, as a reader in that region would make,
dates when each write became visible. Restore deletes the item in both replicas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drillkit import aws
from drillkit.errors import AwsCallFailed
from drillkit.spec import DynamoDbGlobalTable
from drillkit.stores import removal

KEY_PREFIX = "drillkit-heartbeat#"
SORT_VALUE = "drillkit-heartbeat"
# No table in the standby region (a table that is not global): nothing of the drill is there to read.
ABSENT = frozenset({"ResourceNotFoundException"})


def item_key(store: DynamoDbGlobalTable, drill_id: str) -> dict[str, dict[str, str]]:
    key = {store.partition_key: {"S": KEY_PREFIX + drill_id}}
    if store.sort_key:
        key[store.sort_key] = {"S": SORT_VALUE}
    return key


def _client(region: str, timeout: float | None) -> Any:
    return aws.target_client("dynamodb", region, read_timeout=timeout)


def write(store: DynamoDbGlobalTable, drill_id: str, seq: int, written_at: float, timeout: float) -> None:
    """PutItem in the primary region (the write an application there makes)."""
    item = {
        **item_key(store, drill_id),
        "drill_id": {"S": drill_id},
        "seq": {"N": str(seq)},
        "written_at": {"N": repr(written_at)},
    }
    with aws.aws_call("PutItem", f"{store.table} ({store.primary_region})"):
        _client(store.primary_region, timeout).put_item(TableName=store.table, Item=item)


def read_standby(store: DynamoDbGlobalTable, drill_id: str, timeout: float) -> tuple[int, float] | None:
    """(seq, written_at) of the heartbeat the standby replica holds now, or None: nothing of this drill there."""
    try:
        with aws.aws_call("GetItem", f"{store.table} ({store.standby_region})"):
            found = _client(store.standby_region, timeout).get_item(
                TableName=store.table, Key=item_key(store, drill_id), ConsistentRead=False
            )
    except AwsCallFailed as error:
        if error.code in ABSENT:
            return None
        raise
    item = found.get("Item")
    if not item or "seq" not in item or "written_at" not in item:
        return None
    return int(item["seq"]["N"]), float(item["written_at"]["N"])


def remove(store: DynamoDbGlobalTable, drill_id: str) -> list[str]:
    """Delete the heartbeat item in both replicas (a delete replicates too; the standby's is for a broken replica).

    Returns the problems, each naming the table and region; an item already gone is no problem.
    """

    def delete_in(region: str) -> Callable[[], None]:
        def delete() -> None:
            with aws.aws_call("DeleteItem", f"{store.table} ({region})"):
                _client(region, None).delete_item(TableName=store.table, Key=item_key(store, drill_id))

        return delete

    return removal.problems([delete_in(store.primary_region), delete_in(store.standby_region)], ABSENT)
