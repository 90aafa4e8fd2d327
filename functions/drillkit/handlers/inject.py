"""Lambda entry point for the inject state."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit import drill
from drillkit.config import evidence_config, ledger_config
from drillkit.observability import drill_step


@drill_step("inject", config=(evidence_config, ledger_config))
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return drill.inject(event)
