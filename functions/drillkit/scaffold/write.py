"""The scenario `drillkit init` writes: timings sized from what AWS does with the discovered configuration, as
commented YAML that the Scenario model accepts (checked before a byte is written)."""

from __future__ import annotations

import json
import math
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from drillkit.errors import ScenarioInvalid, TargetNotFound
from drillkit.scaffold.discover import DiscoveredStack, SideFacts
from drillkit.spec import Sampling, Scenario, parse_scenario

InitFault = Literal["health-check-inversion", "fail-targets", "block-primary-alb", "stop-cluster"]
# Route 53's defaults for a health check that does not say (RequestInterval 30 s, FailureThreshold 3).
ROUTE53_DEFAULT_INTERVAL, ROUTE53_DEFAULT_THRESHOLD = 30, 3
ALIAS_TTL_SECONDS = 60  # Route 53 answers an alias to a load balancer with a 60 s TTL
PROPAGATION_SECONDS = 60  # Route 53: changes generally reach all its name servers within 60 s
METRIC_PERIOD_SECONDS = 60  # Route 53 publishes HealthCheckStatus to CloudWatch once a minute
MIN_WAIT, MAX_WAIT = 60.0, 3600.0  # the scenario's bounds on its waits (Sampling)


class Timed(BaseModel):
    """A number the scenario gets and the sentence that says where it comes from."""

    model_config = ConfigDict(frozen=True)
    seconds: float
    why: str


class Timings(BaseModel):
    model_config = ConfigDict(frozen=True)
    interval: Timed
    steady_state_timeout: Timed
    observe_timeout: Timed
    restore_timeout: Timed
    detection: Timed
    dns_cutover: Timed
    client_cutover: Timed
    recovery: Timed
    alerting: Timed | None


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _half_up(value: float) -> float:
    return math.ceil(value * 2) / 2


def timings(stack: DiscoveredStack, fault: InitFault) -> Timings:
    """The scenario's timings from the primary's health check, the record's TTL and the target groups."""
    check = stack.primary.health_check
    every = (check.request_interval_seconds if check else None) or ROUTE53_DEFAULT_INTERVAL
    threshold = (check.failure_threshold if check else None) or ROUTE53_DEFAULT_THRESHOLD
    ttl = stack.primary.ttl_seconds if stack.primary.ttl_seconds is not None else ALIAS_TTL_SECONDS
    source = f"the primary's health check (RequestInterval {every} s x FailureThreshold {threshold})"
    interval = _half_up(_clamp(every / 2, 0.5, 5))
    detection = every * (threshold + 1) + interval
    dns = detection + PROPAGATION_SECONDS
    client = dns + ttl
    defaults = Sampling()
    samples, recovery = defaults.steady_state_samples, client + defaults.hold_samples * interval
    groups = stack.primary.balancer.target_groups if stack.primary.balancer else ()
    drain = max((g.deregistration_delay_seconds for g in groups), default=0)
    back_in_service = max((g.health_interval_seconds * g.healthy_threshold for g in groups), default=0)
    observe = _clamp(2 * recovery + (drain if fault == "fail-targets" else 0), MIN_WAIT, MAX_WAIT)
    restore = _clamp(every * threshold + ttl + back_in_service + every, MIN_WAIT, MAX_WAIT)
    fastest = min(stack.alarms, key=lambda a: a.period_seconds * a.evaluation_periods, default=None)
    return Timings(
        interval=Timed(seconds=interval, why=f"half the health check's {every} s interval (0.5-5 s): each reading is seen"),
        steady_state_timeout=Timed(
            seconds=_clamp(2 * every * threshold + samples * interval, MIN_WAIT, MAX_WAIT),
            why=f"twice {source}: long enough for checkers that just recovered to agree",
        ),
        observe_timeout=Timed(
            seconds=observe,
            why="twice the expected recovery" + (f", plus the {drain} s deregistration delay" if fault == "fail-targets" else ""),
        ),
        restore_timeout=Timed(
            seconds=restore,
            why=f"the check turning healthy again ({every} s x {threshold}), the {ttl} s TTL, "
            f"{back_in_service} s for re-registered targets to pass the target group's health check, and one interval more",
        ),
        detection=Timed(seconds=detection, why=f"{source}, plus one for the checkers' stagger, plus a sample"),
        dns_cutover=Timed(seconds=dns, why=f"detection plus {PROPAGATION_SECONDS} s for Route 53 to answer SECONDARY"),
        client_cutover=Timed(seconds=client, why=f"DNS cutover plus the record's {ttl} s TTL (what a caching resolver may hold)"),
        recovery=Timed(seconds=recovery, why="client cutover plus the samples a recovery must hold; put your RTO"),
        alerting=Timed(
            seconds=detection + max(METRIC_PERIOD_SECONDS, fastest.period_seconds * fastest.evaluation_periods),
            why=f"detection plus {fastest.name}'s {fastest.evaluation_periods} x {fastest.period_seconds} s evaluation "
            f"(at least the metric's {METRIC_PERIOD_SECONDS} s period)",
        )
        if fastest
        else None,
    )


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}"
    return json.dumps(value)


