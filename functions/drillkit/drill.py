"""The drill's steps, one function per state of statemachines/drill.asl.json.

Each step takes the state document the machine carries ($) and returns the piece
the machine stores under its ResultPath. Handlers only parse, log and call these.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from drillkit import allow, aws, canary, clock, faults, probes, readiness, waits
from drillkit.config import approval_config, evidence_config, ledger_config, notify_config, observe_config
from drillkit.discovery import resolve_target
from drillkit.errors import NotSteady, RestoreFailed, ScenarioInvalid
from drillkit.evidence.store import EvidenceStore
from drillkit.findings import Finding
from drillkit.ledger import UNDO_APPLIED, UNDO_RESTORED, Ledger
from drillkit.measure import MilestoneTracker, expected_milestones
from drillkit.model import DrillContext, Injection, RestoreProgress
from drillkit.probes import health_check, keepalive
from drillkit.spec import Network, parse_request
from drillkit.waits import SteadyWait


def _ledger() -> Ledger:
    return Ledger(ledger_config().ledger_table)


def _store() -> EvidenceStore:
    return EvidenceStore(evidence_config().evidence_bucket)


def environment_key(hosted_zone_id: str, record_name: str) -> str:
    return f"route53/{hosted_zone_id}/{record_name}"


def new_drill_id(execution_name: str | None, scenario_name: str) -> str:
    if execution_name:
        return execution_name
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock.now()))
    return f"{scenario_name[:30]}-{stamp}-{hashlib.sha256(str(clock.now()).encode()).hexdigest()[:6]}"


# -- 1. preflight ------------------------------------------------------------
def _on_target(step: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Run a step with the stack under test reached through its environment's role (target.role_arn), if any."""

    @functools.wraps(step)
    def run(state: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        drill_state = state.get("drill") or {}
        target = (drill_state.get("scenario") or {}).get("target") or {}
        with aws.acting_for(target.get("role_arn"), target.get("external_id"), drill_state.get("drill_id")):
            return step(state, *args, **kwargs)

    return run


def _survey(scenario: Any, network: Network) -> tuple[Any, Any, dict[str, Any], list[Finding], bool]:
    """Read-only: the failover target, the fault's module and prior state, the readiness findings, protection."""
    aws.check_target_role()  # a role drillkit may not assume is named before anything else is read
    target = resolve_target(scenario.target)
    fault = faults.fault_module(scenario.fault.type)
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
        "prior_state": prior,
        "readiness": [f.model_dump(mode="json") for f in findings],
        "blocked": any(f.blocking for f in findings),
        "approval_required": protected,
        "measures": [*expected_milestones(bool(scenario.alarms)), *(["rpo"] if scenario.data.heartbeat else [])],
    }


def preflight(request: dict[str, Any], execution_id: str | None, execution_name: str | None) -> dict[str, Any]:
    """Validate, resolve targets, run readiness checks, take the lock, create the record. Touches nothing."""
    started_at = clock.now()
    parsed = parse_request(request)
    scenario = parsed.scenario
    drill_id = parsed.drill_id or new_drill_id(execution_name, scenario.name)
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
    ledger.create_drill(
        drill_id,
        {
            "phase": "preflight",
            "scenario": scenario.name,
            "scenario_version": scenario.version,
            "environment": context.environment_key,
            "started_at": started_at,
            "execution_id": execution_id,
            "milestones": {},
            "plan": fault.describe_plan(scenario.fault, target, prior),
            "blocked": blocked,
            # What the safety net needs to restore and report when the machine itself cannot.
            "context": context.model_dump(mode="json"),
        },
    )
    return context.model_dump(mode="json")


def _context(state: dict[str, Any]) -> DrillContext:
    return DrillContext.model_validate(state["drill"])


def _sample_until(
    context: DrillContext, deadline: float, enough: Any, on_samples: Any = None
) -> tuple[bool, list[dict[str, Any]]]:
    """Sample every probe once per interval until ``enough(samples)`` or the deadline.

    A reading slower than the interval does not delay the next tick (see probes.Sampler); the
    readings still in flight when the loop ends are waited for and returned too.
    """
    interval = context.scenario.sampling.interval_seconds
    probes.warm()
    sampler = probes.Sampler(context)
    collected: list[dict[str, Any]] = []
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


