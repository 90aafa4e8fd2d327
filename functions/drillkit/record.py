"""The drill record: one typed home for a drill's state, read and written by ledger.py alone.

Each step of the drill machine saves its own piece (``ledger.save_step``) and the state machine's
document (``$``) carries only what a Choice state reads and what a step needs to continue (``DrillRef``
and each loop's progress). The report, the safety net and the CLI read the whole record.
"""

from __future__ import annotations

import secrets
import time
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from drillkit import clock
from drillkit.errors import CaughtError
from drillkit.measure import MilestoneTracker
from drillkit.model import DrillContext, Injection, RestoreProgress
from drillkit.readings import SurvivingHeartbeat
from drillkit.waits import SteadyWait


class Phase(StrEnum):
    """Where a drill is; the step that starts a phase writes it first thing."""

    PREFLIGHT = "preflight"
    AWAITING_APPROVAL = "awaiting_approval"
    STEADY_STATE = "steady_state"
    INJECT = "inject"
    OBSERVE = "observe"
    RESTORE = "restore"
    VERIFY = "verify"
    REPORT = "report"
    DONE = "done"


def new_drill_id(scenario_name: str) -> str:
    """The one drill-id format: scenario, UTC second, random suffix (also the execution name, which must be unique)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock.now()))
    return f"{scenario_name[:36]}-{stamp}-{secrets.token_hex(2)}"


class DrillRef(BaseModel):
    """``$.drill``: what the Choice states read (blocked, approval_required), the approval wait's timeout, the id."""

    model_config = ConfigDict(extra="ignore")
    drill_id: str
    blocked: bool = False
    approval_required: bool = False
    approval_timeout_seconds: int = 1800

    @classmethod
    def of(cls, context: DrillContext) -> DrillRef:
        return cls(
            drill_id=context.drill_id,
            blocked=context.blocked,
            approval_required=context.approval_required,
            approval_timeout_seconds=context.approval_timeout_seconds,
        )


class Approval(BaseModel):
    """A protected environment's decision: the task token waits here until `drillkit approve|reject` answers."""

    status: Literal["pending", "approved", "rejected"] = "pending"
    task_token: str
    requested_at: float
    expires_at: float
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str = ""

    @property
    def approved_by(self) -> str | None:
        return self.decided_by if self.status == "approved" else None


class Observation(BaseModel):
    """The Observe step's result (``$.observation``): the machine calls Observe again while ``done`` is false."""

    batch: int
    tracker: MilestoneTracker
    done: bool
    reason: Literal["complete", "deadline", "stop condition", "continuing"]
    stopped_by: list[str] = []
    # Read once the failover has played out, before restore puts the primary back.
    surviving_heartbeat: SurvivingHeartbeat | None = None


class Verification(BaseModel):
    """The VerifyRestore step's result (``$.verification``): the steady wait's progress plus what was read back.

    ``done`` false means call again; the wait's fields are absent when verification ended before waiting
    (nothing injected, or a resource not back to its prior state).
    """

    model_config = ConfigDict(extra="allow")  # the steady wait's progress rides along (SteadyWait.resume reads it)
    done: bool
    verified: bool
    t: float
    resources: dict[str, bool] = {}
    steady: bool | None = None
    problems: list[str] = []
    note: str | None = None
    heartbeats_left: list[str] = []  # store heartbeats still there after the last removal, each named


class Ended(BaseModel):
    """How the execution ended, written by the safety net first thing when it ended ABORTED, TIMED_OUT or FAILED."""

    status: str
    execution_arn: str | None = None
    error: str | None = None
    cause: str | None = None
    phase: Phase | None = None


