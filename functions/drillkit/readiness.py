"""Readiness: static checks of the target stack, read-only, before anything is touched.

A blocking finding means the drill cannot prove anything (there is nothing to fail over to, or
the primary's health check can never pass): the drill ends FAIL with that finding and injects
nothing. Other findings are reported with the drill's results.
"""

from __future__ import annotations

from typing import Any

from drillkit import aws
from drillkit.discovery import listeners, load_balancer_at
from drillkit.errors import AwsCallFailed, StopConditionActive, TargetNotFound
from drillkit.model import ResolvedTarget
from drillkit.spec import AlarmRef, Scenario

# Route 53 health check types and the listener protocol each one needs.
CHECK_PROTOCOL = {"HTTP": "HTTP", "HTTP_STR_MATCH": "HTTP", "HTTPS": "HTTPS", "HTTPS_STR_MATCH": "HTTPS", "TCP": None}
# Types without checkers of their own: GetHealthCheckStatus has no observations to give for them.
STATUSLESS_TYPES = frozenset({"CALCULATED", "RECOVERY_CONTROL"})


def _finding(severity: str, code: str, message: str, evidence: str, remedy: str, blocking: bool) -> dict[str, Any]:
    return {"severity": severity, "code": code, "message": message, "evidence": evidence, "remedy": remedy, "blocking": blocking}


def check(scenario: Scenario, target: ResolvedTarget) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    where = f"{target.record_name} {target.record_type}"
    if target.standby is None:
        findings.append(
            _finding(
                "critical",
                "NO_SECONDARY_RECORD",
                f"no SECONDARY failover record for {where}: when the primary fails, Route 53 has nothing to fail over to",
                f"route53:ListResourceRecordSets on zone {target.hosted_zone_id}",
                "Create a SECONDARY failover record with the same name and type that points at the standby region.",
                True,
            )
        )
    if not target.primary.health_check_id:
        findings.append(
            _finding(
                "critical",
                "PRIMARY_WITHOUT_HEALTH_CHECK",
                f"the PRIMARY failover record {target.primary.set_identifier} of {where} has no health check: "
                "Route 53 never sees the primary fail",
                f"route53:ListResourceRecordSets on zone {target.hosted_zone_id}",
                "Associate a health check that monitors the primary endpoint with the PRIMARY record.",
                True,
            )
        )
    else:
        with aws.aws_call("GetHealthCheck", target.primary.health_check_id):
            config = aws.target_client("route53").get_health_check(HealthCheckId=target.primary.health_check_id)["HealthCheck"][
                "HealthCheckConfig"
            ]
        findings += _health_check_without_status(target.primary.health_check_id, config)
        findings += _health_check_matches_listener(target.primary.health_check_id, config)
    findings += _alarms(scenario)
    _stop_conditions_quiet(scenario)
    return findings


def _described_alarm(field: str, alarm: AlarmRef) -> dict[str, Any]:
    """The alarm as CloudWatch describes it; one the scenario names but that cannot be read is an input error."""
    try:
        with aws.aws_call("DescribeAlarms", alarm.name):
            found = aws.target_client("cloudwatch", alarm.region).describe_alarms(AlarmNames=[alarm.name])["MetricAlarms"]
    except AwsCallFailed as error:
        raise TargetNotFound(f"{field}: cannot read alarm {alarm.name} in {alarm.region}: {error}") from None
    if not found:
        raise TargetNotFound(f"{field}: no alarm {alarm.name} in {alarm.region}")
    return dict(found[0])


def _stop_conditions_quiet(scenario: Scenario) -> None:
    """A stop condition already in ALARM (or missing) refuses the drill before anything is touched."""
    for index, alarm in enumerate(scenario.stop_conditions):
        described = _described_alarm(f"stop_conditions.{index}.name", alarm)
        if described.get("StateValue") == "ALARM":
            raise StopConditionActive(
                f"stop_conditions.{index}.name: alarm {alarm.name} ({alarm.region}) is in ALARM: "
                f"the drill does not start while a stop condition fires ({described.get('StateReason', '')})"
            )


def _health_check_without_status(health_check_id: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    """Calculated and recovery-control checks have no checkers: GetHealthCheckStatus cannot read them."""
    check_type = str(config.get("Type", ""))
    if check_type not in STATUSLESS_TYPES:
        return []
    return [
        _finding(
            "critical",
            "HEALTH_CHECK_STATUS_UNREADABLE",
            f"the PRIMARY record's health check {health_check_id} is of type {check_type}: Route 53's GetHealthCheckStatus "
            "does not report it, so the drill cannot see the primary's status (steady state, detection)",
            f"route53:GetHealthCheck {health_check_id}",
            "Drill with a health check that monitors the endpoint (HTTP, HTTPS or TCP) on the PRIMARY record; a calculated "
            "check's status is only in the CloudWatch HealthCheckStatus metric (AWS/Route53, us-east-1).",
            True,
        )
    ]


def _health_check_matches_listener(health_check_id: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    name = config.get("FullyQualifiedDomainName") or ""
    balancer = load_balancer_at(name)
    if balancer is None:
        return []  # not aimed at a load balancer by name: nothing to compare with
    check_type = str(config.get("Type", "HTTP"))
    protocol = CHECK_PROTOCOL.get(check_type)
    port = int(config.get("Port") or (443 if protocol == "HTTPS" else 80))
    listening = listeners(balancer)
    if any(p == port and (protocol is None or p_protocol == protocol) for p_protocol, p in listening):
        return []
    said = ", ".join(f"{p_protocol}:{p}" for p_protocol, p in listening) or "nothing"
    return [
        _finding(
            "critical",
            "HEALTH_CHECK_LISTENER_MISMATCH",
            f"Route 53 health check {health_check_id} probes {protocol or 'TCP'}:{port} on {name}, but load balancer "
            f"{balancer.name} listens on {said}: the check can never pass, so Route 53 already treats the primary as failed",
            f"route53:GetHealthCheck {health_check_id}; elasticloadbalancing:DescribeListeners {balancer.arn}",
            "Make the health check's protocol and port match a listener of the load balancer (or add that listener).",
            True,
        )
    ]


def _alarms(scenario: Scenario) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    for index, alarm in enumerate(scenario.alarms):
        described = _described_alarm(f"alarms.{index}.name", alarm)
        if not described.get("AlarmActions"):
            findings.append(
                _finding(
                    "medium",
                    "ALARM_WITHOUT_ACTIONS",
                    f"alarm {alarm.name} ({alarm.region}) has no alarm actions: when it fires, nobody is notified",
                    f"cloudwatch:DescribeAlarms {alarm.name}",
                    "Add an SNS topic (or another action) that pages the on-call team to the alarm's AlarmActions.",
                    False,
                )
            )
        for dimension in described.get("Dimensions", []):
            if dimension.get("Name") in ("LoadBalancer", "TargetGroup") and str(dimension.get("Value", "")).startswith("arn:"):
                findings.append(
                    _finding(
                        "high",
                        "ALARM_DIMENSION_IS_ARN",
                        f"alarm {alarm.name} ({alarm.region}) has dimension {dimension['Name']}={dimension['Value']}: "
                        "CloudWatch publishes this dimension as the ARN's final part (app/name/id), so the alarm never "
                        "has data and never fires",
                        f"cloudwatch:DescribeAlarms {alarm.name}",
                        f"Set the {dimension['Name']} dimension to the part of the ARN after ':loadbalancer/' "
                        "(or ':' for target groups).",
                        False,
                    )
                )
    return findings