def _wait_for_steady(
    context: DrillContext, wait: SteadyWait, invocation_end: float | None
) -> tuple[SteadyWait, list[dict[str, Any]]]:
    """Sample until ``steady_state_samples`` readings in a row are steady, the wait's deadline or the invocation's.

    Returns the wait's progress (``done`` false: continue in the next invocation with it) and this batch's samples.
    """
    needed = context.scenario.sampling.steady_state_samples
    streak, last_problems = wait.streak, list(wait.problems)
    # A slow probe does not answer every tick: its newest reading stands for it until the next (across invocations too).
    newest: dict[str, dict[str, Any]] = dict(wait.newest)
    expected = probes.expected(context)

    def enough(readings: list[dict[str, Any]]) -> bool:
        nonlocal streak, last_problems
        newest.update({reading["probe"]: reading for reading in sorted(readings, key=lambda r: r["t"])})
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
    context = DrillContext.model_validate(drill_state)
    requested_at = clock.now()
    approval: dict[str, Any] = {
        "status": "pending",
        "task_token": task_token,
        "requested_at": requested_at,
        "expires_at": requested_at + context.approval_timeout_seconds,
    }
    ledger = _ledger()
    ledger.update_drill(context.drill_id, phase="awaiting_approval", approval=approval)
    topic = notify_config().topic_arn
    if topic:
        planned = (ledger.get_drill(context.drill_id) or {}).get("plan")
        with aws.aws_call("Publish", topic):
            aws.client("sns").publish(
                TopicArn=topic,
                Subject=f"drillkit: approval needed for {context.scenario.name}"[:100],
                Message=(
                    f"Drill {context.drill_id} ({context.scenario.name}) on {context.environment_key}, requested by "
                    f"{context.requested_by}, waits for approval until {clock.iso(approval['expires_at'])}.\n"
                    f"Plan: {json.dumps(planned)}\n\n"
                    f"  drillkit approve {context.drill_id}\n  drillkit reject {context.drill_id} --reason '...'"
                ),
            )
    return {"requested_at": requested_at, "expires_at": approval["expires_at"]}


# -- 2. steady state -----------------------------------------------------------
@_on_target
def steady_state(state: dict[str, Any], invocation_end: float | None = None) -> dict[str, Any]:
    """Wait for steady state until the scenario's timeout, one invocation's worth at a time.

    Returns ``done`` false with the streak and the wait's deadline when the invocation ends first: the
    machine calls again with that result in ``$.steady`` (SteadyState -> SteadyStateDone -> SteadyState).
    """
    context = _context(state)
    sampling = context.scenario.sampling
    ledger = _ledger()
    wait = SteadyWait.resume(state.get("steady"), sampling.steady_state_timeout_seconds)
    if wait.first_batch:
        if context.approval_required:
            # The wait for approval used up part of the lock's lifetime: the drill itself gets a whole one.
            ledger.acquire_lock(context.environment_key, context.drill_id, ledger_config().lock_ttl_seconds)
        ledger.update_drill(context.drill_id, phase="steady_state")
        if context.scenario.data.heartbeat is not None:
            canary.ensure_table(context.scenario.data.heartbeat)
    wait, samples = _wait_for_steady(context, wait, invocation_end)
    _store().put_samples(context.drill_id, f"0-steady-{wait.batch:04d}", samples)
    if wait.reached:
        ledger.update_drill(context.drill_id, steady_reached_at=wait.reached_at)
    elif wait.done:
        raise NotSteady(f"not in steady state after {sampling.steady_state_timeout_seconds:g}s: " + "; ".join(wait.problems))
    return wait.model_dump(mode="json")


