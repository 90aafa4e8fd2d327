"""Lambda entry point for the approval wait: the machine hands over its task token and waits for a person."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit import drill
from drillkit.config import ledger_config, notify_config
from drillkit.observability import drill_step


@drill_step("request_approval", config=(ledger_config, notify_config))
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return drill.request_approval(event["drill"], event["task_token"])
