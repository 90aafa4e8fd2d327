"""The lab writes DynamoDB's plain-JSON answers with json.dumps (drillkit_lab.extensions.serialize_dynamodb_items_as_json):
every operation drillkit and the lab use answers exactly as moto's own serializer answers it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoHandler

from drillkit_lab.extensions import serialize_dynamodb_items_as_json

TABLE = "answers"
KEY = {"pk": {"S": "drill"}, "sk": {"S": "RECORD"}}
RECORD = {
    **KEY,
    "whole": {"N": "42"},
    "fraction": {"N": "3.14159"},
    "large": {"N": "12345678901234567890.5"},
    "negative": {"N": "-0.001"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "words": {"S": 'quotes " and \\ slashes, a newline\n, unicode: é → 🛟'},
    "empty_text": {"S": ""},
    "readings": {"L": [{"M": {"t": {"N": "1.5"}, "ok": {"BOOL": False}}}, {"L": [{"S": "x"}, {"NULL": True}]}]},
    "piece": {"M": {"nested": {"M": {"deep": {"SS": ["a", "b"]}, "counts": {"NS": ["1", "2.5"]}}}, "empty": {"M": {}}}},
    "empty_list": {"L": []},
}
BINARY = {"pk": {"S": "drill"}, "sk": {"S": "UNDO#001"}, "blob": {"B": b"\x00\x01\xff"}, "blobs": {"BS": [b"a", b"\x02"]}}

# Each operation as drillkit or the lab calls it, and the variants a reader would use.
Operation = Callable[[Any], dict[str, Any]]
OPERATIONS: dict[str, Operation] = {
    "get_item": lambda db: db.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True),
    "get_item_projected": lambda db: db.get_item(
        TableName=TABLE, Key=KEY, ProjectionExpression="#p, piece.nested, readings[0]", ExpressionAttributeNames={"#p": "flag"}
    ),
    "get_item_missing": lambda db: db.get_item(TableName=TABLE, Key={"pk": {"S": "none"}, "sk": {"S": "RECORD"}}),
    "get_item_binary": lambda db: db.get_item(TableName=TABLE, Key={"pk": {"S": "drill"}, "sk": {"S": "UNDO#001"}}),
    "get_item_capacity": lambda db: db.get_item(TableName=TABLE, Key=KEY, ReturnConsumedCapacity="TOTAL"),
    "query": lambda db: db.query(
        TableName=TABLE, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "drill"}}
    ),
    "query_page": lambda db: db.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
        ExpressionAttributeValues={":pk": {"S": "drill"}, ":r": {"S": "R"}},
        Limit=1,
        ScanIndexForward=False,
        ReturnConsumedCapacity="TOTAL",
    ),
    "scan": lambda db: db.scan(TableName=TABLE),
    "scan_count": lambda db: db.scan(TableName=TABLE, Select="COUNT"),
    "batch_get_item": lambda db: db.batch_get_item(RequestItems={TABLE: {"Keys": [KEY], "ConsistentRead": True}}),
    "transact_get_items": lambda db: db.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": KEY}}]),
    "update_item_all_new": lambda db: db.update_item(
        TableName=TABLE,
        Key=KEY,
        UpdateExpression="SET #phase = :p, piece.nested.added = :m",
        ExpressionAttributeNames={"#phase": "phase"},
        ExpressionAttributeValues={":p": {"S": "observe"}, ":m": {"M": {"t": {"N": "7"}}}},
        ReturnValues="ALL_NEW",
    ),
    "update_item_updated_old": lambda db: db.update_item(
        TableName=TABLE,
        Key=KEY,
        UpdateExpression="SET whole = :w",
        ExpressionAttributeValues={":w": {"N": "43"}},
        ReturnValues="UPDATED_OLD",
    ),
    "update_item_none": lambda db: db.update_item(
        TableName=TABLE, Key=KEY, UpdateExpression="REMOVE nothing", ReturnValues="NONE"
    ),
    "put_item_all_old": lambda db: db.put_item(TableName=TABLE, Item={**RECORD, "whole": {"N": "1"}}, ReturnValues="ALL_OLD"),
    "conditional_put_refused": lambda db: _error(
        lambda: db.put_item(TableName=TABLE, Item=RECORD, ConditionExpression="attribute_not_exists(pk)")
    ),
    "delete_item_all_old": lambda db: db.delete_item(TableName=TABLE, Key=KEY, ReturnValues="ALL_OLD"),
    "describe_table": lambda db: db.describe_table(TableName=TABLE),
}


def _error(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        call()
    except ClientError as error:
        return {"Error": error.response["Error"], "Status": error.response["ResponseMetadata"]["HTTPStatusCode"]}
    raise AssertionError("the call was expected to fail")


def _answers(serialized_by_moto: list[str]) -> dict[str, Any]:
    """Every operation's answer, in order, on a fresh account, without the request metadata (the spy's list holds
    the operations' own serializations only)."""
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        db.put_item(TableName=TABLE, Item=RECORD)
        db.put_item(TableName=TABLE, Item=BINARY)
        serialized_by_moto.clear()
        answers = {}
        for name, call in OPERATIONS.items():
            answer = call(db)
            answer.pop("ResponseMetadata", None)
            for varying in ("TableId", "CreationDateTime"):  # a new table's own, different in each account
                answer.get("Table", {}).pop(varying, None)
            answers[name] = answer
        return answers


def test_every_operation_answers_as_motos_serializer_answers_it(monkeypatch: pytest.MonkeyPatch):
    # Given the lab's writer installed, and a spy on what still reaches moto's serializer
    serialize_dynamodb_items_as_json()
    serialized_by_moto: list[str] = []
    execute = ActionResult.execute_result

    def spy(self: ActionResult, context: Any) -> Any:
        if self.result:
            serialized_by_moto.append(str(context.operation_model.name))
        return execute(self, context)

    monkeypatch.setattr(ActionResult, "execute_result", spy)

    # When every operation runs with it, then again with moto's serializer alone
    fast = _answers(serialized_by_moto)
    by_moto_with_the_writer = sorted(serialized_by_moto)
    monkeypatch.setattr(DynamoHandler, "serialized", DynamoHandler.serialized.moto_serialized)  # type: ignore[attr-defined]
    slow = _answers(serialized_by_moto)

    # Then each answer is the same, item by item
    for name in OPERATIONS:
        assert fast[name] == slow[name], name
    # and the answers were written by json.dumps but for those moto's serializer must write: the binary item's (its
    # GetItem, the Query and Scan that return it), the table's description (timestamps) and the DeleteItem whose
    # answer carries a key that is not DeleteItem's (moto's serializer drops it); moto answers the refused write
    # (an error) without either
    assert by_moto_with_the_writer == ["DeleteItem", "DescribeTable", "GetItem", "Query", "Scan"]
    for by_json in ("BatchGetItem", "TransactGetItems", "UpdateItem"):  # (the spy sees them without the writer)
        assert by_json in serialized_by_moto
