"""Detection wiring: alarms that watch the primary, notify someone, and can ever see data.

The scenario's own alarms are described by name (one that cannot be read is an input error, as is a stop
condition already in ALARM); the search for any alarm on the primary reads every metric alarm of the two
regions involved (us-east-1 for Route 53 health check metrics, the primary load balancer's region).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from drillkit import aws
from drillkit.errors import AwsCallFailed, StopConditionActive, TargetNotFound
from drillkit.findings import Finding, rule
from drillkit.model import Side
from drillkit.readiness.survey import Check, Survey
from drillkit.spec import AlarmRef

ROUTE53_METRICS_REGION = "us-east-1"  # Route 53 publishes HealthCheckStatus only there

ALARM_WITHOUT_ACTIONS = rule(
    "ALARM_WITHOUT_ACTIONS",
    "detection",
    "medium",
    False,
    "An alarm the scenario names has no alarm actions: when it fires, nobody is notified",
    "Add an SNS topic (or another action) that pages the on-call team to the alarm's AlarmActions.",
)
ALARM_DIMENSION_IS_ARN = rule(
    "ALARM_DIMENSION_IS_ARN",
    "detection",
    "high",
    False,
    "An alarm names its load balancer or target group by ARN: CloudWatch never has data for it",
    "Set the dimension to the part of the ARN after ':loadbalancer/' (or ':' for target groups).",
)
NO_ALARM_ON_PRIMARY = rule(
    "NO_ALARM_ON_PRIMARY",
    "detection",
    "high",
    False,
    "No CloudWatch alarm watches the primary (its Route 53 health check or its load balancer)",
    "Create an alarm on the primary health check's HealthCheckStatus (AWS/Route53, us-east-1) or on the primary "
    "load balancer's UnHealthyHostCount / HTTPCode_ELB_5XX_Count, with an action that pages the on-call team.",
)

AUTOMATION_RULE_WITHOUT_TARGETS = rule(
    "AUTOMATION_RULE_WITHOUT_TARGETS",
    "detection",
    "medium",
    False,
    "An enabled EventBridge rule reacting to failure events (alarms, health, Route 53, RDS, ELB) has no targets",
    "Add the target the automation was meant to run (an SNS topic, a Lambda function, a Step Functions state "
    "machine, an SSM runbook) or delete the rule; a rule without targets matches events and does nothing.",
)
# Event sources a DR automation reacts to: a rule on one of these without targets is automation that never runs.
FAILURE_SOURCES = ("aws.cloudwatch", "aws.health", "aws.route53", "aws.rds", "aws.elasticloadbalancing")
RULES_PER_REGION = 300  # EventBridge's default quota of rules per bus; more is not read (bounded)


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


def stop_conditions_quiet(survey: Survey) -> None:
    """A stop condition already in ALARM (or missing) refuses the drill before anything is touched."""
    for index, alarm in enumerate(survey.scenario.stop_conditions):
        described = _described_alarm(f"stop_conditions.{index}.name", alarm)
        if described.get("StateValue") == "ALARM":
            raise StopConditionActive(
                f"stop_conditions.{index}.name: alarm {alarm.name} ({alarm.region}) is in ALARM: "
                f"the drill does not start while a stop condition fires ({described.get('StateReason', '')})"
            )


def _scenario_alarms(survey: Survey) -> Iterator[Finding]:
    for index, alarm in enumerate(survey.scenario.alarms):
        described = _described_alarm(f"alarms.{index}.name", alarm)
        if not described.get("AlarmActions"):
            yield ALARM_WITHOUT_ACTIONS.finding(
                f"alarm {alarm.name} ({alarm.region}) has no alarm actions: when it fires, nobody is notified",
                "cloudwatch:DescribeAlarms",
                alarm.name,
            )
        for dimension in described.get("Dimensions", []):
            if dimension.get("Name") in ("LoadBalancer", "TargetGroup") and str(dimension.get("Value", "")).startswith("arn:"):
                yield ALARM_DIMENSION_IS_ARN.finding(
                    f"alarm {alarm.name} ({alarm.region}) has dimension {dimension['Name']}={dimension['Value']}: "
                    "CloudWatch publishes this dimension as the ARN's final part (app/name/id), so the alarm never "
                    "has data and never fires",
                    "cloudwatch:DescribeAlarms",
                    alarm.name,
                    remedy=f"Set the {dimension['Name']} dimension to the part of the ARN after ':loadbalancer/' "
                    "(or ':' for target groups).",
                )


def _watches(alarm: dict[str, Any], dimension: str, values: set[str]) -> bool:
    dimensions = list(alarm.get("Dimensions") or [])
    for query in alarm.get("Metrics") or []:  # metric-math alarms carry their metrics here
        dimensions += (query.get("MetricStat") or {}).get("Metric", {}).get("Dimensions", [])
    return any(d.get("Name") == dimension and d.get("Value") in values for d in dimensions)


def _alarm_on_primary(survey: Survey) -> Iterator[Finding]:
    watched: list[str] = []
    health_check_id = survey.target.primary.health_check_id
    if health_check_id:
        watched.append(f"health check {health_check_id} (HealthCheckId, {ROUTE53_METRICS_REGION})")
        if any(_watches(a, "HealthCheckId", {health_check_id}) for a in survey.metric_alarms(ROUTE53_METRICS_REGION)):
            return
    balancer = survey.balancer("primary")
    if balancer is not None:
        load_balancer = balancer.arn.split(":loadbalancer/")[-1]
        groups = {arn.split(":")[-1] for arn in survey.target_groups(balancer)}
        watched.append(f"load balancer {load_balancer} (LoadBalancer/TargetGroup, {balancer.region})")
        alarms = survey.metric_alarms(balancer.region)
        if any(_watches(a, "LoadBalancer", {load_balancer}) or _watches(a, "TargetGroup", groups) for a in alarms):
            return
    if not watched:
        return  # nothing to look for: the wiring findings say why
    regions = sorted({ROUTE53_METRICS_REGION if health_check_id else "", balancer.region if balancer else ""} - {""})
    yield NO_ALARM_ON_PRIMARY.finding(
        f"no CloudWatch alarm watches the primary: none of the metric alarms in {', '.join(regions)} has a dimension "
        f"naming {' or '.join(watched)}: when the primary fails, no one is alerted",
        "cloudwatch:DescribeAlarms",
        ", ".join(regions),
    )


def _failure_sources(rule_description: dict[str, Any]) -> list[str]:
    try:
        pattern = json.loads(rule_description.get("EventPattern") or "{}")
    except ValueError:
        return []
    sources = pattern.get("source", []) if isinstance(pattern, dict) else []
    return [s for s in sources if isinstance(s, str) and s in FAILURE_SOURCES]


def _rules_without_targets(survey: Survey) -> Iterator[Finding]:
    sides: tuple[Side, ...] = ("primary", "standby")
    regions = sorted({b.region for b in (survey.balancer(side) for side in sides) if b is not None})
    for region in regions:
        for described in survey.event_rules(region)[:RULES_PER_REGION]:
            sources = _failure_sources(described)
            if described.get("State") != "ENABLED" or not sources:
                continue
            if survey.rule_targets(region, str(described["Name"])):
                continue
            yield AUTOMATION_RULE_WITHOUT_TARGETS.finding(
                f"EventBridge rule {described['Name']} ({region}) matches {', '.join(sources)} events but has no targets: "
                "the automation it stands for never runs",
                "events:ListTargetsByRule",
                str(described.get("Arn") or described["Name"]),
                "0 targets",
            )


CHECKS = [
    Check("scenario-alarms", _scenario_alarms),
    Check("alarm-on-primary", _alarm_on_primary),
    Check("automation-rules", _rules_without_targets),
]