def _line(indent: int, key: str, value: object, why: str = "") -> str:
    text = f"{'  ' * indent}{key}: {_value(value)}"
    return f"{text}  # {why}" if why else text


def _url(primary: SideFacts) -> tuple[str, int | None, str]:
    listeners = primary.balancer.listeners if primary.balancer else ()
    for protocol, port in listeners:
        if protocol == "HTTPS":
            return "https", None if port == 443 else port, f"the primary ALB's HTTPS listener on {port}"
    for protocol, port in listeners:
        if protocol == "HTTP":
            return "http", None if port == 80 else port, f"the primary ALB's HTTP listener on {port} (no HTTPS listener)"
    check = primary.health_check
    if check and check.type.startswith("HTTP") and not check.type.startswith("HTTPS"):
        return "http", None, "the primary's health check speaks HTTP"
    return "https", None, "no listener found: HTTPS assumed"


def _fault_lines(stack: DiscoveredStack, fault: InitFault) -> list[str]:
    lines = ["fault:", _line(1, "type", fault)]
    if fault == "health-check-inversion":
        if stack.primary.health_check is None:
            raise TargetNotFound(f"--fault health-check-inversion: the PRIMARY record of {stack.record_name} has no health check")
        lines.append(_line(1, "record", "primary", f"inverts health check {stack.primary.health_check.id}; restore puts it back"))
    elif fault in ("fail-targets", "block-primary-alb"):
        if stack.primary.balancer is None:
            raise TargetNotFound(f"--fault {fault}: the PRIMARY record of {stack.record_name} does not point at a load balancer")
        balancer = stack.primary.balancer
        lines.append(f"  # acts on the primary ALB the record points at: {balancer.name} ({balancer.region})")
    else:
        if stack.global_cluster is None:
            raise TargetNotFound("--fault stop-cluster: no Aurora global cluster has its writer in the primary's region")
        failover = f"unplanned failover of global cluster {stack.global_cluster.identifier}"
        lines.append(_line(1, "method", "global-failover", failover))
        lines.append(_line(1, "cluster", stack.global_cluster.primary_cluster_arn, "the writer today"))
    return lines


def _objective_lines(times: Timings, has_heartbeat: bool) -> list[str]:
    lines = ["objectives:  # expected from the configuration above; set your own targets (seconds after injection)"]
    lines.append(_line(1, "detection_seconds", times.detection.seconds, times.detection.why))
    if times.alerting:
        lines.append(_line(1, "alerting_seconds", times.alerting.seconds, times.alerting.why))
    lines.append(_line(1, "dns_cutover_seconds", times.dns_cutover.seconds, times.dns_cutover.why))
    lines.append(_line(1, "client_cutover_seconds", times.client_cutover.seconds, times.client_cutover.why))
    lines.append(_line(1, "recovery_seconds", times.recovery.seconds, times.recovery.why))
    if has_heartbeat:
        lines.append("  # rpo_seconds: 1  # your RPO target: the heartbeat below measures it")
    return lines


def _sampling_lines(times: Timings) -> list[str]:
    return [
        "sampling:",
        _line(1, "interval_seconds", times.interval.seconds, times.interval.why),
        _line(1, "steady_state_timeout_seconds", times.steady_state_timeout.seconds, times.steady_state_timeout.why),
        _line(1, "observe_timeout_seconds", times.observe_timeout.seconds, times.observe_timeout.why),
        _line(1, "restore_timeout_seconds", times.restore_timeout.seconds, times.restore_timeout.why),
    ]


