"""CloudWatch metrics of a finished drill, as Embedded Metric Format (powertools Metrics, namespace drillkit).

One data point per drill: the measured durations (seconds, only those reached), whether it passed and
whether the restore was verified, with the scenario as dimension so that a dashboard or an alarm can
follow each scenario's RTO over time. The drill id rides along as metadata (searchable, not a dimension).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from drillkit.milestones import CATALOGUE


def record(metrics: Metrics, outcome: dict[str, Any]) -> None:
    """Add one drill's metrics; the handler's @metrics.log_metrics flushes them."""
    metrics.add_dimension(name="scenario", value=outcome["scenario"])
    metrics.add_metadata(key="drill_id", value=outcome["drill_id"])
    metrics.add_metadata(key="verdict", value=outcome["verdict"])
    metrics.add_metric(name="Drills", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="DrillPassed", unit=MetricUnit.Count, value=1 if outcome["verdict"] == "PASS" else 0)
    metrics.add_metric(name="RestoreVerified", unit=MetricUnit.Count, value=1 if outcome["restore_verified"] else 0)
    for name, seconds in outcome.get("measurements", {}).items():
        if seconds is not None and name in CATALOGUE:
            metrics.add_metric(name=CATALOGUE[name].metric_name, unit=MetricUnit.Seconds, value=seconds)
