"""The game-day machine's steps: preflight (validate, change freeze, one drill request per drill) and report.

What crosses a step is typed here: GameDayRequest is the machine's input, DrillItem one Map item (the drill
machine's input and what the iteration needs to judge it), Prepared the preflight's result. The report reads
each drill's outcome where it lives (its execution and its report in the evidence bucket), so it is complete
however the Map ended: drills a stopped game-day never started are listed as NOT_STARTED.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drillkit import clock, notify
from drillkit.change_calendar import CalendarState, refuse_if_closed
from drillkit.errors import ConfigurationError, GameDayInvalid
from drillkit.gameday.plan import GameDayPlan, described
from drillkit.spec import DRILL_ID_PATTERN, Network

GAMEDAY_ID_PATTERN = r"^gd-[a-z0-9][a-z0-9-]{1,40}-\d{8}T\d{6}Z-[0-9a-f]{4}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GameDayRequest(_Strict):
    """The game-day machine's input: a resolved plan (every scenario inline) and who asked."""

    gameday_id: str | None = Field(
        default=None,
        pattern=GAMEDAY_ID_PATTERN,
        description="Given by the CLI; absent when a schedule starts the game-day (its input is fixed): preflight names it.",
    )
    requested_by: str = Field(default="unknown", max_length=128)
    plan: GameDayPlan
    network: Network = Network()
    schedule: str | None = Field(default=None, max_length=64, description="The schedule that started it, if one did.")


class DrillItem(_Strict):
    """One Map item: a drill of the game-day, with the drill machine's input ready."""

    index: int = Field(ge=0)
    drill_id: str = Field(pattern=DRILL_ID_PATTERN)
    scenario: str
    environment: str
    pause_seconds: int = Field(ge=0)
    stop_on_failure: bool
    request: dict[str, Any]


class Prepared(_Strict):
    """The preflight's result ($.gameday): what the Map reads and what the report needs."""

    gameday_id: str
    name: str
    started_at: float
    max_concurrency: int
    tolerated_failure_percentage: float
    failure_policy: Literal["stop", "continue"]
    change_calendar: CalendarState | None = None
    announce_seconds: int = 0
    announced: bool = False
    drills: list[DrillItem]


class GameDayConfig(BaseModel):
    model_config = ConfigDict(frozen=True)
    evidence_bucket: str = Field(min_length=3)
    drill_state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:.+$")
    topic_arn: str | None = None
    signing_key_arn: str | None = None


@lru_cache(maxsize=1)
def gameday_config() -> GameDayConfig:
    names = {
        "evidence_bucket": "EVIDENCE_BUCKET",
        "drill_state_machine_arn": "DRILL_STATE_MACHINE_ARN",
        "topic_arn": "TOPIC_ARN",
        "signing_key_arn": "SIGNING_KEY_ARN",
    }
    raw = {field: os.environ[var] for field, var in names.items() if os.environ.get(var)}
    try:
        return GameDayConfig.model_validate(raw)
    except ValidationError as error:
        details = "; ".join(f"{names.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in error.errors())
        raise ConfigurationError(f"bad function environment: {details}") from None


def new_gameday_id(plan_name: str, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock.now() if now is None else now))
    return f"gd-{plan_name[:40]}-{stamp}-{secrets.token_hex(2)}"


def drill_id_of(gameday_id: str, scenario_name: str, index: int) -> str:
    """Deterministic from the game-day id: a retried preflight names the same drills (execution names stay unique)."""
    stamp, suffix = gameday_id.rsplit("-", 2)[-2:]
    return f"{scenario_name[:32]}-{stamp}-{suffix}-{index:02d}"


def parse_gameday_request(payload: Any) -> GameDayRequest:
    """Validate the machine's input; every bad field named, scenario files refused (the CLI resolves them)."""
    if not isinstance(payload, dict):
        raise GameDayInvalid([("(request)", "must be a JSON object")])
    try:
        request = GameDayRequest.model_validate(payload)
    except ValidationError as error:
        raise GameDayInvalid(described(error, whole="(request)")) from None
    problems = [(f"plan.{field}", message) for field, message in request.plan.cross_field_problems()]
    problems += [
        (f"plan.drills.{i}.scenario", "a scenario file cannot be read here: give the scenario inline (the CLI resolves files)")
        for i, drill in enumerate(request.plan.drills)
        if isinstance(drill.scenario, str)
    ]
    if problems:
        raise GameDayInvalid(problems)
    request.plan.check_locks()
    return request


def named(request: GameDayRequest, execution_id: str | None, now: float) -> GameDayRequest:
    """The request with its game-day id: its own, or one derived from the execution (stable when preflight is retried)."""
    if request.gameday_id is not None:
        return request
    if not execution_id:
        raise GameDayInvalid([("gameday_id", "required when the game-day is not started by its machine")])
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    suffix = hashlib.sha256(execution_id.encode()).hexdigest()[:4]
    return request.model_copy(update={"gameday_id": f"gd-{request.plan.name[:40]}-{stamp}-{suffix}"})


def id_of(request: GameDayRequest) -> str:
    if request.gameday_id is None:
        raise GameDayInvalid([("gameday_id", "missing: name the game-day first")])
    return request.gameday_id


