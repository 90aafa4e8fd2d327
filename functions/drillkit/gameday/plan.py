"""The game-day plan (YAML): which drills, on which environments, in what order, and what a failed drill means.

Validated like a scenario: every model forbids unknown fields, and every problem is reported with the path of
the field (``drills.1.environment``), all at once, before anything is started.

A drill names its scenario as a file (resolved by the CLI, relative to the plan: gameday/client.py) or inline.
The game-day machine only ever receives the resolved form, with every scenario inline.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drillkit.errors import GameDayInvalid
from drillkit.spec import CALENDAR_PATTERN, Scenario, Target, describe_validation_error

PLAN_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{1,40}$"
ENVIRONMENT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,40}$"
# SSM Change Calendar: a name, or a document ARN (arn:aws:ssm:REGION:ACCOUNT:document/NAME).
# pydantic names the member of `Scenario | str` it tried ("scenario.function-after[_measurable(), Scenario].name").
UNION_MEMBER = re.compile(r"\.scenario\.(?:function-after\[[^\]]*\]|Scenario)\.")
MAX_DRILLS = 40  # the machine's input must stay under Step Functions' 256 KiB payload limit
# Step Functions Map: MaxConcurrency 0 means unlimited; a game-day always names its limit.
MAX_CONCURRENCY = 40


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # "inf" passes every bound


class Environment(_Strict):
    """A stack a drill may target: the scenario's target is replaced by this one (its own account, its own lock)."""

    description: str = Field(default="", max_length=500)
    target: Target


class PlannedDrill(_Strict):
    """One drill of the plan: a scenario (file or inline) and the environment it runs on."""

    scenario: Scenario | str = Field(description="A scenario file (relative to the plan) or the scenario inline.")
    environment: str | None = Field(
        default=None,
        pattern=ENVIRONMENT_PATTERN,
        description="A name from the plan's environments; default: the scenario's own target.",
    )

    @field_validator("scenario", mode="before")
    @classmethod
    def _file_or_mapping(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("give a scenario file or the scenario inline")
        if not isinstance(value, str | dict | Scenario):
            raise ValueError("must be a scenario file name or a scenario mapping")
        return value


class GameDayPlan(_Strict):
    name: str = Field(pattern=PLAN_NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    drills: list[PlannedDrill] = Field(min_length=1, max_length=MAX_DRILLS)
    environments: dict[str, Environment] = Field(default_factory=dict, max_length=MAX_DRILLS)
    pause_seconds: int = Field(default=0, ge=0, le=3600, description="Wait before every drill but the first.")
    failure_policy: Literal["stop", "continue"] = Field(
        default="stop", description="stop: a failed drill ends the game-day, later drills never start; continue: go on."
    )
    max_concurrency: int = Field(default=1, ge=1, le=MAX_CONCURRENCY, description="Drills running at once (1: in order).")
    tolerated_failure_percentage: float = Field(
        default=0,
        ge=0,
        le=100,
        description="With failure_policy stop: the share of failed drills the game-day tolerates before it stops.",
    )
    announce_seconds: int = Field(
        default=0,
        ge=0,
        le=3600,
        description="Announce the game-day on the topic (what, where, when, how to stop it) this long before its first drill.",
    )
    change_calendar: str | None = Field(
        default=None,
        pattern=CALENDAR_PATTERN,
        description="An SSM Change Calendar: while it is CLOSED the game-day refuses to start.",
    )

    @field_validator("environments")
    @classmethod
    def _environment_names(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        for name in value:
            if not re.match(ENVIRONMENT_PATTERN, name):
                raise ValueError(f"environment name {name!r} must be lowercase letters, digits and '-'")
        return value

    def cross_field_problems(self) -> list[tuple[str, str]]:
        """What no single field can say wrong on its own, each named by its field."""
        problems: list[tuple[str, str]] = []
        for index, drill in enumerate(self.drills):
            if drill.environment is not None and drill.environment not in self.environments:
                known = ", ".join(sorted(self.environments)) or "none are declared"
                problems.append((f"drills.{index}.environment", f"{drill.environment!r} is not in environments ({known})"))
        if self.tolerated_failure_percentage and self.failure_policy == "continue":
            problems.append(
                ("tolerated_failure_percentage", "applies to failure_policy stop only (continue tolerates every failure)")
            )
        return problems

    def scenario_of(self, index: int) -> Scenario:
        """The scenario drill ``index`` runs, with its environment's target in place of the scenario's."""
        drill = self.drills[index]
        if not isinstance(drill.scenario, Scenario):
            raise GameDayInvalid([(f"drills.{index}.scenario", "a scenario file must be resolved before the drill runs")])
        if drill.environment is None:
            return drill.scenario
        return drill.scenario.model_copy(update={"target": self.environments[drill.environment].target})

    def environment_label(self, index: int) -> str:
        drill = self.drills[index]
        if drill.environment is not None:
            return drill.environment
        target = self.scenario_of(index).target
        return target.record_name.rstrip(".")

    def check_locks(self) -> None:
        """Drills running at once must not share an environment: each holds its environment's lock."""
        if self.max_concurrency == 1:
            return
        seen: dict[tuple[str, str, str | None], int] = {}
        problems = []
        for index in range(len(self.drills)):
            target = self.scenario_of(index).target
            key = (target.hosted_zone, target.record_name, target.role_arn)
            if key in seen:
                problems.append(
                    (
                        f"drills.{index}.environment",
                        f"targets the same environment as drills.{seen[key]} ({target.record_name}); with max_concurrency "
                        f"{self.max_concurrency} both would run at once and one would find the environment locked: "
                        "give each drill its own environment, or set max_concurrency 1",
                    )
                )
            else:
                seen[key] = index
        if problems:
            raise GameDayInvalid(problems)

    def content_hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def parse_plan(payload: Any) -> GameDayPlan:
    """Validate a game-day plan, raising GameDayInvalid that names every bad field."""
    if not isinstance(payload, dict):
        raise GameDayInvalid([("(plan)", "must be a mapping")])
    try:
        plan = GameDayPlan.model_validate(payload)
    except ValidationError as error:
        raise GameDayInvalid(described(error)) from None
    if problems := plan.cross_field_problems():
        raise GameDayInvalid(problems)
    return plan


def described(error: ValidationError, whole: str = "(plan)") -> list[tuple[str, str]]:
    """(field, problem) for every error of a plan (or of a document holding one)."""
    problems = []
    for field, message in describe_validation_error(error, whole=whole):
        # pydantic tries both members of `Scenario | str`: a bad inline scenario is reported once, as a scenario.
        if ".scenario.str" in field:
            continue
        problems.append((UNION_MEMBER.sub(".scenario.", field), message))
    return problems