def _data_lines(stack: DiscoveredStack) -> list[str]:
    cluster = stack.global_cluster
    if cluster is None or cluster.standby_cluster_arn is None:
        return ["# data: no Aurora global cluster with its writer in the primary's region was found: no RPO heartbeat"]
    body = [
        "heartbeat:  # one row per interval through the RDS Data API: measures the RPO",
        _line(1, "primary_cluster_arn", cluster.primary_cluster_arn, f"writer of global cluster {cluster.identifier}"),
        _line(1, "standby_cluster_arn", cluster.standby_cluster_arn, "its secondary in the standby's region"),
    ]
    if cluster.secret_arn:
        body.append(_line(1, "secret_arn", cluster.secret_arn, "the writer's master user secret (managed by RDS)"))
        return ["data:"] + [f"  {line}" for line in body]
    body.append("  secret_arn: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME  # the Data API's credentials: set it")
    note = "# data:  (uncomment and name the Data API's secret: RDS does not manage this cluster's)"
    return [note] + [f"#   {line}" for line in body]


def _header(stack: DiscoveredStack, fault: InitFault) -> list[str]:
    lines = [
        f"# Written by `drillkit init` from {stack.record_name} {stack.record_type} in {stack.hosted_zone}: a {fault} drill.",
        "# Found (read-only):",
    ]
    for side in (stack.primary, stack.standby):
        if side is None:
            lines.append("#   SECONDARY: none (readiness will refuse the drill until the record has one)")
            continue
        check = side.health_check
        ttl = f"TTL {side.ttl_seconds} s" if side.ttl_seconds is not None else f"alias (answered with TTL {ALIAS_TTL_SECONDS} s)"
        lines.append(f"#   {side.side.upper()}: {', '.join(side.values)}; {ttl}")
        lines.append(
            f"#     health check {check.id}: {check.type}, every {check.request_interval_seconds} s, "
            f"failure threshold {check.failure_threshold}{', INVERTED' if check.inverted else ''}"
            if check
            else "#     no health check"
        )
        if side.balancer:
            listening = ", ".join(f"{protocol}:{port}" for protocol, port in side.balancer.listeners)
            lines.append(f"#     ALB {side.balancer.name} in {side.balancer.region}, listeners {listening}")
            for group in side.balancer.target_groups:
                lines.append(
                    f"#     target group {group.arn.split(':')[-1]}: deregistration delay {group.deregistration_delay_seconds} s,"
                    " "
                    f"healthy after {group.healthy_threshold} x {group.health_interval_seconds} s"
                )
    return lines


def render(stack: DiscoveredStack, fault: InitFault, name: str) -> str:
    """The scenario file's text; raises ScenarioInvalid if it would not validate (it is checked before it is written)."""
    times = timings(stack, fault)
    scheme, port, why = _url(stack.primary)
    lines = _header(stack, fault) + [
        _line(0, "name", name),
        'version: "1"',
        _line(0, "description", f"{fault} on {stack.record_name}, written by drillkit init"),
        "target:",
        _line(1, "hosted_zone", stack.hosted_zone),
        _line(1, "record_name", stack.record_name),
        _line(1, "record_type", stack.record_type),
        _line(1, "url_scheme", scheme, why),
    ]
    if port is not None:
        lines.append(_line(1, "url_port", port))
    lines += ["  url_path: /  # what the probes request through the public name", *_fault_lines(stack, fault)]
    lines += _objective_lines(times, stack.global_cluster is not None) + _sampling_lines(times)
    if stack.alarms:
        lines.append("alarms:  # found watching the primary: alerting is their first ALARM")
        lines += [f"  - {{name: {_value(a.name)}, region: {a.region}}}  # {a.watches}" for a in stack.alarms]
    else:
        lines.append("# alarms: none found watching the primary's health check, ALB, target groups or cluster")
    lines += _data_lines(stack)
    text = "\n".join(lines) + "\n"
    validate(text)
    return text


def validate(text: str) -> Scenario:
    try:
        return parse_scenario(yaml.safe_load(text))
    except ScenarioInvalid as error:
        raise ScenarioInvalid([(f"(written scenario) {field}", problem) for field, problem in error.problems]) from None
