"""The drill's steps, one function per state of statemachines/drill.asl.json.

Each step takes the state document the machine carries ($: the drill's id and each loop's progress, see
record.DrillRef), reads the drill record, saves its own typed piece there (ledger.save_step) and returns what
the machine stores under its ResultPath. Handlers only parse, log and call these.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from drillkit import allow, aws, canary, change_calendar, clock, faults, notify, probes, readiness, stores, waits
from drillkit.config import approval_config, evidence_config, ledger_config, notify_config, observe_config
from drillkit.discovery import resolve_target
from drillkit.errors import DrillRejected, DrillStateInvalid, EnvironmentLocked, NotSteady, RestoreFailed, ScenarioInvalid
from drillkit.evidence.store import EvidenceStore
from drillkit.faults import Fault, PriorState
from drillkit.findings import Finding
from drillkit.ledger import UNDO_APPLIED, UNDO_RESTORED, Ledger
from drillkit.measure import MilestoneTracker, expected_milestones
from drillkit.model import DrillContext, Injection, ResolvedTarget, RestoreProgress, UndoOutcome
from drillkit.probes import health_check, keepalive
from drillkit.readings import AlarmsReading, Reading, StoresSample
from drillkit.record import (
    Approval,
    CaughtError,
    CaughtErrors,
    DrillRecord,
    DrillRef,
    Ended,
    Observation,
    Phase,
    Verification,
    new_drill_id,
)
from drillkit.spec import Network, Scenario, parse_request
from drillkit.waits import SteadyWait


def _ledger() -> Ledger:
    return Ledger(ledger_config().ledger_table)


def _store() -> EvidenceStore:
    return EvidenceStore(evidence_config().evidence_bucket)


def environment_key(hosted_zone_id: str, record_name: str) -> str:
    return f"route53/{hosted_zone_id}/{record_name}"


def _enter(state: dict[str, Any], phase: Phase) -> DrillRecord:
    """A step starts: its phase written and the drill's record read (by the id $.drill carries), in one call."""
    return _ledger().enter(_drill_id(state), phase)


def _drill_id(state: dict[str, Any]) -> str:
    drill_id = (state.get("drill") or {}).get("drill_id")
    if not isinstance(drill_id, str) or not drill_id:
        raise DrillStateInvalid("$.drill.drill_id: the state the machine carries names no drill")
    return drill_id


@contextmanager
def _on_target(context: DrillContext) -> Iterator[None]:
    """Reach the stack under test through its environment's role (target.role_arn), if any."""
    target = context.scenario.target
    with aws.acting_for(target.role_arn, target.external_id, context.drill_id):
        yield


def _keep_caught(ledger: Ledger, record: DrillRecord, newly: CaughtErrors) -> DrillRecord:
    """Save the errors a Catch put in $ (only the machine sees them) into the record; returns the record as saved."""
    caught = record.caught.merged(newly)
    if caught == record.caught:
        return record
    ledger.save_step(record.drill_id, "caught", caught)
    return record.model_copy(update={"caught": caught})


# -- 1. preflight ------------------------------------------------------------


def _survey(scenario: Scenario, network: Network) -> tuple[ResolvedTarget, Fault, PriorState, list[Finding], bool]:
    """Read-only: the failover target, the fault and its prior state, the readiness findings, protection."""
    aws.check_target_role()  # a role drillkit may not assume is named before anything else is read
    target = resolve_target(scenario.target)  # the zone and its records first: without them nothing else matters
    if problems := canary.reference_problems(scenario.data.heartbeat):
        raise ScenarioInvalid(problems)  # every ARN the scenario names is checked, and each wrong one named by field
    fault = faults.fault_of(scenario.fault.type)
    prior = fault.capture(scenario.fault, target)  # proves the fault's resource exists and is readable
    tags = allow.require(fault.resources(prior))
    return target, fault, prior, readiness.check(scenario, target, network), allow.is_protected(tags)


def plan(request: dict[str, Any]) -> dict[str, Any]:
    """A dry run: what a drill would change and how it would be restored. Reads only; takes no lock."""
    parsed = parse_request(request)
    scenario = parsed.scenario
    with aws.acting_for(scenario.target.role_arn, scenario.target.external_id, parsed.drill_id):
        target, fault, prior, findings, protected = _survey(scenario, parsed.network)
    return {
        "scenario": scenario.name,
        "target": target.model_dump(mode="json"),
        "change": fault.describe_plan(scenario.fault, target, prior),
        "resources": fault.resources(prior),
        "prior_state": prior.stored(),
        "readiness": [f.model_dump(mode="json") for f in findings],
        "blocked": any(f.blocking for f in findings),
        "approval_required": protected,
        "measures": [*expected_milestones(bool(scenario.alarms)), *(["rpo"] if scenario.data.measured else [])],
    }