class CaughtErrors(BaseModel):
    """The errors the drill machine caught, by the ``$`` key its Catch wrote them to."""

    error: CaughtError | None = None
    restore_error: CaughtError | None = None
    verify_error: CaughtError | None = None
    approval_error: CaughtError | None = None

    @classmethod
    def of(cls, state: dict[str, Any]) -> CaughtErrors:
        return cls.model_validate({key: state[key] for key in cls.model_fields if state.get(key)})

    def merged(self, newer: CaughtErrors) -> CaughtErrors:
        return self.model_copy(update={key: caught for key, caught in newer if caught is not None})


class StopRequested(BaseModel):
    """Who stopped the drill and why (`drillkit stop`), written before StopExecution: the safety net's report says it."""

    by: str
    reason: str
    at: float
    cause: str


# The pieces a step saves, by record attribute (ledger.save_step checks the piece against it).
Step = Literal[
    "approval", "steady_state", "injection", "observation", "restore", "verification", "ended", "caught", "stop_requested"
]
STEP_PIECES: dict[str, type[BaseModel]] = {
    "approval": Approval,
    "steady_state": SteadyWait,
    "injection": Injection,
    "observation": Observation,
    "restore": RestoreProgress,
    "verification": Verification,
    "ended": Ended,
    "caught": CaughtErrors,
    "stop_requested": StopRequested,
}


class DrillRecord(BaseModel):
    """Everything known about one drill; each attribute is written by one step (see docs/architecture.md)."""

    context: DrillContext
    phase: Phase = Phase.PREFLIGHT
    plan: str | None = None  # the fault's plan in words, from preflight
    approval: Approval | None = None
    steady_state: SteadyWait | None = None
    injection: Injection | None = None
    observation: Observation | None = None
    restore: RestoreProgress | None = None
    verification: Verification | None = None
    ended: Ended | None = None
    caught: CaughtErrors = CaughtErrors()
    stop_requested: StopRequested | None = None  # `drillkit stop`: who and why, before the execution was stopped
    milestones: dict[str, float] = {}  # reached so far, written by Observe as each one is reached
    verdict: str | None = None
    report_key: str | None = None

    @property
    def drill_id(self) -> str:
        return self.context.drill_id


class DrillProgress(BaseModel):
    """The few attributes a follower polls for (Ledger.progress): the phase, when the fault went in, the milestones."""

    phase: Phase = Phase.PREFLIGHT
    injected_at: float | None = None
    milestones: dict[str, float] = {}


class DrillSummary(BaseModel):
    """One line of `drillkit list`."""

    drill_id: str
    scenario: str
    environment: str
    phase: Phase
    verdict: str | None
    started_at: str | None


class DrillStatus(BaseModel):
    """`drillkit status`: where one drill is, what it reached so far and how it ended."""

    drill_id: str
    scenario: str
    environment: str
    phase: Phase
    started_at: str | None
    injected_at: str | None
    milestones: dict[str, float]  # seconds after injection, in the order they were reached
    verdict: str | None
    report_key: str | None
    ended: Ended | None  # set only when the execution ended ABORTED, TIMED_OUT or FAILED (the safety net's report)
    caught: CaughtErrors


def summary_of(record: DrillRecord) -> DrillSummary:
    context = record.context
    return DrillSummary(
        drill_id=record.drill_id,
        scenario=context.scenario.name,
        environment=context.environment_key,
        phase=record.phase,
        verdict=record.verdict,
        started_at=clock.iso(context.started_at),
    )


def status_of(record: DrillRecord) -> DrillStatus:
    context = record.context
    t_inject = record.injection.t_inject if record.injection else None
    reached = sorted(record.milestones.items(), key=lambda milestone: milestone[1])
    return DrillStatus(
        drill_id=record.drill_id,
        scenario=context.scenario.name,
        environment=context.environment_key,
        phase=record.phase,
        started_at=clock.iso(context.started_at),
        injected_at=clock.iso(t_inject),
        milestones={name: round(t - t_inject, 3) if t_inject is not None else t for name, t in reached},
        verdict=record.verdict,
        report_key=record.report_key,
        ended=record.ended,
        caught=record.caught,
    )
