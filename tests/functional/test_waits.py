"""Waits longer than the Lambda invocation that waits: each stops at the invocation's deadline and continues in the next.

Given a drill record in a moto account and probes that read what the test says, when steady state, verify-restore
and the safety net run with an invocation deadline, then they stop at it, hand back their progress, and the next
invocation (the state machine's loop) carries on from it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from drillkit import drill, faults, waits
from drillkit.errors import NotSteady, ScenarioInvalid
from drillkit.evidence.store import EvidenceStore
from drillkit.ledger import Ledger
from drillkit.readings import HttpReading, Reading
from drillkit.record import Phase

from ..conftest import ROOT
from .conftest import BUCKET, TABLE, recorded

INTERVAL = 0.1
PROBE_TIMEOUT = 0.5
READING_ALLOWANCE = PROBE_TIMEOUT + 1.0


@pytest.fixture
def probes_read(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Probes that read steady while ``readings["steady"]`` is true, at once; counts the ticks."""
    readings: dict[str, Any] = {"steady": True, "count": 0}

    class InstantSampler:
        def __init__(self, context: Any):
            self.context = context

        def tick(self, until: float) -> list[Reading]:
            readings["count"] += 1
            return [HttpReading(t=time.time(), ok=readings["steady"], side="primary")]

        def drain(self) -> list[Reading]:
            return []

    def steady(samples: list[Reading]) -> tuple[bool, list[str]]:
        ok = all(isinstance(x, HttpReading) and x.ok for x in samples)
        return ok, [] if ok else ["http: not ok"]

    monkeypatch.setattr(drill.probes, "warm", lambda: None)
    monkeypatch.setattr(drill.probes, "Sampler", InstantSampler)
    monkeypatch.setattr(drill.probes, "expected", lambda context: {"http"})
    monkeypatch.setattr(drill.probes, "steady", steady)
    monkeypatch.setattr(drill.probes, "needs_seed", lambda context: False)
    return readings


@pytest.fixture
def drill_state(frozen_clock, account, request_for) -> dict[str, Any]:
    """A drill past preflight: its record, its lock, and the state the machine carries.

    The clock is frozen from here on and moves only while the drill sleeps between readings: how many readings
    fit before a deadline is exact.
    """
    request = request_for(
        sampling__interval_seconds=INTERVAL, sampling__steady_state_samples=8, sampling__steady_state_timeout_seconds=30
    )
    request["scenario"]["sampling"]["restore_timeout_seconds"] = 30
    # A batch starts readings until the invocation's end less the probe timeout + 1 s (the last one must be back).
    request["scenario"]["sampling"]["probe_timeout_seconds"] = PROBE_TIMEOUT
    context = drill.preflight(request, execution_id="arn:exec", execution_name="drill-waits-0001")
    return {"drill": context}


def put_undo_record(drill_state: dict[str, Any]) -> str:
    """The undo record Inject writes first, for the demo's fault (health-check inversion), still in its prior state."""
    context = recorded(drill_state["drill"]).context
    fault = faults.fault_of(context.scenario.fault.type)
    prior = fault.capture(context.scenario.fault, context.target)
    kind = context.scenario.fault.type
    Ledger(TABLE).put_undo(context.drill_id, 1, fault=kind, resource_id=prior.resource_id, prior=prior.stored())
    return prior.resource_id


def soon(seconds: float) -> float:
    return time.time() + seconds


def test_steady_state_stops_at_the_invocations_deadline_and_the_next_invocation_keeps_the_streak(drill_state, probes_read):
    # Given an invocation with 0.35 s of readings left (0.1 s apart), When steady state waits for 8 steady readings
    first = drill.steady_state(drill_state, soon(READING_ALLOWANCE + 0.35))

    # Then it hands back after the 4 readings that fit (+0.1, +0.2, +0.3 and the one at +0.35), not done
    assert first["done"] is False and first["reached"] is False
    assert first["streak"] == probes_read["count"] == 4
    assert first["batch"] == 1
    deadline = first["deadline"]
    assert deadline == pytest.approx(first["started_at"] + 30)

    # When the machine calls again with that progress
    second = drill.steady_state({**drill_state, "steady": first}, soon(5))

    # Then the streak goes on from 4 and the wait is over at 8
    assert second["done"] is True and second["reached"] is True
    # 8 steady readings in a row across the two invocations, not 8 in the second.
    assert probes_read["count"] == 8 and second["streak"] == 8
    assert second["deadline"] == deadline and second["batch"] == 2
    steady = Ledger(TABLE).require("drill-waits-0001").steady_state
    assert steady is not None and steady.reached_at == pytest.approx(second["reached_at"])
    stored = EvidenceStore(BUCKET).samples("drill-waits-0001", "0-steady")
    assert len(stored) == 8


