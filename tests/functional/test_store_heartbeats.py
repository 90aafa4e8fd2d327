"""The replicated stores' heartbeats against AWS's wire: the DynamoDB and S3 calls pinned, removal leaves nothing."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

from drillkit import aws, clock, stores
from drillkit.readings import StoresSample
from drillkit.stores import dynamodb, s3

from ..reports import BUCKET_STORE as BUCKET
from ..reports import PRIMARY, STANDBY, drill_context, with_stores
from ..reports import TABLE_STORE as TABLE

DRILL = "stores-20261117T000000Z-ab12"


@pytest.fixture
def context_for(scenario_dict):
    def build(*stores_given: dict):
        return drill_context(with_stores(scenario_dict, *stores_given), drill_id=DRILL)

    return build


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: 1_795_000_000.25)


def test_the_table_heartbeat_is_one_put_in_the_primary_and_one_eventually_consistent_get_in_the_standby(
    aws_env, context_for, frozen
):
    # Given a global table store whose standby replica holds an older heartbeat of this drill
    context = context_for(TABLE)
    key = {"pk": {"S": f"drillkit-heartbeat#{DRILL}"}}
    primary, standby = (
        aws.target_client("dynamodb", PRIMARY, read_timeout=5.0),
        aws.target_client("dynamodb", STANDBY, read_timeout=5.0),
    )
    with Stubber(primary) as put, Stubber(standby) as get:
        put.add_response(
            "put_item",
            {},
            {
                "TableName": "payments",
                "Item": {**key, "drill_id": {"S": DRILL}, "seq": {"N": "1795000000250"}, "written_at": {"N": "1795000000.25"}},
            },
        )
        get.add_response(
            "get_item",
            {"Item": {**key, "seq": {"N": "1795000000000"}, "written_at": {"N": "1795000000.0"}}},
            {"TableName": "payments", "Key": key, "ConsistentRead": False},
        )

        # When one sample is taken
        sample = StoresSample.model_validate(stores.sample(context))

        # Then exactly one write and one read were made, and the reading dates what the standby holds
        put.assert_no_pending_responses()
        get.assert_no_pending_responses()
    [reading] = sample.readings
    assert reading.store == "payments" and reading.acked_at is not None and reading.write_error is None
    assert (reading.visible_seq, reading.visible_written_at) == (1795000000000, 1795000000.0)


def test_the_object_heartbeat_reads_the_source_status_then_puts_then_heads_the_destination(aws_env, context_for, frozen):
    # Given a replicated bucket whose last heartbeat FAILED to replicate and whose destination has none
    context = context_for(BUCKET)
    key = f"records/drillkit-heartbeat/{DRILL}"
    source, destination = aws.target_client("s3", PRIMARY, read_timeout=5.0), aws.target_client("s3", STANDBY, read_timeout=5.0)
    with Stubber(source) as src, Stubber(destination) as dst:
        src.add_response("head_object", {"ReplicationStatus": "FAILED"}, {"Bucket": "lab-records", "Key": key})
        src.add_response(
            "put_object",
            {},
            {
                "Bucket": "lab-records",
                "Key": key,
                "Body": ANY,
                "ContentType": "application/json",
                "Metadata": {"drillkit-seq": "1795000000250", "drillkit-written-at": "1795000000.25"},
            },
        )
        dst.add_client_error("head_object", service_error_code="404", http_status_code=404)

        # When one sample is taken
        sample = StoresSample.model_validate(stores.sample(context))

        src.assert_no_pending_responses()
        dst.assert_no_pending_responses()
    # Then the write is acknowledged, its predecessor's FAILED status kept, and nothing is visible in the standby
    [reading] = sample.readings
    assert reading.store == "records" and reading.replication_status == "FAILED"
    assert reading.acked_at is not None and reading.read_at is not None
    assert reading.visible_seq is None and reading.read_error is None


def test_a_write_the_primary_refuses_is_a_steady_state_problem_naming_the_store(aws_env, context_for):
    # Given a table that does not exist in the primary region (moto: ResourceNotFoundException)
    context = context_for(TABLE)

    sample = stores.sample(context)

    assert sample is not None
    [problem] = stores.steady_problems(sample)
    assert problem.startswith(
        "the heartbeat of store payments cannot be written in the primary region: PutItem on payments (us-east-1)"
    )


def _bucket(region: str, name: str) -> None:
    client = boto3.client("s3", region_name=region)
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    client.create_bucket(Bucket=name, **config)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def _table(region: str) -> None:
    boto3.client("dynamodb", region_name=region).create_table(
        TableName="payments",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_restore_removes_every_heartbeat_version_and_replica_and_leaves_other_objects(aws_env, context_for):
    # Given three samples' heartbeats in both buckets and both table replicas (replicas copied by hand, as S3 and
    # DynamoDB would), and an object of the application's under the same prefix
    context = context_for(TABLE, BUCKET)
    _bucket(PRIMARY, "lab-records")
    _bucket(STANDBY, "lab-records-replica")
    _table(PRIMARY)
    _table(STANDBY)
    boto3.client("s3", region_name=PRIMARY).put_object(Bucket="lab-records", Key=f"records/{DRILL}-patient", Body=b"keep")
    for _ in range(3):
        stores.sample(context)
    body = boto3.client("s3", region_name=PRIMARY).get_object(
        Bucket="lab-records", Key=s3.object_key(context.scenario.data.stores[1], DRILL)
    )
    boto3.client("s3", region_name=STANDBY).put_object(
        Bucket="lab-records-replica", Key=f"records/drillkit-heartbeat/{DRILL}", Body=body["Body"].read()
    )
    item = boto3.client("dynamodb", region_name=PRIMARY).get_item(
        TableName="payments", Key={"pk": {"S": f"drillkit-heartbeat#{DRILL}"}}
    )["Item"]
    boto3.client("dynamodb", region_name=STANDBY).put_item(TableName="payments", Item=item)

    # When Restore removes the heartbeats
    problems = stores.remove(context)

    # Then no version of a heartbeat is left anywhere, and the application's object is untouched
    assert problems == []
    primary_s3 = boto3.client("s3", region_name=PRIMARY)
    left = primary_s3.list_object_versions(Bucket="lab-records", Prefix="records/")
    assert [v["Key"] for v in left.get("Versions", [])] == [f"records/{DRILL}-patient"]
    assert not left.get("DeleteMarkers")
    assert not boto3.client("s3", region_name=STANDBY).list_object_versions(Bucket="lab-records-replica").get("Versions")
    for region in (PRIMARY, STANDBY):
        assert boto3.client("dynamodb", region_name=region).scan(TableName="payments")["Items"] == []
    # And a second removal (the verification's, after late replicas) finds nothing to complain about
    assert stores.remove(context) == []


def test_a_removal_the_destination_refuses_is_named_not_raised(aws_env, context_for):
    context = context_for(BUCKET)
    _bucket(PRIMARY, "lab-records")
    destination = aws.target_client("s3", STANDBY)
    with Stubber(destination) as stub:
        stub.add_client_error("list_object_versions", service_error_code="AccessDenied", http_status_code=403)

        problems = s3.remove(context.scenario.data.stores[0], DRILL)

    assert len(problems) == 1
    assert (
        f"ListObjectVersions on s3://lab-records-replica/records/drillkit-heartbeat/{DRILL} failed: AccessDenied" in problems[0]
    )


def test_the_item_key_follows_the_tables_sort_key():
    from drillkit.spec import DynamoDbGlobalTable

    store = DynamoDbGlobalTable.model_validate({**TABLE, "partition_key": "id", "sort_key": "kind"})

    assert dynamodb.item_key(store, DRILL) == {"id": {"S": f"drillkit-heartbeat#{DRILL}"}, "kind": {"S": "drillkit-heartbeat"}}
