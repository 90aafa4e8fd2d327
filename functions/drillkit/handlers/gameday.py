"""Lambda entry point for the game-day machine's steps (statemachines/gameday.asl.json): preflight and report."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from drillkit.gameday import publish, run
from drillkit.observability import logger

run.gameday_config()  # fail the cold start, not the game-day, when the environment is wrong


@logger.inject_lambda_context(correlation_id_path="request.gameday_id")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("step") == "preflight":
        return run.preflight(event["request"], event.get("execution_id"))
    if event.get("step") == "report":
        return publish.report(event)
    raise ValueError(f"step: {event.get('step')!r} is not preflight or report")