# -- 3. inject -----------------------------------------------------------------
@_on_target
def inject(state: dict[str, Any]) -> dict[str, Any]:
    context = _context(state)
    spec = context.scenario.fault
    fault = faults.fault_module(spec.type)
    ledger = _ledger()
    ledger.update_drill(context.drill_id, phase="inject")
    probes.warm()
    if probes.needs_seed(context):
        probes.seed(context, _store().samples(context.drill_id))
    captured = fault.capture(spec, context.target)
    # Write-ahead: the undo record exists before the change; a retry reuses the first capture.
    record = ledger.put_undo(
        context.drill_id,
        1,
        {"fault": spec.type, "method": captured.get("method"), "resource_id": captured["resource_id"], "prior": captured},
    )
    # A client connected before the fault: only this invocation spans the change, so it holds one.
    held = keepalive.hold(context)
    t_before = clock.now()
    fault.apply(spec, context.target, record["prior"])
    t_inject = clock.now()
    health_check.forget()  # the fault may have changed the check (Inverted): read it afresh, not a kept reading
    # The first reading right after the change: observation must not wait for the next state.
    first_readings = probes.sample_all(context)
    injection = Injection(
        fault=spec.type,
        method=record["prior"].get("method"),
        resource_id=record["resource_id"],
        undo_seq=1,
        t_before=t_before,
        t_inject=t_inject,
    ).model_dump(mode="json")
    ledger.mark_undo(context.drill_id, 1, UNDO_APPLIED, applied_at=t_inject)
    ledger.update_drill(context.drill_id, phase="observe", injected_at=t_inject, injection=injection)
    # Sampled like observation: a slow probe (a far standby) must not stretch the interval of the others.
    sampler = probes.Sampler(context)
    interval = context.scenario.sampling.interval_seconds
    followed = keepalive.follow(context, t_inject, first_readings, lambda: sampler.tick(clock.now() + interval), sampler.drain)
    _store().put_samples(context.drill_id, "1-observe-0000", [*([held] if held else []), *first_readings, *followed])
    return injection


# -- 4. observe ----------------------------------------------------------------
@_on_target
def observe(state: dict[str, Any]) -> dict[str, Any]:
    context = _context(state)
    injection = Injection.model_validate(state["injection"])
    sampling = context.scenario.sampling
    previous = state.get("observation") or {}
    tracker = MilestoneTracker.model_validate(previous["tracker"]) if previous.get("tracker") else new_tracker(context, injection)
    ledger = _ledger()
    store = _store()

    stopped_by: list[str] = []

    def account(readings: list[dict[str, Any]]) -> None:
        for reading in sorted(readings, key=lambda r: r["t"]):
            for name in tracker.feed(reading):
                ledger.record_milestone(context.drill_id, name, getattr(tracker, name))
            if reading["probe"] == "alarms" and reading["t"] >= injection.t_inject and reading.get("stop_in_alarm"):
                stopped_by.extend(a for a in reading["stop_in_alarm"] if a not in stopped_by)

    first_batch = not previous.get("tracker")
    # Stored readings are read once per drill here, unless a fresh invocation must seed the probes' memory.
    so_far = store.samples(context.drill_id) if first_batch or probes.needs_seed(context) else []
    probes.seed(context, so_far)
    if first_batch:
        account(so_far)  # steady-state and post-injection readings so far
    batch = int(previous.get("batch", 0)) + 1
    deadline = injection.t_inject + sampling.observe_timeout_seconds
    batch_end = min(deadline, clock.now() + observe_config().observe_batch_seconds)
    samples: list[dict[str, Any]] = []
    if not (tracker.complete or stopped_by):
        # A firing stop condition ends observation at once: restore comes next.
        _, samples = _sample_until(context, batch_end, lambda _: tracker.complete or bool(stopped_by), account)
    store.put_samples(context.drill_id, f"1-observe-{batch:04d}", samples)
    timed_out = not tracker.complete and clock.now() >= deadline - 1e-3
    done = tracker.complete or timed_out or bool(stopped_by)
    if stopped_by:
        reason = "stop condition"
    else:
        reason = "complete" if tracker.complete else ("deadline" if timed_out else "continuing")
    observation = {
        "batch": batch,
        "tracker": tracker.model_dump(mode="json"),
        "done": done,
        "reason": reason,
        "stopped_by": stopped_by,
        # Read once the failover has played out, before restore puts the primary back.
        "surviving_heartbeat": canary.newest_surviving(context) if done else None,
    }
    if done:
        # The safety net reports from the record when the machine cannot carry this to Report.
        ledger.update_drill(context.drill_id, observation=observation)
    return observation


