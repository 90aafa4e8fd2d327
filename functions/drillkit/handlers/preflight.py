"""Lambda entry point for the preflight state."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit import drill
from drillkit.config import approval_config, ledger_config
from drillkit.observability import drill_step


@drill_step("preflight", config=(approval_config, ledger_config), drill_id_path="request.drill_id || execution_name")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return drill.preflight(event["request"], event.get("execution_id"), event.get("execution_name"))
