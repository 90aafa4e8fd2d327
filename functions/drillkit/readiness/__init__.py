"""Readiness: read-only checks of the target stack before anything is touched, one module per area.

Each area module declares its codes in the catalogue (drillkit.findings) and lists its checks in ``CHECKS``.
A check reads through the ``Survey``, which describes each resource once (paginated, throttling retried by
the client) and shares the answer with every other check. A blocking finding means the drill cannot prove
anything or would make an outage out of a defect (nothing to fail over to, a standby that cannot serve): the
drill ends FAIL with that finding and injects nothing. Other findings are reported with the drill's results.

A check that may not read its resource (AccessDenied) is a finding of its own: blocking when the check guards
the drill's safety (the standby's readiness cannot be shown), advisory otherwise.
"""

from __future__ import annotations

from drillkit.errors import AwsCallFailed
from drillkit.findings import Finding, rule
from drillkit.model import ResolvedTarget
from drillkit.readiness import backups, data, detection, dns, network, replication, security, standby
from drillkit.readiness.survey import Check, Survey
from drillkit.spec import Network, Scenario

AREAS = (dns, standby, data, replication, backups, detection, network, security)
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "UnauthorizedAccess"}
)

ACCESS_DENIED_SAFETY = rule(
    "ACCESS_DENIED_SAFETY",
    "readiness",
    "critical",
    True,
    "A safety check (failover wiring, standby readiness) may not read its resource",
    "Grant drillkit's role (docs/target-account-role.yaml) the read permission the evidence names; until then "
    "the standby's readiness cannot be shown and the drill does not inject.",
)
ACCESS_DENIED = rule(
    "ACCESS_DENIED",
    "readiness",
    "medium",
    False,
    "An advisory check may not read its resource",
    "Grant drillkit's role (docs/target-account-role.yaml) the read permission the evidence names.",
)
CHECK_FAILED = rule(
    "CHECK_FAILED",
    "readiness",
    "low",
    False,
    "An advisory check's read failed (not for lack of permission)",
    "Look at the error in the evidence; the check runs again with the next drill or `drillkit check`.",
)


def checks() -> list[Check]:
    return [check for area in AREAS for check in area.CHECKS]


def run_check(check: Check, survey: Survey) -> list[Finding]:
    """One check; an AWS refusal becomes a finding that names the call and resource instead of ending preflight."""
    try:
        return list(check.run(survey))
    except AwsCallFailed as error:
        call = error.operation
        if error.code in DENIED_CODES:
            denied = ACCESS_DENIED_SAFETY if check.safety else ACCESS_DENIED
            return [
                denied.finding(
                    f"check {check.name} may not read {error.resource_id} ({error.operation}): {error.code}"
                    + (": the drill cannot show it is safe to inject" if check.safety else ""),
                    call,
                    error.resource_id,
                    str(error),
                )
            ]
        if check.safety:
            raise
        return [CHECK_FAILED.finding(f"check {check.name} could not read {error.resource_id}: {error}", call, error.resource_id)]


def check(scenario: Scenario, target: ResolvedTarget, network: Network | None = None) -> list[Finding]:
    """Every area's checks, in catalogue order. Raises only for input errors (a stop condition in ALARM, an
    alarm the scenario names that does not exist) and for failures of safety checks other than a refusal."""
    survey = Survey(scenario=scenario, target=target, network=network or Network())
    findings: list[Finding] = []
    for one in checks():
        for finding in run_check(one, survey):
            # A refused call is reported once, by the first check that needed it (a safety check first).
            if finding.code in (ACCESS_DENIED.code, ACCESS_DENIED_SAFETY.code) and any(
                f.code in (ACCESS_DENIED.code, ACCESS_DENIED_SAFETY.code) and f.evidence.resource == finding.evidence.resource
                for f in findings
            ):
                continue
            findings.append(finding)
    detection.stop_conditions_quiet(survey)
    return findings
