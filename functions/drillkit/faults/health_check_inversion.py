"""Fault: invert the Route 53 health check of a failover record.

Inverting makes Route 53 treat a healthy endpoint as unhealthy, so the failover record
moves to the standby without touching the application: the gentlest real drill of
the DNS failover path. Restore sets Inverted back to the value it had before.
"""

from __future__ import annotations

from drillkit import aws
from drillkit.errors import TargetNotFound
from drillkit.faults.base import Fault, Resource, SpecFault
from drillkit.faults.priors import InvertedCheck
from drillkit.model import ResolvedTarget
from drillkit.spec import HealthCheckInversion

TYPE = "health-check-inversion"
# DNS failover moves live traffic from the primary to the standby region: a switchover exercise.
EXERCISE_TYPE = "switchover"
API_CALLS = {"default": "route53:UpdateHealthCheck (Inverted)"}


def _health_check_id(spec: HealthCheckInversion, target: ResolvedTarget) -> str:
    endpoint = target.endpoint(spec.record)
    if not endpoint.health_check_id:
        raise TargetNotFound(
            f"fault.record: the {spec.record.upper()} record {endpoint.set_identifier} of "
            f"{target.record_name} has no health check to invert"
        )
    return endpoint.health_check_id


def _inverted(health_check_id: str) -> bool:
    with aws.aws_call("GetHealthCheck", health_check_id):
        check = aws.target_client("route53").get_health_check(HealthCheckId=health_check_id)["HealthCheck"]
    return bool(check["HealthCheckConfig"].get("Inverted", False))


def _set_inverted(health_check_id: str, inverted: bool) -> None:
    with aws.aws_call("UpdateHealthCheck", health_check_id):
        aws.target_client("route53").update_health_check(HealthCheckId=health_check_id, Inverted=inverted)


class HealthCheckInversionFault(SpecFault[HealthCheckInversion, InvertedCheck]):
    """Invert the health check of the scenario's failover record; restore sets Inverted back."""

    kind = TYPE
    exercise_type = EXERCISE_TYPE
    api_calls = API_CALLS
    spec_type = HealthCheckInversion
    prior_types = (InvertedCheck,)

    def capture_spec(self, spec: HealthCheckInversion, target: ResolvedTarget) -> InvertedCheck:
        health_check_id = _health_check_id(spec, target)
        return InvertedCheck(resource_id=health_check_id, inverted=_inverted(health_check_id))

    def apply_spec(self, spec: HealthCheckInversion, target: ResolvedTarget, prior: InvertedCheck) -> None:
        # Set the flag to the opposite of the captured value, never "toggle": a retry must not undo it.
        _set_inverted(prior.resource_id, not prior.inverted)

    def restore_prior(self, prior: InvertedCheck) -> bool:
        _set_inverted(prior.resource_id, prior.inverted)
        return True  # one call puts it back

    def is_restored_prior(self, prior: InvertedCheck) -> bool:
        return _inverted(prior.resource_id) == prior.inverted

    def describe_spec(self, spec: HealthCheckInversion, target: ResolvedTarget, prior: InvertedCheck) -> str:
        return (
            f"set Inverted={not prior.inverted} on Route 53 health check {prior.resource_id} "
            f"({spec.record} record of {target.record_name}); restore sets Inverted={prior.inverted}"
        )

    def resources_prior(self, prior: InvertedCheck) -> list[Resource]:
        return [{"type": "AWS::Route53::HealthCheck", "id": prior.resource_id, "role": "inverted health check"}]


FAULT: Fault = HealthCheckInversionFault()