def drill_items(request: GameDayRequest) -> list[DrillItem]:
    plan = request.plan
    gameday_id = id_of(request)
    items = []
    for index in range(len(plan.drills)):
        scenario = plan.scenario_of(index)
        drill_id = drill_id_of(gameday_id, scenario.name, index)
        items.append(
            DrillItem(
                index=index,
                drill_id=drill_id,
                scenario=scenario.name,
                environment=plan.environment_label(index),
                pause_seconds=plan.pause_seconds if index else 0,
                stop_on_failure=plan.failure_policy == "stop",
                request={
                    "drill_id": drill_id,
                    "requested_by": f"{request.requested_by} (game-day {gameday_id})",
                    "scenario": scenario.model_dump(mode="json"),
                    "network": request.network.model_dump(mode="json"),
                },
            )
        )
    return items


def refuse_if_frozen(plan: GameDayPlan) -> CalendarState | None:
    if plan.change_calendar is None:
        return None
    return refuse_if_closed(plan.change_calendar, f"game-day {plan.name}")


def preflight(event: dict[str, Any], execution_id: str | None = None, started: float | None = None) -> dict[str, Any]:
    """Validate the game-day, refuse a change freeze, and hand the Map one item per drill. Nothing is touched."""
    request = named(parse_gameday_request(event), execution_id, clock.now() if started is None else started)
    calendar = refuse_if_frozen(request.plan)
    announce = request.plan.announce_seconds
    # A scheduled game-day is always announced before it starts (nobody at a terminal started it); one started
    # by hand is announced when its plan asks for a lead time.
    topic = gameday_config().topic_arn if announce or request.schedule else None
    if topic:
        notify.gameday_starts(topic, *announcement(request, execution_id, clock.now() + announce))
    prepared = Prepared(
        gameday_id=id_of(request),
        name=request.plan.name,
        started_at=clock.now(),
        max_concurrency=request.plan.max_concurrency,
        tolerated_failure_percentage=request.plan.tolerated_failure_percentage,
        failure_policy=request.plan.failure_policy,
        change_calendar=calendar,
        announce_seconds=announce,
        announced=bool(topic),
        drills=drill_items(request),
    )
    return prepared.model_dump(mode="json")


def announcement(request: GameDayRequest, execution_id: str | None, first_drill_at: float) -> tuple[str, str]:
    """(subject, message): what runs, where, when, and how to stop it before anything is touched."""
    plan = request.plan
    who = f"schedule {request.schedule}" if request.schedule else request.requested_by
    lines = [
        f"Game-day {plan.name} ({id_of(request)}) starts its first drill at {clock.iso(first_drill_at)} (requested by {who}).",
        f"{len(plan.drills)} drill(s), {'in order' if plan.max_concurrency == 1 else f'up to {plan.max_concurrency} at once'}, "
        f"a failed drill: {plan.failure_policy}:",
    ]
    lines += [
        f"  {i:02d} {plan.scenario_of(i).name} ({plan.scenario_of(i).fault.type}) on {plan.environment_label(i)}"
        for i in range(len(plan.drills))
    ]
    if execution_id:
        lines += [
            "To stop it (nothing is touched before the first drill; a drill in flight is restored by its safety net):",
            f"  aws stepfunctions stop-execution --execution-arn {execution_id}",
        ]
    return f"drillkit game-day {plan.name} starts {clock.iso(first_drill_at)}"[:100], "\n".join(lines)


def execution_arn_of(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


DrillStatus = Literal["PASS", "FAIL", "ERROR", "ABORTED", "NOT_STARTED", "RUNNING"]


class DrillOutcome(_Strict):
    """One drill as the game-day report lists it."""

    index: int
    drill_id: str
    scenario: str
    environment: str
    execution_status: str | None
    verdict: DrillStatus
    restore_verified: bool | None = None
    started_at: str | None = None
    ended_at: str | None = None
    measurements: dict[str, Any] = Field(default_factory=dict)
    findings: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None
    report_key: str | None = None
    report_html_key: str | None = None


def outcome_of(item: DrillItem, execution: dict[str, Any] | None, report: dict[str, Any] | None) -> DrillOutcome:
    """A drill's line in the game-day report from its execution (None: never started) and its report (None: none)."""
    base = {"index": item.index, "drill_id": item.drill_id, "scenario": item.scenario, "environment": item.environment}
    if execution is None:
        return DrillOutcome(**base, execution_status=None, verdict="NOT_STARTED")
    status = execution["status"]
    if report is not None:
        return DrillOutcome(
            **base,
            execution_status=status,
            verdict=report["verdict"],
            restore_verified=report["restore_verified"],
            started_at=report.get("started_at"),
            ended_at=report.get("ended_at"),
            measurements=report.get("measurements", {}),
            findings=report.get("findings", []),
            report_key=f"drills/{item.drill_id}/report.json",
            report_html_key=f"drills/{item.drill_id}/report.html",
        )
    if status == "RUNNING":
        return DrillOutcome(**base, execution_status=status, verdict="RUNNING")
    error = " ".join(str(execution.get(k) or "") for k in ("error", "cause")).strip() or status
    return DrillOutcome(
        **base, execution_status=status, verdict="ABORTED" if status == "ABORTED" else "ERROR", error=error[:2000]
    )
