"""Readiness, pure: the catalogue and its docs agree; unhealthy checks are named by cause; steady state covers the standby."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from drillkit import probes, readiness, readings
from drillkit.findings import CATALOGUE, Finding
from drillkit.model import FailoverEndpoint, ResolvedTarget
from drillkit.probes import health_check
from drillkit.readiness import dns, standby
from drillkit.readiness.survey import Survey
from drillkit.spec import Network, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "readiness.md"


def observation(status: str, region: str = "us-east-1") -> dict[str, Any]:
    return {"Region": region, "IPAddress": "15.177.0.10", "StatusReport": {"Status": status, "CheckedTime": datetime.now(UTC)}}


class ReadSurvey(Survey):
    """A survey whose Route 53 reads are given (the checks' rules, without a network)."""

    configs: dict[str, dict[str, Any]]
    statuses: dict[str, list[dict[str, Any]]]

    def health_check(self, health_check_id: str) -> dict[str, Any]:
        return self.configs[health_check_id]

    def health_check_status(self, health_check_id: str) -> list[dict[str, Any]]:
        return self.statuses[health_check_id]


def survey(configs: dict[str, dict[str, Any]], statuses: dict[str, list[dict[str, Any]]]) -> ReadSurvey:
    scenario = parse_scenario(yaml.safe_load((ROOT / "scenarios" / "region-failover-health-check.yaml").read_text()))
    target = ResolvedTarget(
        hosted_zone_id="Z1",
        record_name="app.example.test.",
        record_type="A",
        primary=FailoverEndpoint(side="primary", set_identifier="p", values=("192.0.2.10",), health_check_id="hc-p"),
        standby=FailoverEndpoint(side="standby", set_identifier="s", values=("198.51.100.20",), health_check_id="hc-s"),
    )
    read = ReadSurvey(scenario=scenario, target=target, network=Network())
    read.configs, read.statuses = configs, statuses
    return read


HTTP_CHECK = {"Type": "HTTP", "Port": 80, "ResourcePath": "/healthz", "FullyQualifiedDomainName": "standby.example.test"}


def test_every_catalogue_code_is_documented_and_every_documented_code_exists():
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", DOCS.read_text(), flags=re.MULTILINE))

    assert set(CATALOGUE) == documented
    assert len(readiness.checks()) == len({c.name for c in readiness.checks()})  # check names are unique too


def test_failure_reports_are_the_checkers_words_most_frequent_first():
    observations = [
        observation("Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: 127.0.0.1"),
        observation("Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: 127.0.0.1"),
        observation("Failure: Connection timed out."),
        observation("Success: HTTP Status Code 200, OK"),
    ]

    assert health_check.failure_reports(observations) == [
        "Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: 127.0.0.1 (2 of 4 checkers)",
        "Failure: Connection timed out. (1 of 4 checkers)",
    ]


def test_steady_state_names_an_unhealthy_primary_checks_cause_and_what_it_requests():
    reading = readings.parse(
        {
            "t": 1.0,
            "probe": health_check.NAME,
            "health_check_id": "hc-p",
            "healthy": False,
            "protocol": "HTTPS",
            "port": 443,
            "path": "/health",
            "endpoint": "primary.example.test",
            "failure_reports": ["Failure: Connection refused. The endpoint is not listening on the port. (8 of 8 checkers)"],
        }
    )

    ok, problems = probes.steady([reading])

    assert not ok
    assert problems == [
        "primary health check hc-p is not healthy: it requests HTTPS:443 /health on primary.example.test; Route 53's "
        "checkers report: Failure: Connection refused. The endpoint is not listening on the port. (8 of 8 checkers)"
    ]


def test_steady_state_covers_the_standby_a_standby_that_answers_500_is_not_steady():
    reading = readings.parse(
        {
            "t": 1.0,
            "probe": "standby",
            "set_identifier": "s",
            "address": "198.51.100.20",
            "url": "http://app.example.test:80/",
            "ok": False,
            "status": 500,
            "reason": "Internal Server Error",
        }
    )

    ok, problems = probes.steady([reading])

    assert not ok
    assert problems == [
        "the standby s (198.51.100.20) cannot serve GET http://app.example.test:80/: HTTP 500 Internal Server Error"
    ]
    assert probes.steady([reading.model_copy(update={"ok": True, "status": 200})]) == (True, [])


def test_an_unhealthy_standby_health_check_blocks_naming_what_the_checkers_report():
    read = survey(
        {"hc-s": HTTP_CHECK},
        {"hc-s": [observation("Failure: HTTP Status Code 404, Not Found. Resolved IP: 127.20.0.1")] * 8},
    )

    [finding] = list(standby._health_check(read))

    assert finding.code == "STANDBY_HEALTH_CHECK_UNHEALTHY" and finding.blocking
    assert "health check hc-s is not healthy (0% of checkers report success)" in finding.message
    assert "it requests HTTP:80 /healthz on standby.example.test" in finding.message
    assert "Failure: HTTP Status Code 404, Not Found. Resolved IP: 127.20.0.1 (8 of 8 checkers)" in finding.message
    assert finding.evidence.call == "route53:GetHealthCheckStatus" and finding.evidence.resource == "hc-s"


@pytest.mark.parametrize(
    ("statuses", "config", "expected"),
    [
        # 2 of 8 (25%) healthy is more than 18%: healthy
        (["Success: HTTP Status Code 200, OK"] * 2 + ["Failure: Connection timed out."] * 6, HTTP_CHECK, []),
        # 1 of 8 (12.5%) is not
        (
            ["Success: HTTP Status Code 200, OK"] + ["Failure: Connection timed out."] * 7,
            HTTP_CHECK,
            ["STANDBY_HEALTH_CHECK_UNHEALTHY"],
        ),
        # Inverted: every checker succeeds, the check is unhealthy
        (["Success: HTTP Status Code 200, OK"] * 8, {**HTTP_CHECK, "Inverted": True}, ["STANDBY_HEALTH_CHECK_UNHEALTHY"]),
        # No observations yet: nothing to judge
        ([], HTTP_CHECK, []),
    ],
)
def test_the_standby_health_check_rule_is_route53s(statuses, config, expected):
    read = survey({"hc-s": config}, {"hc-s": [observation(s) for s in statuses]})

    assert [f.code for f in standby._health_check(read)] == expected


def test_a_primary_check_that_can_never_pass_is_not_judged_again_by_its_status_when_it_is_calculated():
    read = survey({"hc-p": {"Type": "CALCULATED", "ChildHealthChecks": ["a"]}}, {})

    assert [f.code for f in dns._status_readable(read)] == ["HEALTH_CHECK_STATUS_UNREADABLE"]
    assert list(dns._primary_healthy(read)) == []  # GetHealthCheckStatus is not even asked


def test_a_finding_recorded_before_the_catalogue_still_reads():
    old = {
        "severity": "critical",
        "code": "NO_SECONDARY_RECORD",
        "message": "no SECONDARY failover record for app.example.test. A",
        "evidence": "route53:ListResourceRecordSets on zone Z1",
        "remedy": "Create a SECONDARY failover record.",
        "blocking": True,
    }

    finding = Finding.model_validate(old)

    assert finding.area == "dns" and finding.evidence.call == "route53:ListResourceRecordSets"
    assert str(finding.evidence) == "route53:ListResourceRecordSets on zone Z1"


def test_a_primary_check_aimed_at_the_standbys_endpoint_blocks_and_a_separate_health_endpoint_does_not():
    aimed = survey({"hc-p": {"Type": "HTTP", "IPAddress": "198.51.100.20", "Port": 80, "ResourcePath": "/health"}}, {})
    separate = survey({"hc-p": {"Type": "HTTP", "FullyQualifiedDomainName": "health.example.test", "Port": 80}}, {})
    own = survey({"hc-p": {"Type": "HTTP", "IPAddress": "192.0.2.10", "Port": 80}}, {})

    [finding] = list(dns._watches_standby(aimed))

    assert finding.code == "PRIMARY_HEALTH_CHECK_WATCHES_STANDBY" and finding.blocking
    assert "requests 198.51.100.20, which is the SECONDARY record s's endpoint" in finding.message
    assert list(dns._watches_standby(separate)) == [] and list(dns._watches_standby(own)) == []


@pytest.mark.parametrize(
    ("name", "value", "plain"),
    [
        ("DB_PASSWORD", "hunter2", True),
        ("STRIPE_API_KEY", "sk_live_x", True),
        ("github_token", "ghp_x", True),
        ("DB_PASSWORD_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db", False),
        ("API_KEY_PARAMETER", "/prod/api-key", False),
        ("DB_PASSWORD", "", False),
        ("DB_HOST", "db.example.test", False),
    ],
)
def test_a_secret_is_plain_when_its_name_says_secret_and_its_value_is_not_a_reference(name, value, plain):
    from drillkit.readiness import security

    assert security._plain(name, value) is plain


class RulesSurvey(ReadSurvey):
    """A survey with a primary ALB in us-east-1 and given EventBridge rules and targets."""

    rules: list[dict[str, Any]]
    targets: dict[str, list[dict[str, Any]]]

    def balancer(self, side: Any) -> Any:
        from drillkit.discovery import LoadBalancer

        return LoadBalancer(
            "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/p/1", "p", "us-east-1", "p", "vpc-1", (), ()
        )

    def event_rules(self, region: str) -> list[dict[str, Any]]:
        return self.rules

    def rule_targets(self, region: str, rule_name: str) -> list[dict[str, Any]]:
        return self.targets.get(rule_name, [])


def test_only_enabled_rules_on_failure_events_without_targets_are_reported():
    from drillkit.readiness import detection

    alarm_pattern = '{"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}'
    read = RulesSurvey(scenario=survey({}, {}).scenario, target=survey({}, {}).target, network=Network())
    rule = "arn:aws:events:us-east-1:1:rule/"
    steps = '{"source": ["aws.states"]}'
    read.rules = [
        {"Name": "runbook", "Arn": rule + "runbook", "State": "ENABLED", "EventPattern": alarm_pattern},
        {"Name": "paged", "Arn": rule + "paged", "State": "ENABLED", "EventPattern": alarm_pattern},
        {"Name": "off", "Arn": rule + "off", "State": "DISABLED", "EventPattern": alarm_pattern},
        {"Name": "nightly", "Arn": rule + "nightly", "State": "ENABLED", "ScheduleExpression": "rate(1 day)"},
        {"Name": "steps", "Arn": rule + "steps", "State": "ENABLED", "EventPattern": steps},
    ]
    read.targets = {"paged": [{"Id": "sns", "Arn": "arn:aws:sns:us-east-1:1:alerts"}]}

    findings = list(detection._rules_without_targets(read))

    assert [f.evidence.resource for f in findings] == ["arn:aws:events:us-east-1:1:rule/runbook"]
    assert findings[0].code == "AUTOMATION_RULE_WITHOUT_TARGETS" and not findings[0].blocking


def test_a_standby_check_aimed_at_the_primarys_endpoint_blocks():
    aimed = survey({"hc-s": {"Type": "HTTP", "IPAddress": "192.0.2.10", "Port": 80}}, {})
    own = survey({"hc-s": {"Type": "HTTP", "IPAddress": "198.51.100.20", "Port": 80}}, {})

    [finding] = list(standby._watches_primary(aimed))

    assert finding.code == "STANDBY_HEALTH_CHECK_WATCHES_PRIMARY" and finding.blocking
    assert "requests 192.0.2.10, which is the PRIMARY record p's endpoint" in finding.message
    assert list(standby._watches_primary(own)) == []
