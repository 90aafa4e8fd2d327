"""Preflight reads every ARN a scenario names (heartbeat clusters, secret) and names the field of each wrong one."""

from __future__ import annotations

import boto3
import pytest

from drillkit import drill
from drillkit.errors import ScenarioInvalid

from .conftest import recorded

PRIMARY = "arn:aws:rds:us-east-1:123456789012:cluster:app-primary"
STANDBY = "arn:aws:rds:us-west-2:123456789012:cluster:app-standby"


@pytest.fixture
def heartbeat_stack(account):
    """The account with both heartbeat clusters and the Data API's secret."""
    for region, name in (("us-east-1", "app-primary"), ("us-west-2", "app-standby")):
        boto3.client("rds", region_name=region).create_db_cluster(
            DBClusterIdentifier=name, Engine="aurora-postgresql", MasterUsername="app", MasterUserPassword="password-1"
        )
    secret = boto3.client("secretsmanager").create_secret(Name="drillkit-heartbeat", SecretString="{}")["ARN"]
    return account, secret


def _heartbeat(secret: str, primary: str = PRIMARY, standby: str = STANDBY) -> dict:
    return {"primary_cluster_arn": primary, "standby_cluster_arn": standby, "secret_arn": secret, "database": "app"}


def test_a_heartbeat_whose_clusters_and_secret_exist_passes_preflight(heartbeat_stack, request_for):
    account, secret = heartbeat_stack

    ref = drill.preflight(request_for(data={"heartbeat": _heartbeat(secret)}), execution_id=None, execution_name="hb-ok-0001")

    heartbeat = recorded(ref).context.scenario.data.heartbeat
    assert heartbeat is not None and heartbeat.secret_arn == secret


def test_a_wrong_cluster_and_a_missing_secret_are_each_named_by_scenario_field_and_nothing_is_locked(
    heartbeat_stack, request_for
):
    account, secret = heartbeat_stack
    wrong = _heartbeat(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret",
        standby="arn:aws:rds:us-west-2:123456789012:cluster:app-standbyy",
    )

    with pytest.raises(ScenarioInvalid) as raised:
        drill.preflight(request_for(data={"heartbeat": wrong}), execution_id=None, execution_name="hb-bad-0001")

    fields = [field for field, _ in raised.value.problems]
    assert fields == ["data.heartbeat.standby_cluster_arn", "data.heartbeat.secret_arn"]
    assert "app-standbyy" in raised.value.problems[0][1] and "no-such-secret" in raised.value.problems[1][1]
    assert account.table.scan()["Items"] == []  # refused before the lock and the record
