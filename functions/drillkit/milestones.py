"""The words for what a drill measures, written once: every reader (report, JUnit, summary, chart, metrics, CLI) uses these.

A milestone is an instant the drill waits for after injection (measure.MILESTONES); the RPO is measured
too but is no milestone, so it has no "not reached" text. The report's JSON keys are the names.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

OBJECTIVE_MISSED_REMEDY = (
    "Shorten the health check's interval or failure threshold, lower the record's TTL, "
    "or revise the target with the service owner."
)


class Objective(BaseModel):
    """One measured objective: its name in report.json and how each reader says it."""

    model_config = ConfigDict(frozen=True)
    name: str
    label: str  # reports, JUnit test cases, summary.md tables, the CLI
    marker: str  # the chart's milestone marker: short, as labels of neighbouring milestones share a row
    metric_name: str  # CloudWatch metric, in seconds
    missed_remedy: str  # when it took longer than its target
    not_reached: str | None = None  # why the drill is worse off when the milestone never showed; None: not a milestone
    not_reached_remedy: str | None = None

    @property
    def not_reached_code(self) -> str:
        return f"{self.name.upper()}_NOT_REACHED"


CATALOGUE: dict[str, Objective] = {
    objective.name: objective
    for objective in (
        Objective(
            name="detection",
            label="Detection",
            marker="detection",
            metric_name="DetectionSeconds",
            missed_remedy=OBJECTIVE_MISSED_REMEDY,
            not_reached="the primary health check never read unhealthy by Route 53's rule",
            not_reached_remedy="Check that the health check monitors the primary endpoint and that its interval and "
            "failure threshold allow detection within the observe timeout.",
        ),
        Objective(
            name="alerting",
            label="Alerting",
            marker="alerting",
            metric_name="AlertingSeconds",
            missed_remedy=OBJECTIVE_MISSED_REMEDY,
            not_reached="none of the scenario's alarms went into ALARM",
            not_reached_remedy="Check that each alarm watches a metric that has data when the primary fails (dimensions "
            "spelled as CloudWatch publishes them) and that its threshold and evaluation periods fit the outage.",
        ),
        Objective(
            name="dns_cutover",
            label="DNS cutover (authoritative)",
            marker="DNS cutover",
            metric_name="DnsCutoverSeconds",
            missed_remedy=OBJECTIVE_MISSED_REMEDY,
            not_reached="the authoritative DNS answer never moved to the standby",
            not_reached_remedy="Check that the record's PRIMARY carries the health check and that a SECONDARY record "
            "exists with the standby's value.",
        ),
        Objective(
            name="client_cutover",
            label="DNS cutover (client-observed)",
            marker="client cutover",
            metric_name="ClientCutoverSeconds",
            missed_remedy=OBJECTIVE_MISSED_REMEDY,
            not_reached="a caching resolver never answered with the standby",
            not_reached_remedy="Check the record's TTL: clients keep the old answer until it expires in their resolver's cache.",
        ),
        Objective(
            name="recovery",
            label="Recovery (achieved RTO)",
            marker="recovery",
            metric_name="RecoverySeconds",
            missed_remedy=OBJECTIVE_MISSED_REMEDY,
            not_reached="clients were never served by the standby through the public name",
            not_reached_remedy="Check that the standby serves the public name (listener, certificate, capacity) "
            "and that clients honour the record's TTL.",
        ),
        Objective(
            name="rpo",
            label="Data loss (achieved RPO)",
            marker="RPO",
            metric_name="RpoSeconds",
            missed_remedy="Check replication lag and the failover method (an unplanned failover loses what has not replicated).",
        ),
    )
}
LABELS: dict[str, str] = {name: objective.label for name, objective in CATALOGUE.items()}


def label(name: str) -> str:
    """The objective's label; an unknown name (a report from a newer drillkit) is shown as it is."""
    return LABELS.get(name, name)