def preflight(request: dict[str, Any], execution_id: str | None, execution_name: str | None) -> dict[str, Any]:
    """Validate, resolve targets, run readiness checks, take the lock, create the record. Touches nothing."""
    started_at = clock.now()
    parsed = parse_request(request)
    scenario = parsed.scenario
    # The CLI names the execution after the drill id; a console start names it or lets Step Functions do so.
    drill_id = parsed.drill_id or execution_name or new_drill_id(scenario.name)
    if scenario.change_calendar:
        # A change freeze refuses the drill before anything is read of the target or written to the ledger.
        change_calendar.refuse_if_closed(scenario.change_calendar, f"drill {drill_id} of scenario {scenario.name}")
    with aws.acting_for(scenario.target.role_arn, scenario.target.external_id, drill_id):
        target, fault, prior, findings, protected = _survey(scenario, parsed.network)
    blocked = any(f.blocking for f in findings)
    # Each wait continues across invocations, but all of them must fit in the execution's maximum duration.
    approval_wait = approval_config().approval_timeout_seconds if protected and not blocked else None
    if too_long := waits.waits_beyond_the_machine(scenario.sampling, approval_wait):
        raise ScenarioInvalid(too_long)
    context = DrillContext(
        drill_id=drill_id,
        environment_key=environment_key(target.hosted_zone_id, target.record_name),
        requested_by=parsed.requested_by,
        scenario=scenario,
        network=parsed.network,
        target=target,
        started_at=started_at,
        execution_id=execution_id,
        readiness=findings,
        blocked=blocked,
        approval_required=protected and not blocked,
        approval_timeout_seconds=approval_config().approval_timeout_seconds,
    )
    ledger = _ledger()
    ledger.acquire_lock(context.environment_key, drill_id, ledger_config().lock_ttl_seconds)
    ledger.create(DrillRecord(context=context, plan=fault.describe_plan(scenario.fault, target, prior)))
    return DrillRef.of(context).model_dump(mode="json")


def _sample_until(context: DrillContext, deadline: float, enough: Any, on_samples: Any = None) -> tuple[bool, list[Reading]]:
    """Sample every probe once per interval until ``enough(samples)`` or the deadline.

    A reading slower than the interval does not delay the next tick (see probes.Sampler); the
    readings still in flight when the loop ends are waited for and returned too.
    """
    interval = context.scenario.sampling.interval_seconds
    probes.warm()
    sampler = probes.Sampler(context)
    collected: list[Reading] = []
    next_tick = clock.now()
    reached = False
    while True:
        next_tick += interval
        readings = sampler.tick(until=min(next_tick, deadline))
        collected.extend(readings)
        if on_samples is not None:
            on_samples(readings)
        if enough(readings):
            reached = True
            break
        if next_tick >= deadline:
            break
        clock.sleep_until(next_tick)
    late = sampler.drain()
    collected.extend(late)
    if late and on_samples is not None:
        on_samples(late)
    return reached, collected


def _wait_for_steady(context: DrillContext, wait: SteadyWait, invocation_end: float | None) -> tuple[SteadyWait, list[Reading]]:
    """Sample until ``steady_state_samples`` readings in a row are steady, the wait's deadline or the invocation's.

    Returns the wait's progress (``done`` false: continue in the next invocation with it) and this batch's samples.
    """
    needed = context.scenario.sampling.steady_state_samples
    streak, last_problems = wait.streak, list(wait.problems)
    # A slow probe does not answer every tick: its newest reading stands for it until the next (across invocations too).
    newest: dict[str, Reading] = dict(wait.newest)
    expected = probes.expected(context)

    def enough(readings: list[Reading]) -> bool:
        nonlocal streak, last_problems
        newest.update({reading.probe: reading for reading in sorted(readings, key=lambda r: r.t)})
        ok, problems = probes.steady(list(newest.values()))
        if not expected <= newest.keys():
            ok, problems = False, [*problems, f"no reading yet from {', '.join(sorted(expected - newest.keys()))}"]
        streak = streak + 1 if ok else 0
        last_problems = list(problems)
        return streak >= needed

    # A reading started just before the batch's end is waited for (Sampler.drain: up to the probe timeout + 1 s).
    batch_end = wait.batch_end(invocation_end, context.scenario.sampling.probe_timeout_seconds + 1.0)
    reached, samples = _sample_until(context, batch_end, enough)
    # The batch ran to the wait's own deadline (not only to the invocation's): the wait is over.
    over = not reached and batch_end >= wait.deadline
    progress = wait.model_copy(
        update={
            "done": reached or over,
            "reached": reached,
            "streak": streak,
            "batch": wait.batch + 1,
            "samples": wait.samples + len(samples),
            "problems": [] if reached else last_problems,
            "reached_at": clock.now() if reached else None,
            "newest": newest,
        }
    )
    return progress, samples


