"""Lambda entry point for the safety net's steps (statemachines/safety-net.asl.json).

EventBridge starts the safety-net state machine when a drill execution ends ABORTED, TIMED_OUT or FAILED; each
of its tasks calls this function with one step: begin, restore, verify or report.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit import drill, waits
from drillkit.config import evidence_config, ledger_config
from drillkit.observability import drill_step


@drill_step(
    lambda event: f"safety_net.{event.get('step')}",
    config=(evidence_config, ledger_config),
    drill_id_path="net.drill_id || event.detail.name",
)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Verification waits at most until this invocation's end; the machine calls again for the rest.
    return drill.safety_net(event, waits.invocation_deadline(context.get_remaining_time_in_millis()))