def test_a_continued_wait_never_extends_its_own_deadline(drill_state, probes_read):
    probes_read["steady"] = False
    first = drill.steady_state(drill_state, soon(READING_ALLOWANCE + 0.1))
    assert first["done"] is False and first["streak"] == 0
    # The scenario's timeout has passed meanwhile: the next invocation ends the wait, it does not start a new one.
    expired = {**first, "deadline": time.time() + 0.1}

    with pytest.raises(NotSteady, match="http: not ok"):
        drill.steady_state({**drill_state, "steady": expired}, soon(5))


def test_verify_restore_stops_at_the_invocations_deadline_and_continues_until_the_probes_are_steady(drill_state, probes_read):
    context = recorded(drill_state["drill"]).context
    fault = faults.fault_of(context.scenario.fault.type)
    prior = fault.capture(context.scenario.fault, context.target)
    Ledger(TABLE).put_undo(
        context.drill_id, 1, fault=context.scenario.fault.type, resource_id=prior.resource_id, prior=prior.stored()
    )

    first = drill.verify_restore(drill_state, soon(READING_ALLOWANCE + 0.35))
    assert (first["done"], first["verified"]) == (False, False)
    assert first["resources"] == {prior.resource_id: True}

    second = drill.verify_restore({**drill_state, "verification": first}, soon(5))
    assert (second["done"], second["verified"], second["steady"]) == (True, True, True)
    assert second["deadline"] == first["deadline"] and second["streak"] == 8


@dataclass
class FakeLambdaContext:
    """What the Lambda runtime hands a handler; the remaining time is what the test says."""

    remaining_seconds: float
    function_name: str = "SafetyNetFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:SafetyNetFunction"
    aws_request_id: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_seconds * 1000)


