"""Lambda entry point for the report state."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit import drill
from drillkit.config import evidence_config, ledger_config
from drillkit.evidence import metrics as drill_metrics
from drillkit.observability import drill_step, metrics


@drill_step("report", config=(evidence_config, ledger_config), emits_metrics=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = drill.report(event)
    drill_metrics.record(metrics, outcome)
    return outcome