# -- 1b. approval (protected environments) ------------------------------------------
def request_approval(drill_state: dict[str, Any], task_token: str) -> dict[str, Any]:
    """Park the machine's task token in the drill record and ask for a decision; nothing is touched until then."""
    ledger = _ledger()
    record = ledger.require(_drill_id({"drill": drill_state}))
    context = record.context
    requested_at = clock.now()
    approval = Approval(
        task_token=task_token, requested_at=requested_at, expires_at=requested_at + context.approval_timeout_seconds
    )
    ledger.save_step(context.drill_id, "approval", approval, phase=Phase.AWAITING_APPROVAL)
    topic = notify_config().topic_arn
    if topic:
        notify.approval_needed(topic, context, record.plan, approval.expires_at)
    return {"requested_at": requested_at, "expires_at": approval.expires_at}


# -- 2. steady state -----------------------------------------------------------
def steady_state(state: dict[str, Any], invocation_end: float | None = None) -> dict[str, Any]:
    """Wait for steady state until the scenario's timeout, one invocation's worth at a time.

    Returns ``done`` false with the streak and the wait's deadline when the invocation ends first: the
    machine calls again with that result in ``$.steady`` (SteadyState -> SteadyStateDone -> SteadyState).
    """
    context = _enter(state, Phase.STEADY_STATE).context
    sampling = context.scenario.sampling
    ledger = _ledger()
    wait = SteadyWait.resume(state.get("steady"), sampling.steady_state_timeout_seconds)
    with _on_target(context):
        if wait.first_batch:
            if context.approval_required:
                # The wait for approval used up part of the lock's lifetime: the drill itself gets a whole one.
                ledger.acquire_lock(context.environment_key, context.drill_id, ledger_config().lock_ttl_seconds)
            if context.scenario.data.heartbeat is not None:
                canary.ensure_table(context.scenario.data.heartbeat)
        wait, samples = _wait_for_steady(context, wait, invocation_end)
    _store().put_samples(context.drill_id, f"0-steady-{wait.batch:04d}", samples)
    ledger.save_step(context.drill_id, "steady_state", wait)
    if wait.done and not wait.reached:
        raise NotSteady(f"not in steady state after {sampling.steady_state_timeout_seconds:g}s: " + "; ".join(wait.problems))
    return wait.model_dump(mode="json")


# -- 3. inject -----------------------------------------------------------------
def inject(state: dict[str, Any]) -> dict[str, Any]:
    """Write the undo record, make the change, save the injection; returns it ($.injection, for the console)."""
    context = _enter(state, Phase.INJECT).context
    with _on_target(context):
        return _inject(context).model_dump(mode="json")


