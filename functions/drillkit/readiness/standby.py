"""Standby readiness: before anything is injected, the standby must be shown able to serve.

A drill fails the primary on purpose. If the standby cannot serve at that moment, the drill makes a
two-region outage out of a broken standby. So each of these findings blocks the drill: its load balancer
has a healthy target, its endpoint answers the probe's own request, its health check (if it has one) is
healthy. Each names the standby's resource and what it answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drillkit.findings import Finding, rule
from drillkit.probes import health_check
from drillkit.probes import standby as standby_probe
from drillkit.readiness.survey import Check, Survey

STANDBY_TARGETS_UNHEALTHY = rule(
    "STANDBY_TARGETS_UNHEALTHY",
    "standby",
    "critical",
    True,
    "The standby's load balancer has no healthy target: it cannot serve when the primary fails",
    "Make the standby's targets pass their target group's health check (the reasons are in the evidence) before "
    "drilling; a failover now would leave neither region serving.",
)
STANDBY_NOT_SERVING = rule(
    "STANDBY_NOT_SERVING",
    "standby",
    "critical",
    True,
    "The standby's endpoint does not answer the probe's request with success",
    "Fix the standby until it answers the scenario's request (target.url_scheme, url_port, url_path) with 2xx or "
    "3xx; a failover now would send clients to an endpoint that fails them.",
)
STANDBY_HEALTH_CHECK_UNHEALTHY = rule(
    "STANDBY_HEALTH_CHECK_UNHEALTHY",
    "standby",
    "critical",
    True,
    "The SECONDARY record's health check is not healthy: Route 53 would not fail over to it",
    "Fix what the standby check's checkers report, or its protocol, port and path; with both checks unhealthy "
    "Route 53 answers the primary, so the drill would fail both regions.",
)
STANDBY_HEALTH_CHECK_WATCHES_PRIMARY = rule(
    "STANDBY_HEALTH_CHECK_WATCHES_PRIMARY",
    "standby",
    "critical",
    True,
    "The SECONDARY record's health check requests the primary's endpoint: it fails with the primary",
    "Point the SECONDARY record's health check at the standby's own endpoint; as it is, a primary failure makes "
    "both checks unhealthy and Route 53 answers the failed primary.",
)


# A target counts as able to serve when healthy; a Lambda target group without health checks reports unavailable.
SERVING_STATES = frozenset({"healthy"})
UNCHECKED = ("unavailable", "Target.HealthCheckDisabled")


def _serving(description: dict[str, Any]) -> bool:
    health = description.get("TargetHealth", {})
    return health.get("State") in SERVING_STATES or (health.get("State"), health.get("Reason")) == UNCHECKED


def _describe_target(description: dict[str, Any]) -> str:
    target, health = description.get("Target", {}), description.get("TargetHealth", {})
    where = f"{target.get('Id')}" + (f":{target['Port']}" if target.get("Port") else "")
    why = ", ".join(str(health[k]) for k in ("Reason", "Description") if health.get(k))
    return f"{where} {health.get('State', 'unknown')}" + (f" ({why})" if why else "")


def _targets(survey: Survey) -> Iterator[Finding]:
    balancer = survey.balancer("standby")
    if balancer is None:
        return  # not an ALB (API Gateway, an address): the endpoint check below covers it
    groups = survey.target_groups(balancer)
    described = {arn: survey.target_health(balancer.region, arn) for arn in groups}
    if any(_serving(d) for descriptions in described.values() for d in descriptions):
        return
    said = (
        "; ".join(
            f"{arn}: " + (", ".join(_describe_target(d) for d in descriptions) or "no targets registered")
            for arn, descriptions in described.items()
        )
        or f"load balancer {balancer.name} forwards to no target group"
    )
    yield STANDBY_TARGETS_UNHEALTHY.finding(
        f"the standby's load balancer {balancer.name} ({balancer.region}) has no healthy target: {said}",
        "elasticloadbalancing:DescribeTargetHealth",
        ", ".join(groups) or balancer.arn,
        said,
    )


def _endpoint(survey: Survey) -> Iterator[Finding]:
    endpoint = survey.target.standby
    if endpoint is None:
        return
    answer = standby_probe.request(
        endpoint, survey.target.record_name, survey.scenario.target, survey.network, survey.probe_timeout
    )
    if answer.ok:
        return
    said = answer.error or f"HTTP {answer.status} {answer.reason or ''}".rstrip()
    yield STANDBY_NOT_SERVING.finding(
        f"the standby {endpoint.set_identifier} ({', '.join(endpoint.values)}, at {answer.address or 'no address'}) "
        f"answered GET {answer.url} with {said}",
        "HTTP GET (drillkit's own request, as the probe makes it)",
        ", ".join(endpoint.values),
        said,
    )


def _health_check(survey: Survey) -> Iterator[Finding]:
    endpoint = survey.target.standby
    if endpoint is None or not endpoint.health_check_id:
        return
    config = survey.health_check(endpoint.health_check_id)
    if str(config.get("Type", "")) in ("CALCULATED", "RECOVERY_CONTROL"):
        return
    observations = survey.health_check_status(endpoint.health_check_id)
    if not observations:
        return
    healthy, share = health_check.evaluate(observations, bool(config.get("Inverted")), bool(config.get("Disabled")))
    if healthy:
        return
    reports = "; ".join(health_check.failure_reports(observations)) or "every checker reports success (the check is Inverted)"
    yield STANDBY_HEALTH_CHECK_UNHEALTHY.finding(
        f"the SECONDARY record {endpoint.set_identifier}'s health check {endpoint.health_check_id} is not healthy "
        f"({share:.0%} of checkers report success): it requests {health_check.describe_watch(health_check.watches(config))}; "
        f"Route 53's checkers report: {reports}",
        "route53:GetHealthCheckStatus",
        endpoint.health_check_id,
        reports,
    )


def _name(value: str) -> str:
    return value.rstrip(".").lower().removeprefix("dualstack.")


def _watches_primary(survey: Survey) -> Iterator[Finding]:
    endpoint = survey.target.standby
    if endpoint is None or not endpoint.health_check_id:
        return
    config = survey.health_check(endpoint.health_check_id)
    watched = str(config.get("FullyQualifiedDomainName") or config.get("IPAddress") or "")
    if not watched or _name(watched) in {_name(v) for v in endpoint.values}:
        return
    if _name(watched) not in {_name(v) for v in survey.target.primary.values}:
        return
    yield STANDBY_HEALTH_CHECK_WATCHES_PRIMARY.finding(
        f"the SECONDARY record {endpoint.set_identifier}'s health check {endpoint.health_check_id} requests {watched}, "
        f"which is the PRIMARY record {survey.target.primary.set_identifier}'s endpoint: when the primary fails both "
        "checks fail and Route 53 keeps answering the primary",
        "route53:GetHealthCheck",
        endpoint.health_check_id,
        f"FullyQualifiedDomainName/IPAddress {watched}",
    )


CHECKS = [
    Check("standby-targets", _targets, safety=True),
    Check("standby-endpoint", _endpoint, safety=True),
    Check("standby-health-check", _health_check, safety=True),
    Check("standby-health-check-endpoint", _watches_primary, safety=True),
]
