"""Probe: the primary's Route 53 health check status by Route 53's own rule.

Route 53 considers an endpoint healthy while more than 18% of its checkers report it
healthy. GetHealthCheckStatus returns each checker's last observation; Inverted (and
Disabled) are applied on top, as Route 53 does when it evaluates the record.
"""

from __future__ import annotations

from typing import Any

from drillkit import aws, clock
from drillkit.errors import DrillError, ProbeFailed
from drillkit.model import DrillContext

NAME = "health_check"
HEALTHY_SHARE = 0.18


def evaluate(observations: list[dict[str, Any]], inverted: bool, disabled: bool) -> tuple[bool, float]:
    """Return (healthy, share of checkers reporting success)."""
    if not observations:
        share = 0.0
    else:
        ok = sum(1 for o in observations if o.get("StatusReport", {}).get("Status", "").startswith("Success"))
        share = ok / len(observations)
    raw = True if disabled else share > HEALTHY_SHARE
    return (raw != inverted, share)


def read_health_check(health_check_id: str) -> dict[str, Any]:
    route53 = aws.client("route53")
    t = clock.now()
    try:
        with aws.aws_call("GetHealthCheck", health_check_id):
            config = route53.get_health_check(HealthCheckId=health_check_id)["HealthCheck"]["HealthCheckConfig"]
        with aws.aws_call("GetHealthCheckStatus", health_check_id):
            observations = route53.get_health_check_status(HealthCheckId=health_check_id)["HealthCheckObservations"]
    except DrillError as error:  # a probe reports what it could not read; the sample says so
        return {"t": t, "probe": NAME, "health_check_id": health_check_id, "healthy": None, "error": str(error)}
    inverted = bool(config.get("Inverted", False))
    healthy, share = evaluate(observations, inverted, bool(config.get("Disabled", False)))
    return {
        "t": t,
        "probe": NAME,
        "health_check_id": health_check_id,
        "healthy": healthy,
        "healthy_share": round(share, 3),
        "checkers": len(observations),
        "inverted": inverted,
    }


def read(context: DrillContext) -> dict[str, Any]:
    health_check_id = context.target.primary.health_check_id
    if not health_check_id:
        raise ProbeFailed(f"the PRIMARY record of {context.target.record_name} has no health check")
    return read_health_check(health_check_id)