def run_safety_net_machine(event: dict[str, Any], handler: Any, remaining_seconds: float) -> tuple[dict[str, Any], list[str]]:
    """Interpret statemachines/safety-net.asl.json as Step Functions does (Task, Choice, Wait, Succeed; ResultPath, Catch).

    Each Task is one invocation of the handler with ``remaining_seconds`` left; Waits are not waited out.
    """
    asl = json.loads((ROOT / "statemachines" / "safety-net.asl.json").read_text())
    document: dict[str, Any] = event
    visited: list[str] = []
    name = asl["StartAt"]

    def path(doc: dict[str, Any], dotted: str) -> Any:
        node: Any = doc
        for part in dotted.removeprefix("$").strip(".").split("."):
            if not part:
                continue
            node = node[part]
        return node

    def put(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
        doc = json.loads(json.dumps(doc))
        *parents, leaf = dotted.removeprefix("$.").split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
        return doc

    while True:
        visited.append(name)
        state = asl["States"][name]
        if state["Type"] == "Succeed":
            return document, visited
        if state["Type"] == "Wait":
            name = state["Next"]
        elif state["Type"] == "Choice":
            name = state["Default"]
            for rule in state["Choices"]:
                value = path(document, rule["Variable"])
                expected = rule.get("BooleanEquals", rule.get("StringEquals"))
                if value == expected:
                    name = rule["Next"]
                    break
        else:
            payload = {k.removesuffix(".$"): path(document, v) if k.endswith(".$") else v for k, v in state["Parameters"].items()}
            try:
                result = json.loads(json.dumps(handler(payload, FakeLambdaContext(remaining_seconds))))
            except Exception as error:  # noqa: BLE001 what a Catch on States.ALL receives
                [catch] = state["Catch"]
                document = put(document, catch["ResultPath"], {"Error": type(error).__name__, "Cause": str(error)})
                name = catch["Next"]
                continue
            document = put(document, state["ResultPath"], result)
            name = state["Next"]


def test_the_safety_net_calls_restore_again_until_done_verifies_across_invocations_and_reports(
    drill_state, probes_read, monkeypatch
):
    from drillkit.handlers import safety_net as handler

    drill_id = drill_state["drill"]["drill_id"]
    put_undo_record(drill_state)
    calls: list[dict[str, Any]] = []

    def restore_in_three_calls(state: dict[str, Any]) -> dict[str, Any]:
        """The restore contract: done=false until the third call; the previous result comes back in state["restore"]."""
        calls.append(state.get("restore") or {})
        started = (state.get("restore") or {}).get("started_at", time.time())
        return {"done": len(calls) == 3, "started_at": started, "ended_at": time.time(), "records": []}

    monkeypatch.setattr(drill, "restore", restore_in_three_calls)
    event = {
        "detail": {"status": "ABORTED", "name": drill_id, "executionArn": "arn:exec", "error": "Stopped", "cause": "by a test"}
    }

    # Each invocation has 2.5 s left, about 0.4 s of readings: verification (8 readings, 0.1 s apart) needs more than one.
    document, visited = run_safety_net_machine(event, handler.lambda_handler, remaining_seconds=2.5)

    assert [c.get("done") for c in calls] == [None, False, False]
    assert calls[2]["started_at"] == calls[1]["started_at"]  # the restore's budget start is kept
    assert visited.count("Restore") == 3 and visited.count("WaitForRestore") == 2
    assert document["net"]["restore"]["done"] is True
    assert visited.count("Verify") == 2  # 4 readings fit in each invocation, 8 are needed
    assert document["report"]["action"] == "restored and reported"
    record = Ledger(TABLE).require(drill_id)
    assert record.phase == Phase.DONE and record.ended is not None and record.ended.status == "ABORTED"
    assert not [i for i in Ledger(TABLE).table.scan()["Items"] if i["sk"] == "LOCK"]


def test_a_restore_without_a_done_flag_is_done_in_one_call(drill_state, probes_read):
    """Until drill.restore reports ``done``, one call restores everything (the safety net works with both)."""
    from drillkit.handlers import safety_net as handler

    drill_id = drill_state["drill"]["drill_id"]
    event = {"detail": {"status": "FAILED", "name": drill_id, "executionArn": "arn:exec"}}
    document, visited = run_safety_net_machine(event, handler.lambda_handler, remaining_seconds=60)
    assert visited.count("Restore") == 1 and "WaitForRestore" not in visited
    assert document["net"]["restore"]["done"] is True
    assert document["report"]["verdict"] == Ledger(TABLE).require(drill_id).verdict


def test_an_invocation_deadline_keeps_a_margin_for_writing_the_samples(frozen_clock):
    # Given the instant an invocation starts
    now = time.time()
    # When its handler turns the remaining time into a deadline for its wait
    # Then 10 s are kept for writing the samples, or a quarter of a short invocation; no context, no deadline
    assert waits.invocation_deadline(None) is None
    assert waits.invocation_deadline(120_000) == now + 110
    assert waits.invocation_deadline(4_000) == now + 3


def test_a_drill_whose_waits_outlast_the_machine_is_refused_in_preflight_naming_the_fields(account, request_for):
    request = request_for(
        sampling__steady_state_timeout_seconds=3600, sampling__observe_timeout_seconds=3600, sampling__restore_timeout_seconds=600
    )
    with pytest.raises(ScenarioInvalid) as refused:
        drill.preflight(request, execution_id=None, execution_name="drill-long-0001")
    fields = [field for field, _ in refused.value.problems]
    assert fields == [
        "sampling.steady_state_timeout_seconds",
        "sampling.observe_timeout_seconds",
        "sampling.restore_budget_seconds",
        "sampling.restore_timeout_seconds",
    ]
    assert "more than the drill machine's 7200s maximum duration" in str(refused.value)
    # Refused before the lock or the drill record was written.
    assert account.table.scan()["Items"] == []


def test_a_wait_that_ends_not_steady_after_several_invocations_reports_no_steady_state(drill_state, probes_read):
    from ..reports import assert_valid_report

    probes_read["steady"] = False
    first = drill.steady_state(drill_state, soon(READING_ALLOWANCE + 0.15))
    with pytest.raises(NotSteady) as not_steady:
        drill.steady_state({**drill_state, "steady": {**first, "deadline": time.time() + 0.1}}, soon(5))

    # The machine catches NotSteady into $.error; $.steady still holds the unfinished wait's progress.
    error = {"Error": "NotSteady", "Cause": str(not_steady.value)}
    outcome = drill.report({**drill_state, "steady": first, "error": error})

    document = json.loads(EvidenceStore(BUCKET).get(outcome["artifacts"]["report.json"]))
    assert_valid_report(document)
    assert "steady_state_reached" not in [e["event"] for e in document["timeline"]]
    # The execution log (an auditor's step list) does not claim a steady state either.
    assert [s for s in document["execution"]["steps"] if s["actor"] == "drillkit:SteadyState"] == []
    assert any(f["code"] == "NotSteady" for f in document["findings"])
