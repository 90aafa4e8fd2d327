"""Lambda entry point for the report state."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit import drill
from drillkit.config import evidence_config, ledger_config
from drillkit.evidence import metrics as drill_metrics
from drillkit.observability import logger, metrics

evidence_config(), ledger_config()  # fail the cold start, not the drill, when the environment is wrong


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="drill.drill_id")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = drill.report(event)
    drill_metrics.record(metrics, outcome)
    return outcome
