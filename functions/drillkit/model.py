"""The drill context carried between workflow states (plain, JSON-serialisable)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from drillkit.errors import TargetNotFound
from drillkit.findings import Finding
from drillkit.spec import Network, Scenario

Side = Literal["primary", "standby"]


class FailoverEndpoint(BaseModel):
    """One failover record of the target, as Route 53 describes it."""

    model_config = ConfigDict(frozen=True)
    side: Side
    set_identifier: str
    values: tuple[str, ...]
    health_check_id: str | None = None
    ttl: int | None = None


class ResolvedTarget(BaseModel):
    model_config = ConfigDict(frozen=True)
    hosted_zone_id: str
    record_name: str
    record_type: str
    primary: FailoverEndpoint
    standby: FailoverEndpoint | None = None  # None only in a drill that readiness refused

    def endpoint(self, side: Side) -> FailoverEndpoint:
        endpoint = self.primary if side == "primary" else self.standby
        if endpoint is None:
            raise TargetNotFound(f"target.record_name: the target has no {side} failover record")
        return endpoint

    def endpoints(self) -> list[FailoverEndpoint]:
        return [e for e in (self.primary, self.standby) if e is not None]

    def side_of(self, values: list[str] | tuple[str, ...]) -> Side | None:
        answer = {v.rstrip(".").lower() for v in values}
        for endpoint in self.endpoints():
            if answer and answer == {v.rstrip(".").lower() for v in endpoint.values}:
                return endpoint.side
        return None


class DrillContext(BaseModel):
    """What preflight resolved; every later state reads it from $.drill."""

    drill_id: str
    environment_key: str
    requested_by: str
    scenario: Scenario
    network: Network
    target: ResolvedTarget
    started_at: float
    execution_id: str | None = None
    # Readiness findings from preflight; any blocking one ends the drill FAIL before injection.
    readiness: list[Finding] = []
    blocked: bool = False
    # A protected environment (drillkit:protected=true): the machine waits for approval before steady state.
    approval_required: bool = False
    approval_timeout_seconds: int = 1800


class Injection(BaseModel):
    fault: str
    resource_id: str
    undo_seq: int
    method: str | None = None
    t_before: float
    t_inject: float

    @property
    def latency(self) -> float:
        return max(0.0, self.t_inject - self.t_before)


UndoStatus = Literal["pending", "applied", "restored"]  # recorded (the change may have happened), acknowledged, undone


class UndoRecord(BaseModel):
    """One change a drill made, written before the change (write-ahead) so that Restore and the safety net can undo it.

    ``prior`` is the fault's prior state as the ledger keeps it (JSON); ``faults.read_prior`` reads it as the fault's
    own model. Fields a later version adds are ignored by an older one, never refused: a pending undo must replay.
    """

    model_config = ConfigDict(extra="ignore")
    seq: int
    fault: str
    method: str | None = None
    resource_id: str
    prior: dict[str, Any]
    status: UndoStatus
    recorded_at: float | None = None
    applied_at: float | None = None
    restored_at: float | None = None


class UndoOutcome(BaseModel):
    """What one Restore call did with one undo record (``status``: restored, already restored, in progress, failed)."""

    seq: int
    resource_id: str
    status: str
    t: float | None = None  # when it was restored
    waiting_for: str | None = None  # in progress: what the restore waits for
    error: str | None = None  # failed: why


class RestoreProgress(BaseModel):
    """The Restore step's result ($.restore): the state machine calls Restore again while done is false."""

    started_at: float  # the first Restore call of this restore: the budget counts from it
    ended_at: float
    records: list[UndoOutcome]  # this call's outcome per undo record, newest first
    done: bool
    budget_seconds: float
    retry_in_seconds: int  # the Wait state's SecondsPath before the next call
    waiting_for: list[str] = []  # per record still in progress: its resource and what it waits for
    calls: int = 1
    heartbeats_left: list[str] = []  # store heartbeats (items, objects) Restore could not remove, each named
