"""Readiness against a mocked account: the standby must answer before anything is injected; refusals are findings."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from drillkit import aws, drill, readiness
from drillkit.errors import AwsCallFailed
from drillkit.model import FailoverEndpoint, ResolvedTarget
from drillkit.spec import parse_request

from .conftest import RECORD, STANDBY_ADDRESS, recorded


def ledger_items(account) -> list[dict]:
    return account.table.scan()["Items"]


def target(account, primary_check: str | None = "hc-primary") -> ResolvedTarget:
    return ResolvedTarget(
        hosted_zone_id=account.zone_id,
        record_name=RECORD,
        record_type="A",
        primary=FailoverEndpoint(side="primary", set_identifier="primary", values=("192.0.2.10",), health_check_id=primary_check),
        standby=FailoverEndpoint(side="standby", set_identifier="standby", values=(STANDBY_ADDRESS,)),
    )


def test_a_standby_answering_503_blocks_the_drill_in_preflight_naming_the_standby_and_its_answer(account, request_for):
    # Given a standby whose endpoint answers the probe's request with 503
    account.standby.status = 503

    # When preflight runs
    ref = drill.preflight(request_for(), execution_id=None, execution_name="drill-standby-0001")

    # Then the drill is blocked before anything is injected, by a finding naming the standby and what it answered
    assert ref["blocked"] is True
    [finding] = [f for f in recorded(ref).context.readiness if f.blocking]
    assert finding.code == "STANDBY_NOT_SERVING" and finding.area == "standby"
    assert f"the standby standby ({STANDBY_ADDRESS}" in finding.message
    assert f"answered GET http://{RECORD.rstrip('.')}:80/ with HTTP 503" in finding.message
    assert finding.evidence.resource == STANDBY_ADDRESS and (finding.evidence.answered or "").startswith("HTTP 503")
    assert not [i for i in ledger_items(account) if i["sk"].startswith("UNDO#")]


def test_a_standby_answering_200_does_not_block(account, request_for):
    ref = drill.preflight(request_for(), execution_id=None, execution_name="drill-standby-0002")

    assert ref["blocked"] is False
    assert not [f for f in recorded(ref).context.readiness if f.area == "standby"]


def test_a_primary_record_without_a_health_check_blocks(account, request_for):
    scenario = parse_request(request_for()).scenario

    findings = readiness.check(scenario, target(account, primary_check=None), parse_request(request_for()).network)

    blocking = [f for f in findings if f.blocking]
    assert [f.code for f in blocking] == ["PRIMARY_WITHOUT_HEALTH_CHECK"]
    assert "the PRIMARY failover record primary of app.example.test. A has no health check" in blocking[0].message
    assert blocking[0].evidence.call == "route53:ListResourceRecordSets" and blocking[0].evidence.resource == account.zone_id


def test_a_safety_check_refused_access_is_a_blocking_finding_reported_once_not_a_crash(account, request_for):
    request = parse_request(request_for())
    route53 = aws.target_client("route53")
    with Stubber(route53) as stub:
        stub.add_client_error("get_health_check", service_error_code="AccessDenied", http_status_code=403)

        findings = readiness.check(request.scenario, target(account), request.network)

        stub.assert_no_pending_responses()  # one GetHealthCheck, shared by every check that reads the check
    denied = [f for f in findings if f.code == "ACCESS_DENIED_SAFETY"]
    assert len(denied) == 1 and denied[0].blocking
    assert denied[0].evidence.call == "GetHealthCheck" and denied[0].evidence.resource == "hc-primary"
    assert "may not read hc-primary (GetHealthCheck): AccessDenied" in denied[0].message


def test_an_advisory_check_refused_access_is_an_advisory_finding(account, request_for):
    request = parse_request(request_for())
    cloudwatch = aws.target_client("cloudwatch", "us-east-1")
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("describe_alarms", service_error_code="AccessDenied", http_status_code=403)

        findings = readiness.check(request.scenario, target(account, primary_check=account.primary_check_id), request.network)

    [denied] = [f for f in findings if f.code.startswith("ACCESS_DENIED")]
    assert denied.code == "ACCESS_DENIED" and denied.blocking is False
    assert denied.evidence.call == "DescribeAlarms" and denied.evidence.resource == "us-east-1"
    assert "NO_ALARM_ON_PRIMARY" not in {f.code for f in findings}  # not read, so not claimed
    assert not [f for f in findings if f.blocking]


def test_an_advisory_read_that_fails_otherwise_is_reported_and_a_safety_read_that_fails_otherwise_raises(account, request_for):
    request = parse_request(request_for())
    with Stubber(aws.target_client("cloudwatch", "us-east-1")) as stub:
        stub.add_client_error("describe_alarms", service_error_code="InvalidNextToken", http_status_code=400)
        findings = readiness.check(request.scenario, target(account, primary_check=account.primary_check_id), request.network)
    [failed] = [f for f in findings if f.code == "CHECK_FAILED"]
    assert "InvalidNextToken" in failed.message and failed.blocking is False

    with Stubber(aws.target_client("route53")) as stub:
        stub.add_client_error("get_health_check", service_error_code="NoSuchHealthCheck", http_status_code=404)
        with pytest.raises(AwsCallFailed, match="GetHealthCheck on hc-primary failed: NoSuchHealthCheck"):
            readiness.check(request.scenario, target(account), request.network)


def test_no_alarm_on_the_primary_is_named_and_an_alarm_on_its_health_check_satisfies_it(account, request_for):
    request = parse_request(request_for())
    checked = target(account, primary_check=account.primary_check_id)

    [missing] = [f for f in readiness.check(request.scenario, checked, request.network) if f.code == "NO_ALARM_ON_PRIMARY"]
    assert f"health check {account.primary_check_id}" in missing.message and missing.blocking is False

    aws.target_client("cloudwatch", "us-east-1").put_metric_alarm(
        AlarmName="primary-check",
        Namespace="AWS/Route53",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": "HealthCheckId", "Value": account.primary_check_id}],
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )
    again = readiness.check(request.scenario, checked, request.network)
    assert "NO_ALARM_ON_PRIMARY" not in {f.code for f in again}