def _inject(context: DrillContext) -> Injection:
    spec = context.scenario.fault
    fault = faults.fault_of(spec.type)
    ledger = _ledger()
    probes.warm()
    steady = _store().samples(context.drill_id)  # read before the fault: the observation so far starts from them
    if probes.needs_seed(context):
        probes.seed(context, steady)
    captured = fault.capture(spec, context.target)
    # Write-ahead: the undo record exists before the change; a retry reuses the first capture.
    record = ledger.put_undo(
        context.drill_id, 1, fault=spec.type, method=captured.method, resource_id=captured.resource_id, prior=captured.stored()
    )
    prior = faults.read_prior(record.prior)  # the first capture's, when this is a retry
    heartbeats = _StoreHeartbeats(context)
    heartbeats.warm()
    # A client connected before the fault: only this invocation spans the change, so it holds one.
    held = keepalive.hold(context)
    t_before = clock.now()
    try:
        fault.apply(spec, context.target, prior)
        t_inject = clock.now()
    finally:
        warmed = heartbeats.stop()  # after t_inject: a heartbeat still in flight must not make it late
    health_check.forget()  # the fault may have changed the check (Inverted): read it afresh, not a kept reading
    # The first readings right after the change, taken as one tick: observation must not wait for the next state,
    # and a probe the fault holds up (a blocked front door waits out its time-out) joins a later tick instead of
    # holding every other reading back (it held detection and DNS cutover 2 s late behind a network ACL).
    sampler = probes.Sampler(context)
    interval = context.scenario.sampling.interval_seconds
    first_readings = sampler.tick(clock.now() + interval)
    injection = Injection(
        fault=spec.type,
        method=prior.method,
        resource_id=record.resource_id,
        undo_seq=1,
        t_before=t_before,
        t_inject=t_inject,
    )
    ledger.mark_undo(context.drill_id, 1, UNDO_APPLIED, applied_at=t_inject)
    ledger.save_step(context.drill_id, "injection", injection, phase=Phase.OBSERVE)
    # Sampled like observation: a slow probe (a far standby) must not stretch the interval of the others.
    observed = _observation_complete(context, injection, [*steady, *warmed, *([held] if held else []), *first_readings])
    followed = keepalive.follow(
        context,
        t_inject,
        first_readings,
        lambda: sampler.tick(clock.now() + interval),
        lambda: sampler.drain(keep_cadence=True),
        observed,
    )
    _store().put_samples(context.drill_id, "1-observe-0000", [*warmed, *([held] if held else []), *first_readings, *followed])
    return injection


def _observation_complete(context: DrillContext, injection: Injection, so_far: list[Reading]) -> Callable[[list[Reading]], bool]:
    """Fed each new batch of readings, says whether observation would end now: every milestone reached, or a stop
    condition fired (Observe's own rule, on the same readings). Observe then restores at once, so a window that
    follows the fault longer would hold the fault past its observation for nothing.
    """
    tracker = new_tracker(context, injection)
    stopped = False

    def feed(readings: list[Reading]) -> bool:
        nonlocal stopped
        for reading in sorted(readings, key=lambda r: r.t):
            tracker.feed(reading)
            if isinstance(reading, AlarmsReading) and reading.t >= injection.t_inject and reading.stop_in_alarm:
                stopped = True
        return tracker.complete or stopped

    feed(so_far)
    return feed


class _StoreHeartbeats:
    """The stores' heartbeats, once per interval in the background, from before the fault until just after it.

    No heartbeat is written while the state machine moves from Steady State to Inject (seconds): without these, a
    replication lag shorter than that pause would read as no data at risk at a cutover that follows the fault at
    once. The Inject step lets them run ``steady_state_samples`` intervals before it changes anything, so a lag up
    to that long is what the cutover sees (docs/measurement.md).
    """

    def __init__(self, context: DrillContext):
        self._context = context
        self._stop = threading.Event()
        self.readings: list[StoresSample] = []
        self._thread = threading.Thread(target=self._run, name="store-heartbeats", daemon=True)
        self.started_at = clock.now()
        if context.scenario.data.stores:
            self._thread.start()

    def _run(self) -> None:
        interval = self._context.scenario.sampling.interval_seconds
        while not self._stop.is_set():
            started = clock.now()
            if (reading := stores.sample(self._context)) is not None:
                self.readings.append(reading)
            self._stop.wait(max(0.0, started + interval - clock.now()))

    def warm(self) -> None:
        """Wait until the heartbeats have run ``steady_state_samples`` intervals (at once without stores)."""
        if self._thread.is_alive():
            sampling = self._context.scenario.sampling
            clock.sleep_until(self.started_at + sampling.steady_state_samples * sampling.interval_seconds)

    def stop(self) -> list[StoresSample]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._context.scenario.sampling.probe_timeout_seconds * 3 + 1)
        return list(self.readings)


# -- 4. observe ----------------------------------------------------------------
def observe(state: dict[str, Any]) -> dict[str, Any]:
    """One batch of observation; returns the progress ($.observation) the machine loops on until ``done``."""
    record = _enter(state, Phase.OBSERVE)
    if record.injection is None:
        raise DrillStateInvalid(f"injection: drill {record.drill_id} has none in its record; Observe runs after Inject")
    previous = Observation.model_validate(state["observation"]) if state.get("observation") else None
    with _on_target(record.context):
        return _observe(record.context, record.injection, previous).model_dump(mode="json")


