"""The lab's data stores replicate as AWS documents: DynamoDB global tables and S3 replication.

Driven only with plain boto3 calls against the local cloud: no drill code. One lab for the module
(tests/lab/stacks/replication.yaml: a table or bucket per knob, lags of 0.3-1.0 s); each test writes its own
keys, so the tests only read what the others wrote.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drillkit_lab.truth import newest_visible, replication_failures, replications

from .conftest import running_lab, wait_for

pytestmark = pytest.mark.lab
STACK = Path(__file__).parent / "stacks" / "replication.yaml"
PRIMARY, STANDBY = "us-east-1", "us-west-2"
SLACK = 2.0  # how late a replica may appear past its lag on a busy 2-core machine
ATTEMPTS = 4  # writes tried until one is read back early enough to see that it is not there yet


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("replication"), STACK) as started:
        yield CachedClients(started)


class CachedClients:
    """The running lab, its boto3 clients made once (making one takes longer than a short lag on a busy machine)."""

    def __init__(self, lab: Any):
        self._lab = lab
        self._clients: dict[tuple[str, str], Any] = {}
        self.info = lab.info

    def client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            self._clients[(service, region)] = self._lab.client(service, region)
        return self._clients[(service, region)]


def unique(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def watch(read: Callable[[], Any], timeout: float) -> list[tuple[float, Any]]:
    """Read until the answer is not None (or the timeout): every (instant the read returned, answer)."""
    seen: list[tuple[float, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = read()
        seen.append((time.time(), answer))
        if answer is not None:
            break
        time.sleep(0.05)
    return seen


def observe(write: Callable[[], Any], read: Callable[[], Any], lag: float) -> tuple[float, Any, list[tuple[float, Any]]]:
    """Write, then read until the copy appears: (instant before the write, the write's answer, the reads).

    Only a read that returns before the lag has passed can show that the copy is not there early; on a busy
    machine the first read may come back later than that, and then a fresh write is tried."""
    for _ in range(ATTEMPTS):
        before = time.time()
        answer = write()
        seen = watch(read, lag + SLACK)
        if any(at < before + lag for at, _ in seen):
            return before, answer, seen
    raise AssertionError(f"no read came back within {lag:g}s of a write in {ATTEMPTS} attempts: the machine is too busy")


def first_seen(reads: list[tuple[float, Any]]) -> float:
    assert reads[-1][1] is not None, "never appeared"
    return reads[-1][0]


def log(lab) -> Path:
    return Path(lab.info["ground_truth_log"])


# -- DynamoDB global tables ----------------------------------------------------------------------------


def standby_item(lab, table: str, key: str) -> Callable[[], Any]:
    dynamodb = lab.client("dynamodb", STANDBY)
    return lambda: dynamodb.get_item(TableName=table, Key={"pk": {"S": key}}).get("Item")  # eventually consistent


def test_a_dynamodb_write_in_the_primary_is_visible_in_the_standby_replica_after_the_lag_and_not_before(lab):
    lag, primary, keys = 1.0, lab.client("dynamodb", PRIMARY), []

    def write() -> None:
        keys.append(unique("hb-"))
        primary.put_item(TableName="payments", Item={"pk": {"S": keys[-1]}, "seq": {"N": "1"}})

    before, _, seen = observe(write, lambda: standby_item(lab, "payments", keys[-1])(), lag)

    key = keys[-1]
    assert all(answer is None for at, answer in seen if at < before + lag), "visible in the standby before the lag"
    assert before + lag <= first_seen(seen) <= before + lag + SLACK
    assert seen[-1][1] == {"pk": {"S": key}, "seq": {"N": "1"}}
    [truth] = [r for r in replications(log(lab), before, "payments") if key in r.key]
    assert truth.destination == STANDBY and lag <= truth.lag < lag + SLACK


def test_both_regions_describe_the_global_table_with_its_active_replica_and_version(lab):
    for region, other in ((PRIMARY, STANDBY), (STANDBY, PRIMARY)):
        table = lab.client("dynamodb", region).describe_table(TableName="payments")["Table"]

        assert table["GlobalTableVersion"] == "2019.11.21"
        assert table["Replicas"] == [{"RegionName": other, "ReplicaStatus": "ACTIVE"}]
        assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_updates_and_deletes_replicate_and_the_last_writer_wins(lab):
    key, lag = unique("lww-"), 1.0
    primary, standby = lab.client("dynamodb", PRIMARY), lab.client("dynamodb", STANDBY)
    primary.put_item(TableName="payments", Item={"pk": {"S": key}, "writer": {"S": "primary"}})
    standby.put_item(TableName="payments", Item={"pk": {"S": key}, "writer": {"S": "standby"}})  # the later write
    time.sleep(lag + SLACK)

    for dynamodb in (primary, standby):
        assert dynamodb.get_item(TableName="payments", Key={"pk": {"S": key}})["Item"]["writer"] == {"S": "standby"}

    primary.update_item(
        TableName="payments",
        Key={"pk": {"S": key}},
        UpdateExpression="SET writer = :w",
        ExpressionAttributeValues={":w": {"S": "update"}},
    )
    wait_for(lambda: (standby_item(lab, "payments", key)() or {}).get("writer") == {"S": "update"}, lag + SLACK, "update")
    primary.delete_item(TableName="payments", Key={"pk": {"S": key}})
    wait_for(lambda: standby_item(lab, "payments", key)() is None, lag + SLACK, "delete replicated")


def test_a_transaction_replicates_each_of_its_writes(lab):
    first, second, lag = unique("tx-"), unique("tx-"), 1.0
    lab.client("dynamodb", PRIMARY).transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "payments", "Item": {"pk": {"S": first}}}},
            {"Put": {"TableName": "payments", "Item": {"pk": {"S": second}}}},
        ]
    )

    for key in (first, second):
        wait_for(lambda key=key: standby_item(lab, "payments", key)() is not None, lag + SLACK, f"{key} replicated")


def test_a_table_without_a_standby_replica_replicates_nothing(lab):
    primary = lab.client("dynamodb", PRIMARY)
    primary.put_item(TableName="sessions", Item={"pk": {"S": unique()}})

    assert "Replicas" not in primary.describe_table(TableName="sessions")["Table"]
    with pytest.raises(ClientError) as error:
        lab.client("dynamodb", STANDBY).describe_table(TableName="sessions")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_removing_the_replica_deletes_it_and_stops_replication(lab):
    primary = lab.client("dynamodb", PRIMARY)
    before = time.time()
    primary.update_table(TableName="carts", ReplicaUpdates=[{"Delete": {"RegionName": STANDBY}}])
    key = unique("after-")
    primary.put_item(TableName="carts", Item={"pk": {"S": key}})
    time.sleep(0.3 + SLACK)

    assert "Replicas" not in primary.describe_table(TableName="carts")["Table"]
    with pytest.raises(ClientError) as error:
        lab.client("dynamodb", STANDBY).get_item(TableName="carts", Key={"pk": {"S": key}})
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert replications(log(lab), before, "carts") == []


# -- S3 replication ------------------------------------------------------------------------------------


def head(lab, bucket: str, key: str, region: str = PRIMARY) -> dict | None:
    try:
        return lab.client("s3", region).head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return None
        raise


def test_an_object_under_the_rule_prefix_is_pending_then_replicated_after_the_lag(lab):
    lag, body, keys, statuses = 1.0, b"heartbeat 1", [], []

    def write() -> str:
        keys.append(unique("records/hb-"))
        version = lab.client("s3", PRIMARY).put_object(Bucket="rpo-records", Key=keys[-1], Body=body)["VersionId"]
        statuses.append(head(lab, "rpo-records", keys[-1])["ReplicationStatus"])
        return str(version)

    before, version, seen = observe(write, lambda: head(lab, "rpo-records-replica", keys[-1], STANDBY), lag)

    key = keys[-1]
    assert statuses[-1] == "PENDING"
    assert all(answer is None for at, answer in seen if at < before + lag), "in the destination before the lag"
    assert before + lag <= first_seen(seen) <= before + lag + SLACK
    replica = seen[-1][1]
    assert replica["ReplicationStatus"] == "REPLICA" and replica["VersionId"] == version
    assert lab.client("s3", STANDBY).get_object(Bucket="rpo-records-replica", Key=key)["Body"].read() == body
    wait_for(lambda: head(lab, "rpo-records", key)["ReplicationStatus"] == "COMPLETED", SLACK, "source COMPLETED")
    [truth] = [r for r in replications(log(lab), before, "rpo-records") if r.key == key]
    assert truth.version_id == version and lag <= truth.lag < lag + SLACK
    assert newest_visible(log(lab), "rpo-records", truth.visible_at) == truth


def test_an_object_outside_the_rule_prefix_is_never_replicated_and_has_no_status(lab):
    key = unique("elsewhere/")
    lab.client("s3", PRIMARY).put_object(Bucket="rpo-records", Key=key, Body=b"x")
    time.sleep(1.0 + SLACK)

    assert "ReplicationStatus" not in head(lab, "rpo-records", key)
    assert head(lab, "rpo-records-replica", key, STANDBY) is None


def test_a_disabled_rule_replicates_nothing(lab):
    key = unique("records/")
    lab.client("s3", PRIMARY).put_object(Bucket="rpo-disabled", Key=key, Body=b"x")
    time.sleep(0.3 + SLACK)

    assert "ReplicationStatus" not in head(lab, "rpo-disabled", key)
    assert head(lab, "rpo-disabled-replica", key, STANDBY) is None
    rule = lab.client("s3", PRIMARY).get_bucket_replication(Bucket="rpo-disabled")["ReplicationConfiguration"]["Rules"][0]
    assert rule["Status"] == "Disabled" and rule["Filter"] == {"Prefix": "records/"}


@pytest.mark.parametrize(
    ("bucket", "reason"),
    [
        ("rpo-no-role", "AssumeRoleNotPermitted"),
        ("rpo-unversioned", "DstBucketUnversioned"),
        ("rpo-refused", "DstPutObjectNotPermitted"),
    ],
)
def test_a_broken_replication_fails_the_object_and_leaves_the_destination_empty(lab, bucket, reason):
    key = unique("obj-")
    before = time.time()
    lab.client("s3", PRIMARY).put_object(Bucket=bucket, Key=key, Body=b"x")

    assert head(lab, bucket, key)["ReplicationStatus"] == "PENDING"
    wait_for(lambda: head(lab, bucket, key)["ReplicationStatus"] == "FAILED", 0.3 + SLACK, "source FAILED")
    assert head(lab, f"{bucket}-replica", key, STANDBY) is None
    [failure] = [f for f in replication_failures(log(lab), before, bucket) if f.key == key]
    assert failure.reason == reason and failure.rule == f"{bucket}-to-standby"


def test_delete_markers_replicate_only_when_the_rule_enables_it(lab):
    s3_primary = lab.client("s3", PRIMARY)
    kept, removed = unique("records/"), unique("gone-")
    s3_primary.put_object(Bucket="rpo-records", Key=kept, Body=b"x")
    s3_primary.put_object(Bucket="rpo-deletes", Key=removed, Body=b"x")
    wait_for(lambda: head(lab, "rpo-records-replica", kept, STANDBY), 1.0 + SLACK, "replicated")
    wait_for(lambda: head(lab, "rpo-deletes-replica", removed, STANDBY), 0.3 + SLACK, "replicated")

    s3_primary.delete_object(Bucket="rpo-records", Key=kept)
    s3_primary.delete_object(Bucket="rpo-deletes", Key=removed)
    wait_for(lambda: head(lab, "rpo-deletes-replica", removed, STANDBY) is None, 0.3 + SLACK, "delete marker replicated")
    time.sleep(1.0)

    assert head(lab, "rpo-records-replica", kept, STANDBY) is not None  # AWS's default: the replica stays
    assert head(lab, "rpo-records", kept) is None


def test_removing_the_replication_configuration_stops_replication(lab):
    s3_primary = lab.client("s3", PRIMARY)
    before_removal = unique("before-")
    s3_primary.put_object(Bucket="rpo-removed", Key=before_removal, Body=b"x")
    wait_for(lambda: head(lab, "rpo-removed-replica", before_removal, STANDBY), 0.3 + SLACK, "replicated")

    s3_primary.delete_bucket_replication(Bucket="rpo-removed")
    after_removal = unique("after-")
    s3_primary.put_object(Bucket="rpo-removed", Key=after_removal, Body=b"x")
    time.sleep(0.3 + SLACK)

    assert "ReplicationStatus" not in head(lab, "rpo-removed", after_removal)
    assert head(lab, "rpo-removed-replica", after_removal, STANDBY) is None


def test_a_replication_rule_needs_a_versioned_destination(lab):
    s3_primary, s3_standby = lab.client("s3", PRIMARY), lab.client("s3", STANDBY)
    source, destination = unique("src-"), unique("dst-")
    s3_primary.create_bucket(Bucket=source)
    s3_primary.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
    s3_standby.create_bucket(Bucket=destination, CreateBucketConfiguration={"LocationConstraint": STANDBY})
    rule = {
        "ID": "r",
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{destination}"},
    }
    configuration = {"Role": lab.info["buckets"][0]["role_arn"], "Rules": [rule]}

    with pytest.raises(ClientError) as error:
        s3_primary.put_bucket_replication(Bucket=source, ReplicationConfiguration=configuration)
    assert error.value.response["Error"]["Code"] == "InvalidRequest"
