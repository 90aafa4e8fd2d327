"""Probe: the primary's Route 53 health check, as GetHealthCheckStatus reports it.

GetHealthCheckStatus returns each checker's last raw observation. A checker only changes its
verdict after FailureThreshold observations in a row, and Route 53 considers the endpoint healthy
while more than 18% of the checkers' verdicts are healthy. This probe returns the raw
observations with the check's interval and threshold; measure.HealthRule replays the rule over
consecutive samples. ``healthy`` here is the naive reading of the last observations (used for
steady state, where nothing is changing).

Route 53 allows an account about one GetHealthCheckStatus a second (a bucket of 4, refilled at 1
a second, shared with every other caller), so the probe asks at most once per
STATUS_MIN_INTERVAL_SECONDS per health check, whatever the sampling interval, and reads the
check's configuration (Inverted, Disabled, interval, threshold) in the same breath. In between,
a sample reuses the last reading: same ``t`` (when Route 53 was really asked), marked ``reused``.
The drill's states run in separate invocations, so the last reading is carried over from the
stored samples (``seed``), as the DNS client cache is.
"""

from __future__ import annotations

import threading
from typing import Any

from drillkit import aws, clock
from drillkit.errors import DrillError, ProbeFailed
from drillkit.measure import HEALTHY_SHARE
from drillkit.model import DrillContext
from drillkit.readings import HEALTH_CHECK, CheckerObservation, HealthCheckReading, Reading, Watch
from drillkit.spec import HEALTH_STATUS_MIN_INTERVAL_SECONDS

NAME = HEALTH_CHECK
# Half of GetHealthCheckStatus's sustained rate (1 a second per account): the rest is left to other callers.
STATUS_MIN_INTERVAL_SECONDS = HEALTH_STATUS_MIN_INTERVAL_SECONDS
# health check id -> the last reading (errors included: a throttled call spent the budget too)
_last_readings: dict[str, HealthCheckReading] = {}
STATUS_READ_TIMEOUT_SECONDS = 5.0
_lock = threading.Lock()


def evaluate(observations: list[dict[str, Any]], inverted: bool, disabled: bool) -> tuple[bool, float]:
    """Return (healthy, share of checkers reporting success)."""
    if not observations:
        share = 0.0
    else:
        ok = sum(1 for o in observations if o.get("StatusReport", {}).get("Status", "").startswith("Success"))
        share = ok / len(observations)
    raw = True if disabled else share > HEALTHY_SHARE
    return (raw != inverted, share)


def read_health_check(health_check_id: str) -> HealthCheckReading:
    """The last reading while it is younger than STATUS_MIN_INTERVAL_SECONDS, else a new one from Route 53."""
    with _lock:
        last = _last_readings.get(health_check_id)
    if last is not None and clock.now() - last.t < STATUS_MIN_INTERVAL_SECONDS:
        return last.model_copy(update={"reused": True})
    reading = _ask_route53(health_check_id)
    with _lock:
        _last_readings[health_check_id] = reading
    return reading


def needs_seed(context: DrillContext) -> bool:
    """True in a fresh invocation: the last reading of an earlier one is in the stored samples."""
    health_check_id = context.target.primary.health_check_id
    with _lock:
        return bool(health_check_id) and health_check_id not in _last_readings


def seed(samples: list[Reading]) -> None:
    """Carry the newest reading of each health check over from an earlier invocation (unless this one has a newer)."""
    readings = [s for s in samples if isinstance(s, HealthCheckReading) and s.health_check_id]
    for reading in sorted(readings, key=lambda s: s.t):
        stored = reading.model_copy(update={"reused": False})
        health_check_id = str(stored.health_check_id)
        with _lock:
            known = _last_readings.get(health_check_id)
            if known is None or known.t < stored.t:
                _last_readings[health_check_id] = stored


def forget() -> None:
    """Drop every kept reading (tests)."""
    with _lock:
        _last_readings.clear()


def route53_client() -> Any:
    """One attempt, no retries: a throttled reading is reported as such and the next one waits its 2 s, so the
    probe stays under the rate by its cadence, not by retrying into the bucket."""
    return aws.target_client("route53", read_timeout=STATUS_READ_TIMEOUT_SECONDS)


