"""Lambda entry point for the verify_restore state."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit import drill, waits
from drillkit.config import evidence_config, ledger_config
from drillkit.observability import drill_step


@drill_step("verify_restore", config=(evidence_config, ledger_config))
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The wait ends before this invocation does and continues in the next one (the machine loops on `done`).
    return drill.verify_restore(event, waits.invocation_deadline(context.get_remaining_time_in_millis()))
