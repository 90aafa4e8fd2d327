"""DNS failover wiring: the failover records, the primary's health check, and what that check watches.

When the primary's health check is not healthy, the finding names the cause in Route 53's words (the
checkers' StatusReport texts), the check's protocol, port and path, and what drillkit's own request to the
same endpoint answered.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import dns.exception

from drillkit.findings import Finding, rule
from drillkit.probes import health_check, sides
from drillkit.readiness.survey import Check, Survey

# Route 53 health check types and the listener protocol each one needs.
CHECK_PROTOCOL = {"HTTP": "HTTP", "HTTP_STR_MATCH": "HTTP", "HTTPS": "HTTPS", "HTTPS_STR_MATCH": "HTTPS", "TCP": None}
# Types without checkers of their own: GetHealthCheckStatus has no observations to give for them.
STATUSLESS_TYPES = frozenset({"CALCULATED", "RECOVERY_CONTROL"})

NO_SECONDARY_RECORD = rule(
    "NO_SECONDARY_RECORD",
    "dns",
    "critical",
    True,
    "No SECONDARY failover record: nothing to fail over to",
    "Create a SECONDARY failover record with the same name and type that points at the standby region.",
)
PRIMARY_WITHOUT_HEALTH_CHECK = rule(
    "PRIMARY_WITHOUT_HEALTH_CHECK",
    "dns",
    "critical",
    True,
    "The PRIMARY failover record has no health check: Route 53 never sees the primary fail",
    "Associate a health check that monitors the primary endpoint with the PRIMARY record.",
)
HEALTH_CHECK_STATUS_UNREADABLE = rule(
    "HEALTH_CHECK_STATUS_UNREADABLE",
    "dns",
    "critical",
    True,
    "The PRIMARY record's health check is calculated (or recovery control): GetHealthCheckStatus cannot report it",
    "Drill with a health check that monitors the endpoint (HTTP, HTTPS or TCP) on the PRIMARY record; a calculated "
    "check's status is only in the CloudWatch HealthCheckStatus metric (AWS/Route53, us-east-1).",
)
HEALTH_CHECK_LISTENER_MISMATCH = rule(
    "HEALTH_CHECK_LISTENER_MISMATCH",
    "dns",
    "critical",
    True,
    "The primary's health check probes a protocol and port its load balancer does not listen on",
    "Make the health check's protocol and port match a listener of the load balancer (or add that listener).",
)
PRIMARY_HEALTH_CHECK_UNHEALTHY = rule(
    "PRIMARY_HEALTH_CHECK_UNHEALTHY",
    "dns",
    "high",
    False,
    "The primary's health check is not healthy before the drill: Route 53 already treats the primary as failed",
    "Fix what the checkers report (the status code, the connection error, the missing search string) or the "
    "check's protocol, port and path; steady state is not reached until the check is healthy.",
)

PRIMARY_HEALTH_CHECK_WATCHES_STANDBY = rule(
    "PRIMARY_HEALTH_CHECK_WATCHES_STANDBY",
    "dns",
    "critical",
    True,
    "The PRIMARY record's health check requests the standby's endpoint: Route 53 never sees the primary fail",
    "Point the PRIMARY record's health check at the primary's endpoint (its load balancer's DNS name or address); "
    "a drill now would fail the primary while Route 53 keeps answering it.",
)


def _name(value: str) -> str:
    return value.rstrip(".").lower().removeprefix("dualstack.")


def _no_secondary(survey: Survey) -> Iterator[Finding]:
    target = survey.target
    if target.standby is None:
        yield NO_SECONDARY_RECORD.finding(
            f"no SECONDARY failover record for {target.record_name} {target.record_type}: when the primary fails, "
            "Route 53 has nothing to fail over to",
            "route53:ListResourceRecordSets",
            target.hosted_zone_id,
        )


def _primary_health_check(survey: Survey) -> Iterator[Finding]:
    target = survey.target
    if not target.primary.health_check_id:
        yield PRIMARY_WITHOUT_HEALTH_CHECK.finding(
            f"the PRIMARY failover record {target.primary.set_identifier} of {target.record_name} {target.record_type} "
            "has no health check: Route 53 never sees the primary fail",
            "route53:ListResourceRecordSets",
            target.hosted_zone_id,
        )


def _status_readable(survey: Survey) -> Iterator[Finding]:
    health_check_id = survey.target.primary.health_check_id
    if not health_check_id:
        return
    check_type = str(survey.health_check(health_check_id).get("Type", ""))
    if check_type in STATUSLESS_TYPES:
        yield HEALTH_CHECK_STATUS_UNREADABLE.finding(
            f"the PRIMARY record's health check {health_check_id} is of type {check_type}: Route 53's GetHealthCheckStatus "
            "does not report it, so the drill cannot see the primary's status (steady state, detection)",
            "route53:GetHealthCheck",
            health_check_id,
        )


def _matches_listener(survey: Survey) -> Iterator[Finding]:
    health_check_id = survey.target.primary.health_check_id
    if not health_check_id:
        return
    config = survey.health_check(health_check_id)
    name = str(config.get("FullyQualifiedDomainName") or "")
    balancer = survey.balancer_at(name) if name else None
    if balancer is None:
        return  # not aimed at a load balancer by name: nothing to compare with
    check_type = str(config.get("Type", "HTTP"))
    if check_type not in CHECK_PROTOCOL:
        return
    protocol = CHECK_PROTOCOL[check_type]
    port = int(config.get("Port") or (443 if protocol == "HTTPS" else 80))
    listening = [(str(item.get("Protocol", "")), int(item.get("Port", 0))) for item in survey.listeners(balancer)]
    if any(p == port and (protocol is None or p_protocol == protocol) for p_protocol, p in listening):
        return
    said = ", ".join(f"{p_protocol}:{p}" for p_protocol, p in listening) or "nothing"
    yield HEALTH_CHECK_LISTENER_MISMATCH.finding(
        f"Route 53 health check {health_check_id} probes {protocol or 'TCP'}:{port} on {name}, but load balancer "
        f"{balancer.name} listens on {said}: the check can never pass, so Route 53 already treats the primary as failed",
        "route53:GetHealthCheck; elasticloadbalancing:DescribeListeners",
        f"{health_check_id}; {balancer.arn}",
        said,
    )


def _watches_standby(survey: Survey) -> Iterator[Finding]:
    health_check_id, standby = survey.target.primary.health_check_id, survey.target.standby
    if not health_check_id or standby is None:
        return
    config = survey.health_check(health_check_id)
    watched = str(config.get("FullyQualifiedDomainName") or config.get("IPAddress") or "")
    if not watched or _name(watched) in {_name(v) for v in survey.target.primary.values}:
        return
    if _name(watched) not in {_name(v) for v in standby.values}:
        return  # a separate health endpoint is legitimate: only the standby's own endpoint is a defect
    yield PRIMARY_HEALTH_CHECK_WATCHES_STANDBY.finding(
        f"the PRIMARY record's health check {health_check_id} requests {watched}, which is the SECONDARY record "
        f"{standby.set_identifier}'s endpoint: when the primary fails the check stays healthy and Route 53 keeps "
        "sending clients to the failed primary",
        "route53:GetHealthCheck",
        health_check_id,
        f"FullyQualifiedDomainName/IPAddress {watched}",
    )


def own_request(config: dict[str, Any], survey: Survey) -> str:
    """What the check's endpoint answers drillkit's own request, made as Route 53's checkers make it
    (same protocol, port, path and Host; certificates not validated; the search string looked for)."""
    check_type = str(config.get("Type", "HTTP"))
    timeout = survey.probe_timeout
    host = config.get("FullyQualifiedDomainName") or ""
    try:
        address = config.get("IPAddress") or sides.resolve(str(host), "A", survey.network, timeout)[0]
    except (dns.exception.DNSException, OSError, IndexError) as error:
        return f"resolve {host}: {type(error).__name__}: {error}"
    logical_port = int(config.get("Port") or (443 if check_type.startswith("HTTPS") else 80))
    port = survey.network.ports.get(logical_port, logical_port)
    where = f"{check_type} {host or address}:{logical_port}"
    try:
        if check_type == "TCP":
            with socket.create_connection((address, port), timeout=timeout):
                return f"{where}: connection established"
        path = str(config.get("ResourcePath") or "/")
        if check_type.startswith("HTTPS"):
            unverified = ssl.create_default_context()
            unverified.check_hostname = False
            unverified.verify_mode = ssl.CERT_NONE
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                address, port, timeout=timeout, context=unverified
            )
        else:
            connection = http.client.HTTPConnection(address, port, timeout=timeout)
        try:
            connection.request("GET", path, headers={"Host": str(host or address), "User-Agent": "drillkit-readiness"})
            response = connection.getresponse()
            body = response.read(5120)
        finally:
            connection.close()
    except (OSError, http.client.HTTPException) as error:
        return f"{where}{config.get('ResourcePath') or ''}: {type(error).__name__}: {error}"
    said = f"{where}{path}: HTTP {response.status} {response.reason}"
    search = config.get("SearchString")
    if check_type.endswith("STR_MATCH") and search and str(search).encode() not in body:
        said += f", without {search!r} in the first 5120 bytes of the body"
    return said


def _primary_healthy(survey: Survey) -> Iterator[Finding]:
    health_check_id = survey.target.primary.health_check_id
    if not health_check_id:
        return
    config = survey.health_check(health_check_id)
    if str(config.get("Type", "")) in STATUSLESS_TYPES:
        return
    observations = survey.health_check_status(health_check_id)
    if not observations:
        return  # a new check has no observations yet: steady state waits for them
    healthy, share = health_check.evaluate(observations, bool(config.get("Inverted")), bool(config.get("Disabled")))
    if healthy:
        return
    reports = "; ".join(health_check.failure_reports(observations)) or "every checker reports success (the check is Inverted)"
    own = own_request(config, survey)
    yield PRIMARY_HEALTH_CHECK_UNHEALTHY.finding(
        f"the PRIMARY record's health check {health_check_id} is not healthy ({share:.0%} of checkers report success): "
        f"it requests {health_check.describe_watch(health_check.watches(config))}; Route 53's checkers report: {reports}; "
        f"drillkit's own request: {own}",
        "route53:GetHealthCheckStatus",
        health_check_id,
        reports,
    )


CHECKS = [
    Check("secondary-record", _no_secondary, safety=True),
    Check("primary-health-check", _primary_health_check, safety=True),
    Check("primary-health-check-type", _status_readable, safety=True),
    Check("primary-health-check-listener", _matches_listener, safety=True),
    Check("primary-health-check-endpoint", _watches_standby, safety=True),
    Check("primary-health-check-status", _primary_healthy, safety=True),
]
