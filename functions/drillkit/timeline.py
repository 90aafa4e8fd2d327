"""The report's timeline: one typed event per kind, {t, event, ...details, at} in report.json, in time order.

An event's JSON is the model's fields without those it does not know (None), then ``at``, the instant as ISO 8601:
the shape reports have always had, so a report written before these models reads back unchanged (``read``).
Milestone events are named after their objective in the catalogue (milestones.py), the others after what happened.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter, field_validator

from drillkit import clock
from drillkit.milestones import CATALOGUE


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    t: float
    event: str
    at: str | None = None  # set on the way into the report; not part of what happened

    def report(self) -> dict[str, Any]:
        """The event as report.json has it: what is known of it, then its instant as ISO 8601."""
        return {**self.model_dump(mode="json", exclude_none=True, exclude={"at"}), "at": clock.iso(self.t)}


class DrillStarted(_Event):
    event: Literal["drill_started"] = "drill_started"
    requested_by: str | None = None


class ExecutionEnded(_Event):
    event: Literal["execution_ended"] = "execution_ended"
    status: str
    phase: str | None = None


class ApprovalGranted(_Event):
    event: Literal["approval_granted"] = "approval_granted"
    by: str


class ApprovalDeclined(_Event):
    event: Literal["approval_declined"] = "approval_declined"
    reason: str | None = None


class ErrorCaught(_Event):
    event: Literal["error"] = "error"
    stage: str
    error: str | None = None
    message: str | None = None


class SteadyStateReached(_Event):
    event: Literal["steady_state_reached"] = "steady_state_reached"


class _FaultEvent(_Event):
    fault: str
    resource_id: str | None = None


class InjectRequested(_FaultEvent):
    event: Literal["inject_requested"] = "inject_requested"


class FaultInjected(_FaultEvent):
    event: Literal["fault_injected"] = "fault_injected"


class AlarmFired(_Event):
    event: Literal["alarm"] = "alarm"
    alarm: str


class MilestoneReached(_Event):
    """An objective's milestone (detection, DNS cutover, recovery, ...): its event is the objective's name."""

    event: str
    seconds: float | None = None

    @field_validator("event")
    @classmethod
    def _an_objective(cls, name: str) -> str:
        if name not in CATALOGUE:
            raise ValueError(f"{name!r} is no objective's milestone (known: {', '.join(CATALOGUE)})")
        return name


class RpoRead(_Event):
    event: Literal["rpo_read"] = "rpo_read"
    store: str | None = None
    seconds: float | None = None


class Restored(_Event):
    event: Literal["restore"] = "restore"
    resource_id: str | None = None
    status: str


class RestoreVerified(_Event):
    event: Literal["restore_verified"] = "restore_verified"


class RestoreNotVerified(_Event):
    event: Literal["restore_not_verified"] = "restore_not_verified"


class DrillEnded(_Event):
    event: Literal["drill_ended"] = "drill_ended"


def _kind(value: Any) -> str:
    name = value.get("event") if isinstance(value, dict) else getattr(value, "event", None)
    return "milestone" if name in CATALOGUE else str(name)


Event = Annotated[
    Annotated[DrillStarted, Tag("drill_started")]
    | Annotated[ExecutionEnded, Tag("execution_ended")]
    | Annotated[ApprovalGranted, Tag("approval_granted")]
    | Annotated[ApprovalDeclined, Tag("approval_declined")]
    | Annotated[ErrorCaught, Tag("error")]
    | Annotated[SteadyStateReached, Tag("steady_state_reached")]
    | Annotated[InjectRequested, Tag("inject_requested")]
    | Annotated[FaultInjected, Tag("fault_injected")]
    | Annotated[AlarmFired, Tag("alarm")]
    | Annotated[MilestoneReached, Tag("milestone")]
    | Annotated[RpoRead, Tag("rpo_read")]
    | Annotated[Restored, Tag("restore")]
    | Annotated[RestoreVerified, Tag("restore_verified")]
    | Annotated[RestoreNotVerified, Tag("restore_not_verified")]
    | Annotated[DrillEnded, Tag("drill_ended")],
    Discriminator(_kind),
]
_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


E = TypeVar("E", bound=_Event)


def happened(t: float | None, kind: type[E], **details: Any) -> E | None:
    """The event of ``kind`` at ``t``; None when the instant is not known (it never happened)."""
    return None if t is None else kind(t=t, **details)


def ordered(events: list[Event | None]) -> list[Event]:
    """The events that happened (None: an instant never reached), in time order; those at one instant keep theirs."""
    return sorted((e for e in events if e is not None), key=lambda e: e.t)


def report(events: list[Event | None]) -> list[dict[str, Any]]:
    """The report's timeline section."""
    return [e.report() for e in ordered(events)]


def read(timeline: list[dict[str, Any]]) -> list[Event]:
    """A report's timeline section read back (any report version); a malformed event is a ValidationError naming it."""
    return _EVENTS.validate_python(timeline)


def first(events: list[Event], name: str) -> float | None:
    """When the first event called ``name`` happened; None if none did."""
    return next((e.t for e in events if e.event == name), None)
