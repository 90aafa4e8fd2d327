"""An IAM role per environment: calls to the stack under test go to the role's account, drillkit's own stay home."""

from __future__ import annotations

import boto3
import pytest

from drillkit import aws
from drillkit.errors import ScenarioInvalid, TargetRoleRefused
from drillkit.spec import parse_scenario

from ..conftest import DEMO_SCENARIO

TARGET_ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{TARGET_ACCOUNT}:role/drillkit-target-payments"


def _health_check_in_target_account() -> str:
    """Made with the role's own credentials: moto keeps it in the role's account."""
    sts = boto3.client("sts", region_name="us-east-1")
    credentials = sts.assume_role(RoleArn=ROLE, RoleSessionName="setup")["Credentials"]
    route53 = boto3.client(
        "route53",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    config = {"Type": "HTTP", "IPAddress": "192.0.2.10", "Port": 80, "ResourcePath": "/health"}
    return route53.create_health_check(CallerReference="target-account", HealthCheckConfig=config)["HealthCheck"]["Id"]


def test_with_a_role_the_stack_is_read_in_the_role_account_and_the_session_names_the_drill(aws_env):
    check_id = _health_check_in_target_account()

    with aws.acting_for(ROLE, "ext-42", "payments-drill-20261123"):
        identity = aws.check_target_role()
        in_target = [c["Id"] for c in aws.target_client("route53").list_health_checks()["HealthChecks"]]
    at_home = [c["Id"] for c in aws.client("route53").list_health_checks()["HealthChecks"]]

    assert identity == f"arn:aws:sts::{TARGET_ACCOUNT}:assumed-role/drillkit-target-payments/drillkit-payments-drill-20261123"
    assert in_target == [check_id]
    assert at_home == []  # drillkit's own account: the ledger and the evidence stay here


def test_without_a_role_target_calls_use_the_function_own_credentials(aws_env):
    config = {"Type": "HTTP", "IPAddress": "192.0.2.10", "Port": 80, "ResourcePath": "/health"}
    home = aws.client("route53").create_health_check(CallerReference="home", HealthCheckConfig=config)["HealthCheck"]["Id"]
    with aws.acting_for(None, None, "d"):
        assert aws.check_target_role() is None
        assert [c["Id"] for c in aws.target_client("route53").list_health_checks()["HealthChecks"]] == [home]


def test_a_role_that_cannot_be_assumed_is_refused_naming_the_field(aws_env, monkeypatch):
    def refuse(*args, **kwargs):
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized to perform sts:AssumeRole"}}, "AssumeRole"
        )

    monkeypatch.setattr("botocore.credentials.AssumeRoleCredentialFetcher.fetch_credentials", refuse)
    with aws.acting_for(ROLE, None, "d"), pytest.raises(TargetRoleRefused) as refused:
        aws.check_target_role()
    assert str(refused.value).startswith(f"target.role_arn: cannot assume {ROLE}: AccessDenied")


def test_the_session_name_keeps_to_sts_rules():
    name = aws.session_name_for("x" * 80 + " /#")
    assert len(name) == 64 and name.startswith("drillkit-") and " " not in name and "#" not in name


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({"role_arn": "arn:aws:iam::12:role/x"}, "target.role_arn"),
        ({"role_arn": "drillkit-target"}, "target.role_arn"),
        ({"external_id": "abc"}, "target"),
        ({"role_arn": ROLE, "external_id": "a b"}, "target.external_id"),
    ],
)
def test_a_bad_role_or_external_id_is_named(target, field):
    import yaml

    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    scenario["target"].update(target)
    with pytest.raises(ScenarioInvalid) as invalid:
        parse_scenario(scenario)
    assert field in [name for name, _ in invalid.value.problems]