def new_tracker(context: DrillContext, injection: Injection) -> MilestoneTracker:
    return MilestoneTracker(
        t_inject=injection.t_inject,
        t_before_inject=injection.t_before,
        hold_samples=context.scenario.sampling.hold_samples,
        expected=expected_milestones(bool(context.scenario.alarms)),
    )


# -- 5. restore ----------------------------------------------------------------
# The state machine waits retry_in_seconds between Restore calls: a fixed share of the budget (at most about
# RESTORE_CALLS_PER_BUDGET calls, whatever the budget), within [1, 15] s. So a restore that takes its whole budget
# adds at most a few thousand events to the execution's history (limit 25,000) and keeps polling Aurora
# at a civil rate.
RESTORE_CALLS_PER_BUDGET = 120
RESTORE_RETRY_SECONDS = (1, 15)


def restore_retry_in_seconds(budget_seconds: float) -> int:
    low, high = RESTORE_RETRY_SECONDS
    return int(min(high, max(low, budget_seconds // RESTORE_CALLS_PER_BUDGET)))


@_on_target
def restore(state: dict[str, Any]) -> dict[str, Any]:
    """Take the next step of every undo record not yet restored, newest first. Safe to call again and again.

    A fault whose restore returns False (an Aurora operation still running) stays pending and the result says
    done: false; the state machine waits and calls again with this result in $.restore, until done or the budget
    (from the first call) is spent, which raises RestoreFailed naming each resource and what it waits for.
    """
    context = _context(state)
    ledger = _ledger()
    ledger.update_drill(context.drill_id, phase="restore")
    now = clock.now()
    previous = state.get("restore") or {}
    going_on = previous.get("done") is False and previous.get("started_at") is not None
    started = float(previous["started_at"]) if going_on else now
    calls = int(previous.get("calls", 1)) + 1 if going_on else 1
    budget = context.scenario.sampling.restore_budget
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    waiting: list[str] = []
    for record in reversed(ledger.list_undo(context.drill_id)):
        entry: dict[str, Any] = {"seq": record["seq"], "resource_id": record["resource_id"]}
        if record["status"] == UNDO_RESTORED:
            results.append({**entry, "status": "already restored"})
            continue
        fault = faults.fault_module(record["fault"])
        try:
            done = fault.restore(record["prior"])
            what = "" if done else _waiting_for(fault, record["prior"])
        except Exception as error:  # noqa: BLE001 keep going: one stuck record must not strand the others
            failures.append(f"{record['resource_id']}: {error}")
            results.append({**entry, "status": "failed", "error": str(error)})
            continue
        if not done:
            waiting.append(f"{record['resource_id']}: waiting for {what}")
            results.append({**entry, "status": "in progress", "waiting_for": what})
            continue
        t = clock.now()
        ledger.mark_undo(context.drill_id, record["seq"], UNDO_RESTORED, restored_at=t)
        results.append({**entry, "status": "restored", "t": t})
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
        retry_in_seconds=restore_retry_in_seconds(budget),
        waiting_for=waiting,
        calls=calls,
    ).model_dump()


def _waiting_for(fault: Any, prior: dict[str, Any]) -> str:
    describe = getattr(fault, "waiting_for", None)
    return str(describe(prior)) if describe is not None else "its restore to complete"


# -- 6. verify restore -----------------------------------------------------------
@_on_target
def verify_restore(state: dict[str, Any], invocation_end: float | None = None) -> dict[str, Any]:
    """The environment is back when every fault reads restored and the probes are steady again.

    The wait for steady probes lasts up to the scenario's restore timeout, one invocation's worth at a time:
    ``done`` false means call again with this result in ``$.verification`` (VerifyRestore -> VerificationDone).
    """
    context = _context(state)
    sampling = context.scenario.sampling
    ledger = _ledger()
    wait = SteadyWait.resume(state.get("verification"), sampling.restore_timeout_seconds)
    if wait.first_batch:
        ledger.update_drill(context.drill_id, phase="verify")
    records = ledger.list_undo(context.drill_id)
    resources = {r["resource_id"]: faults.fault_module(r["fault"]).is_restored(r["prior"]) for r in records}
    if not records:
        return {"done": True, "verified": True, "t": clock.now(), "resources": {}, "note": "nothing was injected"}
    if not all(resources.values()):
        # A change is still in place: waiting for the probes cannot help, and the safety net should start now.
        stuck = [f"{resource} is not back to its prior state" for resource, back in resources.items() if not back]
        return {"done": True, "verified": False, "t": clock.now(), "resources": resources, "steady": None, "problems": stuck}
    if probes.needs_seed(context):
        probes.seed(context, _store().samples(context.drill_id))
    wait, samples = _wait_for_steady(context, wait, invocation_end)
    _store().put_samples(context.drill_id, f"2-verify-{wait.batch:04d}", samples)
    return {
        **wait.model_dump(mode="json"),
        "verified": wait.reached,
        "t": clock.now(),
        "resources": resources,
        "steady": wait.reached if wait.done else None,
    }


# -- 7. report -------------------------------------------------------------------
def report(state: dict[str, Any]) -> dict[str, Any]:
    """Measure from every stored sample, write the artifacts, notify, release the lock."""
    from drillkit.evidence import manifest
    from drillkit.evidence import report as report_module

    context = _context(state)
    store = _store()
    ledger = _ledger()
    config = evidence_config()
    ledger.update_drill(context.drill_id, phase="report")
    samples = store.samples(context.drill_id)
    undo_records = ledger.list_undo(context.drill_id)
    record = ledger.get_drill(context.drill_id) or {}
    decided = record.get("approval") or {}
    if state.get("approval_error") and decided.get("status") == "rejected":
        # Who rejected and why, from the decision recorded before the task token was answered.
        reason = f"rejected by {decided.get('decided_by')}" + (f": {decided['reason']}" if decided.get("reason") else "")
        state = {**state, "approval_error": {"Error": "DrillRejected", "Cause": reason}}
    previous = store.latest_of_scenario(context.scenario.name)

    def build(state: dict[str, Any]) -> dict[str, Any]:
        return report_module.build(
            context,
            state,
            samples,
            undo_records,
            ended_at=clock.now(),
            previous=previous,
            notify_targets=[config.topic_arn] if config.topic_arn else [],
            fault_plan=record.get("plan"),
        )

    document = build(state)
    if not state.get("ended") and (ended := (ledger.get_drill(context.drill_id) or {}).get("ended")):
        # The execution was stopped under this step: the safety net wrote so first thing, and the report says so.
        document = build({**state, "ended": ended})
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
        report_module.notify(config.topic_arn, document, keys)
    ledger.update_drill(context.drill_id, phase="done", verdict=document["verdict"], report_key=keys["report.json"])
    ledger.release_lock(context.environment_key, context.drill_id)
    return {
        "drill_id": context.drill_id,
        "scenario": context.scenario.name,
        "verdict": document["verdict"],
        "restore_verified": document["restore_verified"],
        "measurements": {name: m["seconds"] for name, m in document["measurements"].items()},
        "artifacts": keys,
    }


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
    record = ledger.get_drill(drill_id)
    if not record or not record.get("context"):
        action = "nothing to do: the drill never got past preflight"
        return Rescue(drill_id=drill_id, status=status, action=action).model_dump(mode="json")
    context = DrillContext.model_validate(record["context"])
    if record.get("phase") == "done":
        ledger.release_lock(context.environment_key, drill_id)
        return Rescue(drill_id=drill_id, status=status, action="already reported").model_dump(mode="json")
    ended = record.get("ended") or {
        "status": status,
        "execution_arn": detail.get("executionArn"),
        "error": detail.get("error"),
        "cause": detail.get("cause"),
        "phase": record.get("phase"),
    }
    # First of all: a Report step still running (the execution was stopped under it) reads this before it seals.
    ledger.update_drill(drill_id, ended=ended)
    return Rescue(drill_id=drill_id, status=status, action=RESCUE).model_dump(mode="json")


def _rescued_drill_state(rescue: Rescue) -> dict[str, Any]:
    """The drill machine's state document, rebuilt from the drill record and the safety net's progress."""
    record = _ledger().get_drill(str(rescue.drill_id)) or {}
    state: dict[str, Any] = {"drill": record["context"], "ended": record.get("ended")}
    for key in ("injection", "observation"):
        if record.get(key):
            state[key] = record[key]
    if record.get("steady_reached_at"):
        state["steady"] = {"reached_at": record["steady_reached_at"]}
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
