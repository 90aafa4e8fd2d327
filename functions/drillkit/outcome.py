"""Judging a drill: measurements, findings, deviations, the verdict and remedies, from its steps and samples.

Pure: no AWS call, no I/O, no clock. ``judge`` says what happened and whether it was good enough;
evidence/report.py only shapes that into the report and renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from drillkit import measure, replication
from drillkit.errors import CaughtError, DrillRejected
from drillkit.findings import Finding as ReadinessFinding
from drillkit.measure import MilestoneTracker, Verdict
from drillkit.milestones import CATALOGUE
from drillkit.model import DrillContext, Injection
from drillkit.readings import HeartbeatReading, Reading, SurvivingHeartbeat
from drillkit.record import Approval, DrillRecord, Ended, Verification
from drillkit.replication import StoreRecoveryPoint
from drillkit.spec import DynamoDbGlobalTable, Scenario

Severity = Literal["critical", "high", "medium", "low", "info"]
ObjectiveVerdict = Literal["PASS", "FAIL", "NOT_JUDGED", "NOT_APPLICABLE"]
APPROVAL_TIMEOUT = "States.Timeout"
ERROR_REMEDY = "Read the step log and the execution's error, fix the cause and run the drill again."
RESTORE_NOT_VERIFIED_REMEDY = (
    "Inspect the resources named in restore.verification, put the prior state back "
    "(restore.records holds it) and run the drill again."
)
DATA_LOST_ENTIRELY_REMEDY = (
    "Check that the standby cluster replicates from the primary (a member of the same global "
    "database) and that replication is healthy."
)
TABLE_NOT_REPLICATED_REMEDY = (
    "Make the table global with a replica in the standby region (dynamodb:UpdateTable ReplicaUpdates Create) and check "
    "that the replica is ACTIVE; the readiness findings of the data area name what is missing."
)
OBJECTS_NOT_REPLICATED_REMEDY = (
    "Check the bucket's replication rule: enabled, covering the heartbeat's prefix, versioning on both buckets, a "
    "replication role that exists and a destination bucket policy that lets it replicate; see the readiness findings."
)
HEARTBEATS_LEFT_REMEDY = "Delete the heartbeat items or objects named (docs/measurement.md lists their names)."
NO_CUTOVER = "the drill never moved the writers to the standby (no DNS cutover), so no store's writes were cut"
STOP_CONDITION_REMEDY = "Find out why the alarm fired."
EXECUTION_ENDED_REMEDY = "Read the execution's history to see why it ended; the environment was restored as recorded below."
NOT_APPROVED_REMEDY = "Agree the drill window with the environment's owner, then run the drill again."
RPO_NOT_APPLICABLE_REMEDY = (
    "Judge the RPO in a drill that moves the writer: stop-cluster with global-failover or global-switchover."
)


# -- what the steps recorded ----------------------------------------------------------------
class StepResult(BaseModel):
    """A step's result as judging reads it; what else the step keeps is not judged."""

    model_config = ConfigDict(extra="ignore")


class Steady(StepResult):
    reached_at: float | None = None  # None: a wait still in progress (SteadyState continues across invocations)


class Observation(StepResult):
    batch: int = 0
    reason: str | None = ""
    stopped_by: list[str] = []
    surviving_heartbeat: SurvivingHeartbeat | None = None


class RestoredRecord(StepResult):
    seq: int
    resource_id: str
    status: str
    t: float | None = None


class Restore(StepResult):
    started_at: float | None = None
    ended_at: float | None = None
    records: list[RestoredRecord] = []
    heartbeats_left: list[str] = []

    def record_times(self) -> list[tuple[RestoredRecord, float | None]]:
        """Each record with when it was restored; one not restored yet is dated by the step's end."""
        return [(record, record.t if record.t is not None else self.ended_at) for record in self.records]


