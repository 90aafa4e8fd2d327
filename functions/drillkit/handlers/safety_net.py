"""Lambda entry point for the safety net: EventBridge calls it when a drill execution ends ABORTED, TIMED_OUT or FAILED."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit import drill
from drillkit.config import evidence_config, ledger_config
from drillkit.observability import logger

ledger_config()  # fail the cold start, not the rescue, when the environment is wrong
evidence_config()


@logger.inject_lambda_context(correlation_id_path="detail.name")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return drill.safety_net(event)