def _ask_route53(health_check_id: str) -> HealthCheckReading:
    route53 = route53_client()
    t = clock.now()
    try:
        with aws.aws_call("GetHealthCheck", health_check_id):
            config = route53.get_health_check(HealthCheckId=health_check_id)["HealthCheck"]["HealthCheckConfig"]
        with aws.aws_call("GetHealthCheckStatus", health_check_id):
            observations = route53.get_health_check_status(HealthCheckId=health_check_id)["HealthCheckObservations"]
    except DrillError as error:  # a probe reports what it could not read; the sample says so
        return HealthCheckReading(t=t, health_check_id=health_check_id, healthy=None, error=str(error))
    inverted = bool(config.get("Inverted", False))
    disabled = bool(config.get("Disabled", False))
    healthy, share = evaluate(observations, inverted, disabled)
    return HealthCheckReading(
        t=t,
        health_check_id=health_check_id,
        healthy=healthy,
        healthy_share=round(share, 3),
        checkers=len(observations),
        inverted=inverted,
        disabled=disabled,
        interval=int(config.get("RequestInterval", 30)),
        failure_threshold=int(config.get("FailureThreshold", 3)),
        observations=[_observation(o) for o in observations],
        **watches(config).model_dump(),
        # What the checkers said when they failed: the cause, in Route 53's words (a status code, a connection error).
        failure_reports=failure_reports(observations),
    )


def watches(config: dict[str, Any]) -> Watch:
    """What the check requests: protocol, port, path and endpoint (domain name or IP address)."""
    check_type = str(config.get("Type", "HTTP"))
    default_port = 443 if check_type.startswith("HTTPS") else 80
    return Watch(
        protocol=check_type,
        port=int(config.get("Port") or default_port),
        path=config.get("ResourcePath") if check_type != "TCP" else None,
        endpoint=config.get("FullyQualifiedDomainName") or config.get("IPAddress"),
    )


def describe_watch(watch: Watch) -> str:
    """e.g. ``HTTPS:443 /health on name.elb.amazonaws.com``."""
    path = f" {watch.path}" if watch.path else ""
    return f"{watch.protocol}:{watch.port}{path} on {watch.endpoint}"


def failure_reports(observations: list[dict[str, Any]], most: int = 3) -> list[str]:
    """The distinct StatusReport texts of the checkers that report a failure, most frequent first."""
    counts: dict[str, int] = {}
    for observation in observations:
        status = str(observation.get("StatusReport", {}).get("Status", ""))
        if status and not status.startswith("Success"):
            counts[status] = counts.get(status, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return [f"{text} ({count} of {len(observations)} checkers)" for text, count in ordered[:most]]


def why_not_healthy(reading: HealthCheckReading) -> str:
    """The steady-state problem of an unhealthy primary check: what it watches and what Route 53's checkers said."""
    check = f"primary health check {reading.health_check_id}"
    if reading.error:
        return f"{check} could not be read: {reading.error}"
    said = "; ".join(reading.failure_reports) or "no failure reported by the checkers"
    flags = "".join([" (Inverted)" if reading.inverted else "", " (Disabled)" if reading.disabled else ""])
    return f"{check}{flags} is not healthy: it requests {describe_watch(reading)}; Route 53's checkers report: {said}"


def _observation(observation: dict[str, Any]) -> CheckerObservation:
    """(checker, checked at (epoch seconds), success): compact, there are 8 to 16 per sample."""
    report = observation.get("StatusReport", {})
    checked = report.get("CheckedTime")
    return (
        f"{observation.get('Region', '?')}/{observation.get('IPAddress', '?')}",
        round(checked.timestamp(), 3) if checked is not None else None,
        str(report.get("Status", "")).startswith("Success"),
    )


def read(context: DrillContext) -> HealthCheckReading:
    health_check_id = context.target.primary.health_check_id
    if not health_check_id:
        raise ProbeFailed(f"the PRIMARY record of {context.target.record_name} has no health check")
    return read_health_check(health_check_id)