class DrillSteps(BaseModel):
    """Each step's result, at its ResultPath in the machine's state ($); a Catch puts its error beside them."""

    model_config = ConfigDict(extra="ignore")
    approval: Approval | None = None
    approval_error: CaughtError | None = None
    steady: Steady | None = None
    injection: Injection | None = None
    observation: Observation | None = None
    error: CaughtError | None = None
    restore: Restore | None = None
    restore_error: CaughtError | None = None
    verification: Verification | None = None
    verify_error: CaughtError | None = None
    ended: Ended | None = None

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DrillSteps:
        """An empty or null result is no result (the step did not run)."""
        return cls.model_validate({key: value for key, value in state.items() if value})

    @classmethod
    def from_record(cls, record: DrillRecord) -> DrillSteps:
        """The drill record's pieces, as judging reads them (the record's own models where judging reads all of it)."""

        def plain(piece: BaseModel | None) -> dict[str, Any] | None:
            return piece.model_dump(mode="json") if piece is not None else None

        return cls(
            approval=record.approval,
            approval_error=record.caught.approval_error,
            steady=Steady.model_validate(plain(record.steady_state)) if record.steady_state else None,
            injection=record.injection,
            observation=Observation.model_validate(plain(record.observation)) if record.observation else None,
            error=record.caught.error,
            restore=Restore.model_validate(plain(record.restore)) if record.restore else None,
            restore_error=record.caught.restore_error,
            verification=record.verification,
            verify_error=record.caught.verify_error,
            ended=record.ended,
        )


