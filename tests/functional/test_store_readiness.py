"""Readiness of the replicated stores: each broken replication named by its code and resource, read-only."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from drillkit import aws, readiness
from drillkit.readiness import replication
from drillkit.readiness.survey import Survey
from drillkit.spec import Network

from ..reports import BUCKET_STORE as BUCKET
from ..reports import PRIMARY, STANDBY, drill_context, with_stores
from ..reports import TABLE_STORE as TABLE

ROLE = "arn:aws:iam::123456789012:role/records-replication"


@pytest.fixture
def survey_for(scenario_dict):
    def build(*stores_given: dict) -> Survey:
        context = drill_context(with_stores(scenario_dict, *stores_given))
        return Survey(scenario=context.scenario, target=context.target, network=Network())

    return build


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def table_description(replicas: list[dict], keys: list[dict] | None = None) -> dict:
    return {
        "Table": {
            "TableName": "payments",
            "KeySchema": keys or [{"AttributeName": "pk", "KeyType": "HASH"}],
            "Replicas": replicas,
        }
    }


def run_tables(survey: Survey, answer: dict) -> list:
    client = aws.target_client("dynamodb", PRIMARY)
    with Stubber(client) as stub:
        stub.add_response("describe_table", answer, {"TableName": "payments"})
        found = list(replication._tables(survey))
        stub.assert_no_pending_responses()  # one DescribeTable, in the primary region
    return found


def test_a_table_without_a_standby_replica_is_data_not_replicated_naming_table_and_regions(aws_env, survey_for):
    found = run_tables(survey_for(TABLE), table_description([{"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE"}]))

    assert codes(found) == ["TABLE_NOT_GLOBAL"]
    assert "table payments in us-east-1 has no replica in the standby region us-west-2 (replicas: eu-west-1)" in found[0].message
    assert found[0].evidence.call == "dynamodb:DescribeTable" and found[0].evidence.resource == "payments (us-east-1)"


def test_a_replica_still_creating_and_a_key_schema_that_differs_are_named(aws_env, survey_for):
    answer = table_description(
        [{"RegionName": STANDBY, "ReplicaStatus": "CREATING"}], keys=[{"AttributeName": "id", "KeyType": "HASH"}]
    )

    found = run_tables(survey_for(TABLE), answer)

    assert codes(found) == ["TABLE_KEY_MISMATCH", "TABLE_REPLICA_NOT_ACTIVE"]
    assert "the replica in us-west-2 is CREATING" in found[1].message


def test_an_active_standby_replica_is_ready(aws_env, survey_for):
    assert run_tables(survey_for(TABLE), table_description([{"RegionName": STANDBY, "ReplicaStatus": "ACTIVE"}])) == []


def replicated_buckets(rule: dict, destination_versioning: str = "Enabled", role: bool = True, policy: dict | None = None):
    """Both buckets in moto, the replication configuration given (moto keeps a rule's filter as we wrote it)."""
    s3_primary, s3_standby = boto3.client("s3", region_name=PRIMARY), boto3.client("s3", region_name=STANDBY)
    s3_primary.create_bucket(Bucket="lab-records")
    s3_standby.create_bucket(Bucket="lab-records-replica", CreateBucketConfiguration={"LocationConstraint": STANDBY})
    s3_primary.put_bucket_versioning(Bucket="lab-records", VersioningConfiguration={"Status": "Enabled"})
    s3_standby.put_bucket_versioning(Bucket="lab-records-replica", VersioningConfiguration={"Status": destination_versioning})
    if role:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
        boto3.client("iam").create_role(RoleName="records-replication", AssumeRolePolicyDocument=json.dumps(trust))
    if policy:
        s3_standby.put_bucket_policy(Bucket="lab-records-replica", Policy=json.dumps(policy))
    return {"Role": ROLE, "Rules": [rule]}


def rule(status: str = "Enabled", prefix: str = "records/") -> dict:
    return {
        "ID": "records-to-standby",
        "Priority": 1,
        "Status": status,
        "Filter": {"Prefix": prefix},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": "arn:aws:s3:::lab-records-replica"},
    }


def run_buckets(survey: Survey, configuration: dict) -> list:
    """The checks with GetBucketReplication answered as S3 does (moto drops a rule's Filter prefix)."""
    client = aws.target_client("s3", PRIMARY)
    with Stubber(client) as stub:
        stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": "lab-records"})
        stub.add_response("get_bucket_replication", {"ReplicationConfiguration": configuration}, {"Bucket": "lab-records"})
        found = list(replication._buckets(survey))
        stub.assert_no_pending_responses()
    return found


def test_a_complete_replication_is_ready(aws_env, survey_for):
    assert run_buckets(survey_for(BUCKET), replicated_buckets(rule())) == []


def test_a_disabled_rule_is_named(aws_env, survey_for):
    found = run_buckets(survey_for(BUCKET), replicated_buckets(rule(status="Disabled")))

    assert codes(found) == ["S3_RULE_DISABLED"]
    assert "rule records-to-standby of bucket lab-records covering 'records/' is Disabled" in found[0].message
    assert found[0].evidence.resource == "s3://lab-records"


def test_a_rule_for_another_prefix_does_not_cover_the_heartbeat(aws_env, survey_for):
    found = run_buckets(survey_for(BUCKET), replicated_buckets(rule(prefix="invoices/")))

    assert codes(found) == ["S3_RULE_NOT_COVERING"]
    assert 'records-to-standby ({"Prefix": "invoices/"})' in found[0].message


def test_destination_versioning_suspended_a_missing_role_are_named(aws_env, survey_for):
    found = run_buckets(survey_for(BUCKET), replicated_buckets(rule(), destination_versioning="Suspended", role=False))

    assert codes(found) == ["S3_VERSIONING_NOT_ENABLED", "S3_REPLICATION_ROLE_MISSING"]
    assert found[0].evidence.resource == "s3://lab-records-replica" and "versioning is Suspended" in found[0].message
    assert found[1].evidence == found[1].evidence.model_copy(update={"call": "iam:GetRole", "resource": ROLE})


def test_a_destination_policy_denying_the_role_is_named_with_its_statement(aws_env, survey_for):
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NoReplication",
                "Effect": "Deny",
                "Principal": {"AWS": ROLE},
                "Action": ["s3:ReplicateObject", "s3:ReplicateDelete"],
                "Resource": "arn:aws:s3:::lab-records-replica/*",
            }
        ],
    }

    found = run_buckets(survey_for(BUCKET), replicated_buckets(rule(), policy=deny))

    assert codes(found) == ["S3_DESTINATION_REFUSES_ROLE"]
    assert "statement NoReplication of its policy denies the replication role" in found[0].message


def test_no_replication_configuration_is_named(aws_env, survey_for):
    replicated_buckets(rule())
    client = aws.target_client("s3", PRIMARY)
    with Stubber(client) as stub:
        stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": "lab-records"})
        stub.add_client_error(
            "get_bucket_replication", service_error_code="ReplicationConfigurationNotFoundError", http_status_code=404
        )
        found = list(replication._buckets(survey_for(BUCKET)))

    assert codes(found) == ["S3_REPLICATION_NOT_CONFIGURED"]


def test_a_store_check_refused_access_is_an_advisory_access_denied_finding(aws_env, survey_for):
    survey = survey_for(TABLE)
    client = aws.target_client("dynamodb", PRIMARY)
    with Stubber(client) as stub:
        stub.add_client_error("describe_table", service_error_code="AccessDeniedException", http_status_code=400)
        [check] = [c for c in readiness.checks() if c.name == "global-tables"]
        found = readiness.run_check(check, survey)

    assert codes(found) == ["ACCESS_DENIED"] and not found[0].blocking
    assert found[0].evidence.resource == "payments (us-east-1)"
