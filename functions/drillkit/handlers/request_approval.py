"""Lambda entry point for the approval wait: the machine hands over its task token and waits for a person."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit import drill
from drillkit.config import ledger_config, notify_config
from drillkit.observability import logger

ledger_config(), notify_config()  # fail the cold start, not the drill, when the environment is wrong


@logger.inject_lambda_context(correlation_id_path="drill.drill_id")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return drill.request_approval(event["drill"], event["task_token"])