# -- what judging says ---------------------------------------------------------------------
class Finding(BaseModel):
    """A problem the drill showed, with where to see it and what to do about it (report.json findings[])."""

    model_config = ConfigDict(extra="ignore")
    severity: Severity
    code: str
    message: str
    evidence: str | None = None
    remedy: str | None = None

    @field_validator("evidence", "remedy", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value or None

    @classmethod
    def of_readiness(cls, finding: ReadinessFinding) -> Finding:
        """A readiness finding as the report lists it: its evidence in words (the call, the resource, the answer)."""
        return cls(
            severity=finding.severity,
            code=finding.code,
            message=finding.message,
            evidence=str(finding.evidence),
            remedy=finding.remedy,
        )

    def report(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class RpoWindow(BaseModel):
    """The heartbeat canary's data-loss window (measure.rpo); where the RPO is not judged, what the canary saw instead."""

    last_acknowledged_at: float | None
    first_failed_write_at: float | None
    newest_surviving_at: float | None
    serving_store: str | None
    serving_store_reason: str | None
    heartbeats_acknowledged: int
    seconds: float | None
    nothing_survived: bool | None = None  # set only when no heartbeat of the drill survived
    observed_replication_lag_seconds: float | None = None  # not applicable: the gap read in a replica
    replication_lag_note: str | None = None

    def report(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class DataIntegrity(BaseModel):
    """results.data_integrity: how the canary measured, and whether the RPO was judged at all."""

    method: Literal["heartbeat canary"] = "heartbeat canary"
    not_applicable_because: str | None = None
    window: RpoWindow

    def report(self) -> dict[str, Any]:
        judged: dict[str, Any] = {}
        if self.not_applicable_because:
            judged = {"rpo_applicable": False, "reason": self.not_applicable_because}
        return {"method": self.method, **judged, **self.window.report()}


class Measurement(BaseModel):
    """One objective: seconds from the acknowledged injection with its uncertainty, judged against its target."""

    seconds: float | None
    uncertainty_seconds: float
    target_seconds: float | None
    passed: bool | None  # None: no target, or not judged (configuration applied, not applicable)
    kind: Literal["measured", "not_applicable", "configuration-applied"]
    reason: str | None = None  # why not applicable
    detail: RpoWindow | None = None  # how the RPO was obtained (heartbeats, serving store)
    store: str | None = None  # the RPO: the store whose recovery point decided it (the worst)

    @property
    def verdict(self) -> ObjectiveVerdict:
        if self.kind == "not_applicable":
            return "NOT_APPLICABLE"
        return "NOT_JUDGED" if self.passed is None else ("PASS" if self.passed else "FAIL")

    def report(self) -> dict[str, Any]:
        shown = self.model_dump(exclude={"reason", "detail", "store"})
        if self.store is not None:
            shown["store"] = self.store
        if self.reason is not None:
            shown["reason"] = self.reason
        if self.detail is not None:
            shown["detail"] = self.detail.report()
        return shown


class StageFailure(BaseModel):
    """A step that failed: the state's key its error was caught at, the stage in words, and the error."""

    key: Literal["error", "restore_error", "verify_error"]
    stage: str
    error: CaughtError


class RpoRead(BaseModel):
    """When and where the newest surviving heartbeat was read, and the data-loss window it gave."""

    t: float
    store: str | None
    seconds: float | None


class Outcome(BaseModel):
    verdict: Verdict
    restore_verified: bool
    verification: Verification | None  # the step's, or the reason nothing needed verifying
    measurements: dict[str, Measurement]
    findings: list[Finding]
    deviations: list[str]  # departures from the plan, in words, for the execution section
    milestones: dict[str, float]  # those reached, in the order they are expected
    alerting_alarm: str | None = None
    rpo_read: RpoRead | None = None
    data_integrity: DataIntegrity | None = None  # None: no heartbeat canary
    data_stores: list[StoreRecoveryPoint] = []  # each replicated store's recovery point or observed lag
    failures: list[StageFailure] = []
    declined: CaughtError | None = None  # the approval a person refused, or that nobody gave in time

    @property
    def objectives(self) -> dict[str, ObjectiveVerdict]:
        return {name: measurement.verdict for name, measurement in self.measurements.items()}


@dataclass
class _Notes:
    """Findings and deviations, in the order judging comes upon them."""

    findings: list[Finding] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)

    def add(self, finding: Finding, deviation: str | None = None) -> None:
        self.findings.append(finding)
        if deviation:
            self.deviations.append(deviation)


@dataclass
class _Observed:
    measurements: dict[str, Measurement] = field(default_factory=dict)
    milestones: dict[str, float] = field(default_factory=dict)
    alerting_alarm: str | None = None
    rpo_read: RpoRead | None = None
    data_integrity: DataIntegrity | None = None
    data_stores: list[StoreRecoveryPoint] = field(default_factory=list)


# -- judging -------------------------------------------------------------------------------
def judge(context: DrillContext, steps: DrillSteps, samples: list[Reading], ended_at: float) -> Outcome:
    """Everything the report says about how the drill went; ``ended_at`` dates what happened at the end."""
    notes = _Notes(findings=[Finding.of_readiness(finding) for finding in context.readiness])
    stopped_by = steps.observation.stopped_by if steps.observation else []
    if stopped_by:
        _stop_condition(stopped_by, notes)
    if steps.ended:
        _execution_ended(steps.ended, notes)
    caught = steps.approval_error
    declined = caught if caught and caught.error in (DrillRejected.__name__, APPROVAL_TIMEOUT) else None
    if declined:
        _not_approved(declined, notes)
    failures = _failures(steps, broken_approval=caught if caught and not declined else None)
    for failure in failures:
        notes.add(
            Finding(
                severity="high" if failure.key == "error" else "critical",
                code=failure.error.error,
                message=failure.error.message,
                evidence=f"execution error {failure.error.error} in the {failure.stage} stage",
                remedy=ERROR_REMEDY,
            ),
            f"the {failure.stage} stage failed with {failure.error.error}: {failure.error.message}",
        )
    observed = _Observed()
    if steps.injection:
        # A milestone missed because the drill stopped early is not the stack's fault: say so only after a full watch.
        watched_to_the_end = not any(f.key == "error" for f in failures) and not steps.ended and not stopped_by
        observed = _observe(context, steps, steps.injection, samples, ended_at, watched_to_the_end, notes)
    verification = _verification(context, steps, ended_at, nothing_injected_because_not_approved=bool(caught), notes=notes)
    restore_verified = bool(verification and verification.verified)
    if not restore_verified:
        problems = "; ".join(verification.problems if verification else []) or "the restore could not be verified"
        notes.add(
            Finding(
                severity="critical",
                code="RESTORE_NOT_VERIFIED",
                message=problems,
                evidence="restore.verification",
                remedy=RESTORE_NOT_VERIFIED_REMEDY,
            )
        )
    _heartbeats_left(steps, notes)
    status = steps.ended.status if steps.ended else None
    result = measure.verdict(
        {name: measurement.report() for name, measurement in observed.measurements.items()},
        restore_verified,
        error=bool(failures) or status == "FAILED",
        aborted=status in ("ABORTED", "TIMED_OUT") or bool(stopped_by) or bool(declined),
    )
    if context.blocked and result == "PASS":
        result = "FAIL"  # a blocking readiness finding: the stack cannot fail over, whatever else holds
    return Outcome(
        verdict=result,
        restore_verified=restore_verified,
        verification=verification,
        measurements=observed.measurements,
        findings=notes.findings,
        deviations=notes.deviations,
        milestones=observed.milestones,
        alerting_alarm=observed.alerting_alarm,
        rpo_read=observed.rpo_read,
        data_integrity=observed.data_integrity,
        data_stores=observed.data_stores,
        failures=failures,
        declined=declined,
    )


def _heartbeats_left(steps: DrillSteps, notes: _Notes) -> None:
    """Store heartbeats a removal could not delete (verification's removal is the last word, else Restore's)."""
    verified = steps.verification.heartbeats_left if steps.verification and steps.verification.done else None
    left = verified if verified is not None else (steps.restore.heartbeats_left if steps.restore else [])
    if left:
        message = "heartbeats left behind: " + "; ".join(left)
        notes.add(
            Finding(
                severity="medium", code="HEARTBEATS_LEFT", message=message, evidence="restore", remedy=HEARTBEATS_LEFT_REMEDY
            ),
            message,
        )


def _stop_condition(stopped_by: list[str], notes: _Notes) -> None:
    message = (
        f"stop condition {', '.join(stopped_by)} went into ALARM during observation: the drill stopped observing "
        "and restored at once"
    )
    notes.add(
        Finding(
            severity="high",
            code="STOP_CONDITION",
            message=message,
            evidence="samples.jsonl (alarms readings)",
            remedy=STOP_CONDITION_REMEDY,
        ),
        message,
    )


def _execution_ended(ended: Ended, notes: _Notes) -> None:
    cause = ": ".join(str(part) for part in (ended.error, ended.cause) if part)
    message = (
        f"the drill's execution ended {ended.status} during {ended.phase or 'an unknown phase'}"
        + (f" ({cause})" if cause else "")
        + "; the safety net replayed the undo records, verified the restore and wrote this report"
    )
    notes.add(
        Finding(
            severity="high",
            code=f"EXECUTION_{ended.status}",
            message=message,
            evidence=f"Step Functions execution {ended.execution_arn}",
            remedy=EXECUTION_ENDED_REMEDY,
        ),
        message,
    )


def _not_approved(declined: CaughtError, notes: _Notes) -> None:
    """A person said no, or nobody answered in time."""
    code = "APPROVAL_TIMED_OUT" if declined.error == APPROVAL_TIMEOUT else "APPROVAL_REJECTED"
    message = (
        f"the environment is protected and the drill was not approved: {declined.message or declined.error}; nothing was injected"
    )
    notes.add(
        Finding(
            severity="medium", code=code, message=message, evidence="drill record approval (ledger)", remedy=NOT_APPROVED_REMEDY
        ),
        message,
    )


def _failures(steps: DrillSteps, broken_approval: CaughtError | None) -> list[StageFailure]:
    """The steps that failed, in the order of the drill; an approval step that broke is a failure of the drill."""
    stages: list[tuple[Literal["error", "restore_error", "verify_error"], str, CaughtError | None]] = [
        ("error", "drill", steps.error or broken_approval),
        ("restore_error", "restore", steps.restore_error),
        ("verify_error", "restore verification", steps.verify_error),
    ]
    return [StageFailure(key=key, stage=stage, error=error) for key, stage, error in stages if error]


def _observe(
    context: DrillContext,
    steps: DrillSteps,
    injection: Injection,
    samples: list[Reading],
    ended_at: float,
    watched_to_the_end: bool,
    notes: _Notes,
) -> _Observed:
    """Replay every reading up to the restore through the milestone tracker, and judge each milestone."""
    scenario = context.scenario
    sampling = scenario.sampling
    tracker = MilestoneTracker(
        t_inject=injection.t_inject,
        t_before_inject=injection.t_before,
        hold_samples=sampling.hold_samples,
        expected=measure.expected_milestones(bool(scenario.alarms)),
    )
    restore_started = (steps.restore.started_at if steps.restore else None) or ended_at
    for sample in samples:
        if sample.t <= restore_started:
            tracker.feed(sample)
    observed = _Observed(alerting_alarm=tracker.alerting_alarm)
    measured = measure.measurements(tracker, scenario.objectives, sampling.interval_seconds)
    for name in tracker.expected:
        observed.measurements[name] = measurement = Measurement.model_validate(measured[name])
        reached = getattr(tracker, name)
        if reached is not None:
            observed.milestones[name] = reached
        elif watched_to_the_end:
            _not_reached(name, sampling.observe_timeout_seconds, notes)
        if measurement.passed is False and reached is not None:
            notes.add(
                Finding(
                    severity="high",
                    code="OBJECTIVE_MISSED",
                    evidence=f"measurements.{name}",
                    message=f"{CATALOGUE[name].label} took {measurement.seconds:.1f}s, target {measurement.target_seconds:g}s",
                    remedy=CATALOGUE[name].missed_remedy,
                )
            )
    if scenario.data.heartbeat is not None:
        _judge_rpo(scenario, injection, samples, steps.observation or Observation(), observed, notes)
    if scenario.data.stores:
        _judge_stores(scenario, samples, observed.milestones.get("dns_cutover"), observed, notes)
    return observed


def _not_reached(name: str, observe_timeout_seconds: float, notes: _Notes) -> None:
    milestone = CATALOGUE[name]
    message = f"{milestone.not_reached} within {observe_timeout_seconds:g}s of injection"
    notes.add(
        Finding(
            severity="high",
            code=milestone.not_reached_code,
            message=message,
            evidence="samples.jsonl (observation readings)",
            remedy=milestone.not_reached_remedy,
        ),
        message,
    )


def _judge_rpo(
    scenario: Scenario,
    injection: Injection,
    samples: list[Reading],
    observation: Observation,
    observed: _Observed,
    notes: _Notes,
) -> None:
    """The RPO from the heartbeat canary: judged where the fault moves the writer, context elsewhere."""
    surviving = observation.surviving_heartbeat
    heartbeats = [sample for sample in samples if isinstance(sample, HeartbeatReading)]
    window = RpoWindow.model_validate(measure.rpo(heartbeats, surviving, injection.t_inject))
    if reason := measure.rpo_not_applicable_because(scenario, injection.resource_id):
        _rpo_not_applicable(scenario, window, reason, observed, notes)
        return
    target = scenario.objectives.rpo_seconds
    rpo = Measurement.model_validate(
        {**measure.rpo_measurement(window.report(), target, scenario.sampling.interval_seconds), "kind": "measured"}
    )
    observed.measurements["rpo"] = rpo
    observed.data_integrity = DataIntegrity(window=window)
    if window.seconds is None:
        reason = (
            surviving.error if surviving else None
        ) or "the newest surviving heartbeat was not read (observation did not finish)"
        message = f"RPO not measured: {reason}"
        notes.add(
            Finding(
                severity="high",
                code="RPO_NOT_MEASURED",
                message=message,
                evidence="samples.jsonl (heartbeat readings)",
                remedy=ERROR_REMEDY,
            ),
            message,
        )
        return
    if window.nothing_survived:
        message = (
            f"data not replicated: no heartbeat of this drill is readable in {window.serving_store}: everything written "
            "during the drill "
            f"({window.heartbeats_acknowledged} acknowledged heartbeats) is missing from the store that serves after failover"
        )
        notes.add(
            Finding(
                severity="critical",
                code="DATA_NOT_REPLICATED",
                message=message,
                evidence="measurements.rpo.detail",
                remedy=DATA_LOST_ENTIRELY_REMEDY,
            )
        )
    elif surviving is not None:
        observed.rpo_read = RpoRead(t=surviving.t, store=window.serving_store, seconds=window.seconds)
    if rpo.passed is False:
        notes.add(
            Finding(
                severity="high",
                code="OBJECTIVE_MISSED",
                evidence="measurements.rpo",
                message=f"{CATALOGUE['rpo'].label} was {window.seconds:.1f}s, target {target:g}s",
                remedy=CATALOGUE["rpo"].missed_remedy,
            )
        )


def _judge_stores(scenario: Scenario, samples: list[Reading], cut_at: float | None, observed: _Observed, notes: _Notes) -> None:
    """Each replicated store's recovery point at the cutover (judged), or its observed lag (no cutover)."""
    readings = replication.readings_of(samples)
    interval = scenario.sampling.interval_seconds
    for store in scenario.data.stores:
        target = store.rpo_seconds if store.rpo_seconds is not None else scenario.objectives.rpo_seconds
        point = replication.recovery_point(store.label, store.kind, readings.get(store.label, []), cut_at, target, interval)
        observed.data_stores.append(point)
        where = (
            f"table {store.table} ({store.primary_region} -> {store.standby_region})"
            if isinstance(store, DynamoDbGlobalTable)
            else f"bucket {store.bucket} -> {store.destination_bucket} ({store.primary_region} -> {store.standby_region})"
        )
        if point.not_replicated:
            status = ", ".join(f"{name} {count}" for name, count in sorted(point.replication_status.items()))
            message = (
                f"data not replicated: store {store.label}, {where}: none of the {point.heartbeats_acknowledged} heartbeats "
                f"the primary acknowledged appeared in the standby" + (f" (source ReplicationStatus: {status})" if status else "")
            )
            remedy = TABLE_NOT_REPLICATED_REMEDY if isinstance(store, DynamoDbGlobalTable) else OBJECTS_NOT_REPLICATED_REMEDY
            notes.add(
                Finding(
                    severity="critical",
                    code="DATA_NOT_REPLICATED",
                    message=message,
                    evidence=f"data_stores.{store.label}",
                    remedy=remedy,
                ),
                message,
            )
        elif point.seconds is None:
            message = f"RPO of store {store.label} not measured: " + (
                "; ".join(point.errors) or "no heartbeat was written and read"
            )
            notes.add(
                Finding(
                    severity="high",
                    code="RPO_NOT_MEASURED",
                    message=message,
                    evidence=f"data_stores.{store.label}",
                    remedy=ERROR_REMEDY,
                ),
                message,
            )
        elif point.passed is False and point.target_seconds is not None:
            notes.add(
                Finding(
                    severity="high",
                    code="OBJECTIVE_MISSED",
                    evidence=f"data_stores.{store.label}",
                    message=f"{CATALOGUE['rpo'].label} of store {store.label} was {point.seconds:.1f}s, "
                    f"target {point.target_seconds:g}s",
                    remedy=CATALOGUE["rpo"].missed_remedy,
                )
            )
    _worst_rpo(observed, interval, scenario.objectives.rpo_seconds)


def _worst_rpo(observed: _Observed, interval: float, target: float | None) -> None:
    """The RPO objective: the worst of the judged recovery points (the Aurora canary's and each store's) decides."""
    judged = [point for point in observed.data_stores if point.judged]
    canary = observed.measurements.get("rpo")
    if not judged:
        if canary is None:
            observed.measurements["rpo"] = Measurement.model_validate(
                measure.rpo_not_applicable({}, target, interval, NO_CUTOVER) | {"detail": None}
            )
        return
    candidates = [
        Measurement(
            seconds=p.seconds,
            uncertainty_seconds=p.uncertainty_seconds,
            target_seconds=p.target_seconds,
            passed=p.passed,
            kind="measured",
            store=p.store,
        )
        for p in judged
    ]
    if canary is not None and canary.kind == "measured":
        candidates.append(canary.model_copy(update={"store": canary.store or "heartbeat"}))
    worst = max(candidates, key=lambda m: (m.passed is False, m.seconds if m.seconds is not None else float("inf")))
    verdicts = [m.passed for m in candidates]
    passed = False if False in verdicts else (None if all(v is None for v in verdicts) else True)
    observed.measurements["rpo"] = worst.model_copy(update={"passed": passed})


def _rpo_not_applicable(scenario: Scenario, window: RpoWindow, reason: str, observed: _Observed, notes: _Notes) -> None:
    """No writer moved: the RPO objective is not applicable; what the canary saw stays as context."""
    heartbeat = scenario.data.heartbeat
    assert heartbeat is not None  # only a scenario with a heartbeat canary has an RPO to judge
    # A store other than the heartbeat's own writer is a replica: the gap read there is replication lag.
    replica = window.serving_store not in (None, heartbeat.primary_cluster_arn)
    seen = window.model_copy(
        update={
            "seconds": None,
            "observed_replication_lag_seconds": window.seconds if replica else None,
            "replication_lag_note": (
                f"newest heartbeat readable in replica {window.serving_store}"
                if replica
                else "not observed: the canary read the writer itself (the Data API cannot read an unpromoted Aurora secondary)"
            ),
        }
    )
    target = scenario.objectives.rpo_seconds
    observed.measurements["rpo"] = Measurement.model_validate(
        measure.rpo_not_applicable(seen.report(), target, scenario.sampling.interval_seconds, reason)
    )
    observed.data_integrity = DataIntegrity(not_applicable_because=reason, window=seen)
    if target is not None:
        notes.add(
            Finding(
                severity="info",
                code="RPO_NOT_APPLICABLE",
                evidence="measurements.rpo",
                message=f"{CATALOGUE['rpo'].label} not judged: {reason}; the target of {target:g}s applies to drills "
                "that fail the database over (stop-cluster)",
                remedy=RPO_NOT_APPLICABLE_REMEDY,
            )
        )


def _verification(
    context: DrillContext, steps: DrillSteps, ended_at: float, nothing_injected_because_not_approved: bool, notes: _Notes
) -> Verification | None:
    """The restore's verification; where nothing was injected there is nothing to put back, and it holds."""
    if steps.injection:
        return steps.verification
    if context.blocked:
        notes.deviations.append(
            "readiness refused the drill before injection: "
            + "; ".join(finding.code for finding in context.readiness if finding.blocking)
        )
        return Verification(
            done=True, verified=True, t=ended_at, resources={}, note="readiness refused the drill: nothing was injected"
        )
    if nothing_injected_because_not_approved:
        return Verification(done=True, verified=True, t=ended_at, resources={}, note="not approved: nothing was injected")
    return steps.verification
