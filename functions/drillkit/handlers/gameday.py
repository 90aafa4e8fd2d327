"""Lambda entry point for the game-day machine's steps (statemachines/gameday.asl.json): preflight and report."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit.gameday import publish, run
from drillkit.observability import drill_step


@drill_step(lambda event: f"gameday.{event.get('step')}", config=(run.gameday_config,), drill_id_path="request.gameday_id")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return publish.step(event)
