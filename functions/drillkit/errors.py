"""Named drill errors.

The class name is the error name Step Functions sees (the Lambda runtime reports
``errorType`` as the exception's class name), so ASL Retry/Catch clauses match on
these names. Only subclasses of ``TransientError`` are retried by the state machine.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DrillError(Exception):
    """Base of every error drillkit raises on purpose."""


class ScenarioInvalid(DrillError):
    """The scenario or drill request failed validation; nothing was touched."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        listed = "; ".join(f"{field}: {problem}" for field, problem in problems)
        super().__init__(f"invalid drill request: {listed}")


class TargetNotFound(DrillError):
    """A resource the scenario names does not exist or is not usable."""


class TargetRoleRefused(DrillError):
    """The environment's IAM role (target.role_arn) could not be assumed."""


class EnvironmentLocked(DrillError):
    """Another drill holds the environment lock."""


class StopConditionActive(DrillError):
    """A stop-condition alarm is in ALARM before the drill: it does not start."""


class NotSteady(DrillError):
    """The environment was not in steady state before injection."""


class InjectionFailed(DrillError):
    """A fault could not be injected."""


class RestoreFailed(DrillError):
    """An undo record could not be replayed."""


class ProbeFailed(DrillError):
    """A probe could not read its signal (not the same as reading 'unhealthy')."""


class TransientError(DrillError):
    """A throttle or a transient service error; safe to retry."""


class AwsCallFailed(DrillError):
    """A non-transient AWS error, named with the resource it concerned."""

    def __init__(self, operation: str, resource_id: str, code: str, message: str):
        self.operation = operation
        self.resource_id = resource_id
        self.code = code
        super().__init__(f"{operation} on {resource_id} failed: {code}: {message}")


# -- refusals and failures outside the drill steps (CLI, configuration, evidence) ----------------
class DrillRejected(DrillError):
    """A person rejected a drill waiting for approval (the task token's failure names this class)."""


class TargetNotAllowed(DrillError):
    """The resource a fault would change does not carry the allow tag."""


class ConfigurationError(DrillError):
    """A required environment variable is missing or malformed."""


class DeploymentNotFound(DrillError):
    """Neither a lab nor a stack could be found to run the drill in."""


class NotAwaitingApproval(DrillError):
    """approve/reject named a drill that is not waiting for a decision."""


class ExportFailed(DrillError):
    """The evidence could not be exported as asked."""


class EvidenceSealFailed(DrillError):
    """The report's manifest could not be signed or the chain could not be advanced."""


class ChainMoved(DrillError):
    """Another report advanced the chain's head first; seal again on top of it."""


class DrillNotFound(DrillError):
    """No drill record with this id in the ledger (an unknown id, or a drill that never got past its request)."""


class DrillStateInvalid(DrillError):
    """The drill record, or the state the machine carried to a step, is not what the step needs (names the field)."""


# -- errors as Step Functions reports them back ------------------------------------------------
def error_message(cause: str | None) -> str:
    """The message of an error's cause: a Lambda function's cause is JSON with errorMessage; any other is the message."""
    text = cause or ""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return str(parsed.get("errorMessage", text)) if isinstance(parsed, dict) else text


class CaughtError(BaseModel):
    """A Catch clause's result ({Error, Cause}, at the state's ResultPath): the error's name and its message."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")
    error: str = Field("Error", alias="Error")
    cause: str | None = Field(None, alias="Cause")

    @property
    def message(self) -> str:
        return error_message(self.cause)

    def as_caught(self) -> dict[str, Any]:
        """Step Functions' own shape, as a Catch wrote it into $."""
        return self.model_dump(by_alias=True, exclude_none=True)


class DrillNotRunning(DrillError):
    """stop named a drill whose execution has already ended."""


# -- game-days ------------------------------------------------------------------------------------------
class ChangeFreeze(DrillError):
    """The SSM Change Calendar a game-day plan or a scenario names is CLOSED: nothing is started."""


class GameDayInvalid(ScenarioInvalid):
    """The game-day plan failed validation; nothing was started."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__(problems)
        listed = "; ".join(f"{field}: {problem}" for field, problem in problems)
        self.args = (f"invalid game-day plan: {listed}",)


class ScheduleInvalid(DrillError):
    """A schedule's name or expression is not one EventBridge Scheduler accepts."""
