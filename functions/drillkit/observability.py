"""Logs, traces and metrics of every Lambda function, and the one decorator that gives them to a handler.

``drill_step`` is how a handler is written: its function's configuration is validated when the module is
imported (Lambda's Init phase, so a wrong environment fails the cold start rather than a drill half-way), and
each invocation gets the drill id as the logger's correlation id, an X-Ray trace, and exactly one line saying
how the step ended (docs/observability.md lists its fields).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="drillkit")
metrics = Metrics(namespace="drillkit", service="drillkit")
# Off outside Lambda by itself (no LAMBDA_TASK_ROOT); the lab, which sets it, turns it off with POWERTOOLS_TRACE_DISABLED.
tracer = Tracer(service="drillkit")

Event = dict[str, Any]
Handler = Callable[[Event, LambdaContext], Event]

STEP_FINISHED = "step finished"
OK = "ok"


def drill_step(
    step: str | Callable[[Event], str],
    *,
    config: Iterable[Callable[[], object]],
    drill_id_path: str = "drill.drill_id",
    emits_metrics: bool = False,
) -> Callable[[Handler], Handler]:
    """Make ``handler`` a drill step's Lambda entry point.

    ``step`` names the step in the log line (or reads it from the event, for a function that runs several);
    ``config`` are the loaders of the environment models the step needs, called now; ``drill_id_path`` is a
    JMESPath into the event; ``emits_metrics`` flushes the powertools metrics the handler adds.
    """
    for load in config:
        load()

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def timed(event: Event, context: LambdaContext) -> Event:
            step_name = step(event) if callable(step) else step
            drill_id = logger.get_correlation_id()
            if drill_id:
                tracer.put_annotation("drill_id", drill_id)  # X-Ray can then find a drill's traces
            tracer.put_annotation("step", step_name)
            started = time.monotonic()
            try:
                result = handler(event, context)
            except Exception as error:
                # The error's name is what Step Functions sees, what a Retry or Catch matches.
                logger.exception(STEP_FINISHED, extra=_step_line(drill_id, step_name, type(error).__name__, started))
                raise
            logger.info(STEP_FINISHED, extra=_step_line(drill_id, step_name, OK, started))
            return result

        # The response is the state's result ($.drill, samples' milestones): not copied into every trace.
        traced = tracer.capture_lambda_handler(timed, capture_response=False)
        entry = logger.inject_lambda_context(traced, correlation_id_path=drill_id_path)
        return metrics.log_metrics(entry) if emits_metrics else entry

    return decorate


def _step_line(drill_id: str | None, step: str, outcome: str, started: float) -> dict[str, Any]:
    return {"drill_id": drill_id, "step": step, "outcome": outcome, "duration_ms": round((time.monotonic() - started) * 1000)}