def _observe(context: DrillContext, injection: Injection, previous: Observation | None) -> Observation:
    sampling = context.scenario.sampling
    tracker = previous.tracker if previous else new_tracker(context, injection)
    ledger = _ledger()
    store = _store()

    stopped_by: list[str] = []

    def account(readings: list[Reading]) -> None:
        for reading in sorted(readings, key=lambda r: r.t):
            for name in tracker.feed(reading):
                ledger.record_milestone(context.drill_id, name, getattr(tracker, name))
            if isinstance(reading, AlarmsReading) and reading.t >= injection.t_inject and reading.stop_in_alarm:
                stopped_by.extend(a for a in reading.stop_in_alarm if a not in stopped_by)

    first_batch = previous is None
    # Stored readings are read once per drill here, unless a fresh invocation must seed the probes' memory.
    so_far = store.samples(context.drill_id) if first_batch or probes.needs_seed(context) else []
    probes.seed(context, so_far)
    if first_batch:
        account(so_far)  # steady-state and post-injection readings so far
    batch = previous.batch + 1 if previous else 1
    deadline = injection.t_inject + sampling.observe_timeout_seconds
    batch_end = min(deadline, clock.now() + observe_config().observe_batch_seconds)
    samples: list[Reading] = []
    if not (tracker.complete or stopped_by):
        # A firing stop condition ends observation at once: restore comes next.
        _, samples = _sample_until(context, batch_end, lambda _: tracker.complete or bool(stopped_by), account)
    store.put_samples(context.drill_id, f"1-observe-{batch:04d}", samples)
    timed_out = not tracker.complete and clock.now() >= deadline - 1e-3
    done = tracker.complete or timed_out or bool(stopped_by)
    reason: Literal["complete", "deadline", "stop condition", "continuing"]
    if stopped_by:
        reason = "stop condition"
    else:
        reason = "complete" if tracker.complete else ("deadline" if timed_out else "continuing")
    observation = Observation(
        batch=batch,
        tracker=tracker,
        done=done,
        reason=reason,
        stopped_by=stopped_by,
        surviving_heartbeat=canary.newest_surviving(context) if done else None,
    )
    # Every batch: the report (and the safety net's) reads the newest progress, as the machine carries it.
    ledger.save_step(context.drill_id, "observation", observation)
    return observation


def new_tracker(context: DrillContext, injection: Injection) -> MilestoneTracker:
    return MilestoneTracker(
        t_inject=injection.t_inject,
        t_before_inject=injection.t_before,
        hold_samples=context.scenario.sampling.hold_samples,
        expected=expected_milestones(bool(context.scenario.alarms)),
    )


# -- 5. restore ----------------------------------------------------------------
# The state machine waits retry_in_seconds between Restore calls. The first wait is the scenario's sampling
# interval (rounded up to whole seconds: the Wait state's SecondsPath takes an integer), and each one after doubles,
# up to a fixed share of the budget (at most about RESTORE_CALLS_PER_BUDGET calls, whatever the budget) within
# [1, 15] s. So an undo that is back in seconds is seen back in seconds, not a whole 15 s wait later, while a
# restore that takes its whole budget adds at most a few thousand events to the execution's history (limit 25,000:
# the doubling adds four calls at most) and keeps polling Aurora at a civil rate.
RESTORE_CALLS_PER_BUDGET = 120
RESTORE_RETRY_SECONDS = (1, 15)


def restore_longest_wait(budget_seconds: float) -> int:
    """The longest wait between two Restore calls: a share of the budget, within RESTORE_RETRY_SECONDS."""
    low, high = RESTORE_RETRY_SECONDS
    return int(min(high, max(low, budget_seconds // RESTORE_CALLS_PER_BUDGET)))


def restore_retry_in_seconds(budget_seconds: float, calls: int, interval_seconds: float) -> int:
    """The wait after the ``calls``-th Restore call: the sampling interval, doubled at each call, up to the longest."""
    first = max(RESTORE_RETRY_SECONDS[0], math.ceil(interval_seconds))
    return min(restore_longest_wait(budget_seconds), first * 2 ** min(max(calls, 1) - 1, 8))


def restore(state: dict[str, Any]) -> dict[str, Any]:
    """Take the next step of every undo record not yet restored, newest first. Safe to call again and again.

    A fault whose restore returns False (an Aurora operation still running) stays pending and the result says
    done: false; the state machine waits and calls again with this result in $.restore, until done or the budget
    (from the first call) is spent, which raises RestoreFailed naming each resource and what it waits for.
    """
    ledger = _ledger()
    record = _keep_caught(ledger, _enter(state, Phase.RESTORE), CaughtErrors.of(state))  # $.error: what sent it here
    with _on_target(record.context):
        progress = _restore(record.context, state.get("restore") or {})
    ledger.save_step(record.drill_id, "restore", progress)
    return progress.model_dump()


def _restore(context: DrillContext, previous: dict[str, Any]) -> RestoreProgress:
    ledger = _ledger()
    now = clock.now()
    going_on = previous.get("done") is False and previous.get("started_at") is not None
    started = float(previous["started_at"]) if going_on else now
    calls = int(previous.get("calls", 1)) + 1 if going_on else 1
    budget = context.scenario.sampling.restore_budget
    results: list[UndoOutcome] = []
    failures: list[str] = []
    waiting: list[str] = []
    # Observation wrote the last heartbeat (verification samples without them): remove them all, whatever else fails.
    heartbeats_left = stores.remove(context)
    for record in reversed(ledger.list_undo(context.drill_id)):
        outcome = UndoOutcome(seq=record.seq, resource_id=record.resource_id, status="already restored")
        if record.status == UNDO_RESTORED:
            results.append(outcome)
            continue
        fault = faults.fault_of(record.fault)
        try:
            prior = faults.read_prior(record.prior)
            done = fault.restore(prior)
            what = "" if done else fault.waiting_for(prior)
        except Exception as error:  # noqa: BLE001 keep going: one stuck record must not strand the others
            failures.append(f"{record.resource_id}: {error}")
            results.append(outcome.model_copy(update={"status": "failed", "error": str(error)}))
            continue
        if not done:
            waiting.append(f"{record.resource_id}: waiting for {what}")
            results.append(outcome.model_copy(update={"status": "in progress", "waiting_for": what}))
            continue
        t = clock.now()
        ledger.mark_undo(context.drill_id, record.seq, UNDO_RESTORED, restored_at=t)
        results.append(outcome.model_copy(update={"status": "restored", "t": t}))
    if failures:
        raise RestoreFailed("; ".join(failures))
    ended = clock.now()
    if waiting and ended - started >= budget:
        raise RestoreFailed(
            f"restore not complete after {ended - started:.0f}s (budget {budget:g}s, {calls} calls): " + "; ".join(waiting)
        )
    return RestoreProgress(
        started_at=started,
        ended_at=ended,
        records=results,
        done=not waiting,
        budget_seconds=budget,
        retry_in_seconds=restore_retry_in_seconds(budget, calls, context.scenario.sampling.interval_seconds),
        waiting_for=waiting,
        calls=calls,
        heartbeats_left=heartbeats_left,
    )


# -- 6. verify restore -----------------------------------------------------------
def verify_restore(state: dict[str, Any], invocation_end: float | None = None) -> dict[str, Any]:
    """The environment is back when every fault reads restored and the probes are steady again.

    The wait for steady probes lasts up to the scenario's restore timeout, one invocation's worth at a time:
    ``done`` false means call again with this result in ``$.verification`` (VerifyRestore -> VerificationDone).
    """
    ledger = _ledger()
    record = _keep_caught(ledger, _enter(state, Phase.VERIFY), CaughtErrors.of(state))  # $.restore_error, if any
    with _on_target(record.context):
        verification = _verify_restore(record.context, state.get("verification"), invocation_end)
    ledger.save_step(record.drill_id, "verification", verification)
    return verification.model_dump(mode="json")


def _verify_restore(context: DrillContext, previous: dict[str, Any] | None, invocation_end: float | None) -> Verification:
    sampling = context.scenario.sampling
    ledger = _ledger()
    wait = SteadyWait.resume(previous, sampling.restore_timeout_seconds)
    records = ledger.list_undo(context.drill_id)
    resources = {r.resource_id: faults.fault_of(r.fault).is_restored(faults.read_prior(r.prior)) for r in records}
    if not records:
        return Verification(done=True, verified=True, t=clock.now(), note="nothing was injected")
    if not all(resources.values()):
        # A change is still in place: waiting for the probes cannot help, and the safety net should start now.
        stuck = [f"{resource} is not back to its prior state" for resource, back in resources.items() if not back]
        return Verification(done=True, verified=False, t=clock.now(), resources=resources, problems=stuck)
    if probes.needs_seed(context):
        probes.seed(context, _store().samples(context.drill_id))
    wait, samples = _wait_for_steady(_without_store_heartbeats(context), wait, invocation_end)
    _store().put_samples(context.drill_id, f"2-verify-{wait.batch:04d}", samples)
    # A replica that landed after Restore removed the heartbeats (replication lags): remove again, last.
    left = stores.remove(context) if wait.done else []
    return Verification.model_validate(
        {
            **wait.model_dump(mode="json"),
            "verified": wait.reached,
            "t": clock.now(),
            "resources": resources,
            "steady": wait.reached if wait.done else None,
            "heartbeats_left": left,
        }
    )


def _without_store_heartbeats(context: DrillContext) -> DrillContext:
    """The context verification samples with: the stores' heartbeats were removed and must stay so."""
    data = context.scenario.data.model_copy(update={"stores": []})
    return context.model_copy(update={"scenario": context.scenario.model_copy(update={"data": data})})


# -- 7. report -------------------------------------------------------------------
def report(state: dict[str, Any]) -> dict[str, Any]:
    """Measure from every stored sample and the drill record, write the artifacts, notify, release the lock."""
    from drillkit.evidence import manifest
    from drillkit.evidence import report as report_module

    drill_id = _drill_id(state)
    store = _store()
    ledger = _ledger()
    config = evidence_config()
    ledger.set_phase(drill_id, Phase.REPORT)
    samples = store.samples(drill_id)
    undo_records = ledger.list_undo(drill_id)
    # The record is read once, after the slow reads above: the safety net writes `ended` first thing when the
    # execution is stopped under this step, so a stop that came meanwhile is in this read and in the report.
    record = ledger.require(drill_id)
    context = record.context
    record = _keep_caught(ledger, record, _named_rejection(record, CaughtErrors.of(state)))
    document = report_module.build(
        record,
        samples,
        undo_records,
        ended_at=clock.now(),
        previous=store.latest_of_scenario(context.scenario.name),
        notify_targets=[config.topic_arn] if config.topic_arn else [],
    )
    signer = manifest.Signer(config.signing_key_arn) if config.signing_key_arn else None
    keys = report_module.publish(store, document, samples, manifest.Sealer(store, signer))
    # What was sealed is what counts (a retried Report step keeps the first sealed report).
    document = json.loads(store.get(keys["report.json"]))
    store.set_latest_of_scenario(
        context.scenario.name,
        {
            "drill_id": context.drill_id,
            "started_at": document["started_at"],
            "ended_at": document["ended_at"],
            "verdict": document["verdict"],
            "report_key": keys["report.json"],
        },
    )
    if config.topic_arn:
        notify.drill_reported(config.topic_arn, document, keys)
    ledger.finish(context.drill_id, document["verdict"], keys["report.json"])
    ledger.release_lock(context.environment_key, context.drill_id)
    return {
        "drill_id": context.drill_id,
        "scenario": context.scenario.name,
        "verdict": document["verdict"],
        "restore_verified": document["restore_verified"],
        "measurements": {name: m["seconds"] for name, m in document["measurements"].items()},
        "artifacts": keys,
    }


def _named_rejection(record: DrillRecord, caught: CaughtErrors) -> CaughtErrors:
    """A rejected approval fails the task token with a bare cause: name who rejected and why, from the record."""
    decided = record.approval
    if caught.approval_error is None or decided is None or decided.status != "rejected":
        return caught
    reason = f"rejected by {decided.decided_by}" + (f": {decided.reason}" if decided.reason else "")
    return caught.model_copy(update={"approval_error": CaughtError(error=DrillRejected.__name__, cause=reason)})


# -- 8. safety net (outside the machine) -----------------------------------------------------------
ENDED_BADLY = ("ABORTED", "TIMED_OUT", "FAILED")
RESCUE = "restore"
SAFETY_NET_RESTORE_RETRY_SECONDS = 5


class Rescue(BaseModel):
    """The safety net's progress, carried by statemachines/safety-net.asl.json from step to step (``$.net``).

    Only the drill id and each step's result travel; everything else is read from the drill record, so a
    step can be retried or repeated (EventBridge may deliver an event twice) without carrying stale state.
    """

    model_config = ConfigDict(extra="ignore")
    drill_id: str | None = None
    status: str = ""
    action: str
    restore: dict[str, Any] | None = None
    restore_error: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    verify_error: dict[str, Any] | None = None


def safety_net_begin(event: dict[str, Any]) -> dict[str, Any]:
    """An execution ended ABORTED, TIMED_OUT or FAILED: decide whether its drill needs rescuing, and say how it ended.

    Everything the safety net does is idempotent: restore skips records already restored, a sealed report is
    not sealed again, and the lock is only released by the drill that holds it.
    """
    detail = event.get("detail") or {}
    status = str(detail.get("status", ""))
    drill_id = str(detail.get("name", ""))
    if status not in ENDED_BADLY or not drill_id:
        return Rescue(drill_id=drill_id or None, status=status, action="ignored").model_dump(mode="json")
    ledger = _ledger()
    record = ledger.load(drill_id)
    if record is None:
        action = "nothing to do: the drill never got past preflight"
        return Rescue(drill_id=drill_id, status=status, action=action).model_dump(mode="json")
    if record.phase == Phase.DONE:
        ledger.release_lock(record.context.environment_key, drill_id)
        return Rescue(drill_id=drill_id, status=status, action="already reported").model_dump(mode="json")
    stop = record.stop_requested  # `drillkit stop` records who stopped it and why before it stops it
    stopped = stop is not None and status == "ABORTED"
    ended = record.ended or Ended(
        status=status,
        execution_arn=detail.get("executionArn"),
        error=detail.get("error") or ("DrillStopped" if stopped else None),
        cause=detail.get("cause") or (stop.cause if stop is not None and stopped else None),
        phase=record.phase,
    )
    # First of all: a Report step still running (the execution was stopped under it) reads this before it seals.
    ledger.save_step(drill_id, "ended", ended)
    try:
        # The drill lives on in its rescue: its lock lasts as long as the safety net can run (released by its report).
        ledger.acquire_lock(record.context.environment_key, drill_id, waits.SAFETY_NET_MACHINE_SECONDS)
    except EnvironmentLocked:
        pass  # the lock expired and another drill holds the environment: restore anyway, its lock stays its own
    return Rescue(drill_id=drill_id, status=status, action=RESCUE).model_dump(mode="json")


def _rescued_drill_state(rescue: Rescue) -> dict[str, Any]:
    """What the drill steps take as $: the drill's id and the rescue's own progress; they read the rest from the record."""
    state: dict[str, Any] = {"drill": {"drill_id": rescue.drill_id}}
    for key in ("restore", "restore_error", "verification", "verify_error"):
        if (value := getattr(rescue, key)) is not None:
            state[key] = value
    return state


def safety_net_restore(net: dict[str, Any]) -> dict[str, Any]:
    """One call of drill.restore; ``done`` false means the machine waits and calls again with this result.

    A drill.restore without a ``done`` key (restore in one call) is done; one without ``retry_in_seconds`` is
    called again after SAFETY_NET_RESTORE_RETRY_SECONDS.
    """
    result = restore(_rescued_drill_state(Rescue.model_validate(net)))
    retry_in = int(result.get("retry_in_seconds") or SAFETY_NET_RESTORE_RETRY_SECONDS)
    return {**result, "done": bool(result.get("done", True)), "retry_in_seconds": retry_in}


def safety_net_verify(net: dict[str, Any], invocation_end: float | None) -> dict[str, Any]:
    """One invocation's worth of verification; ``done`` false means call again with this result."""
    return verify_restore(_rescued_drill_state(Rescue.model_validate(net)), invocation_end)


def safety_net_report(net: dict[str, Any]) -> dict[str, Any]:
    """Report from the record and the rescue's restore and verification, and free the environment."""
    rescue = Rescue.model_validate(net)
    outcome = report(_rescued_drill_state(rescue))
    action = "restored and reported"
    return {"drill_id": rescue.drill_id, "action": action, "status": rescue.status, "verdict": outcome["verdict"]}


class SafetyNetStep(BaseModel):
    """What a task of statemachines/safety-net.asl.json sends the safety-net function."""

    model_config = ConfigDict(extra="forbid")
    step: Literal["begin", "restore", "verify", "report"]
    event: dict[str, Any] | None = None  # begin: the EventBridge event that started the safety net
    net: dict[str, Any] | None = None  # the other steps: the progress so far (Rescue)


def safety_net(payload: dict[str, Any], invocation_end: float | None = None) -> dict[str, Any]:
    """One step of the safety net, as its state machine calls them: begin, restore, verify, report."""
    request = SafetyNetStep.model_validate(payload)
    if request.step == "begin":
        return safety_net_begin(request.event or {})
    net = request.net or {}
    if request.step == "restore":
        return safety_net_restore(net)
    if request.step == "verify":
        return safety_net_verify(net, invocation_end)
    return safety_net_report(net)
