"""The safety net's state machine (statemachines/safety-net.asl.json) and its waits, checked statically."""

from __future__ import annotations

import json
import math
import re

import pytest
from pydantic import ValidationError

from drillkit import drill, waits
from drillkit.config import LedgerConfig
from drillkit.spec import Sampling
from drillkit_lab import template as cfn

from ..conftest import ROOT
from .test_drill_machine import LAMBDA_SERVICE_ERRORS, successors

ASL = json.loads((ROOT / "statemachines" / "safety-net.asl.json").read_text())
DRILL_ASL = json.loads((ROOT / "statemachines" / "drill.asl.json").read_text())
TEMPLATE = cfn.load(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
STATES = ASL["States"]
HISTORY_LIMIT = 25_000  # events in one Standard execution's history (Step Functions service quotas)
# Events one round of a loop adds to the history: a Lambda task (TaskStateEntered, LambdaFunctionScheduled,
# LambdaFunctionStarted, LambdaFunctionSucceeded, TaskStateExited), a Choice (entered, exited), a Wait (entered, exited).
TASK_EVENTS, CHOICE_EVENTS, WAIT_EVENTS = 5, 2, 2


def function_timeout(logical_id: str) -> float:
    return float(RESOURCES[logical_id]["Properties"].get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"]))


def batch_seconds(logical_id: str) -> float:
    """How long one invocation of a waiting function samples at least: timeout less margin and the longest probe timeout."""
    timeout = function_timeout(logical_id)
    return timeout - min(waits.MARGIN_SECONDS, timeout * waits.MARGIN_SHARE) - longest("probe_timeout_seconds")


def longest(field: str) -> float:
    """The largest value a scenario may give a sampling field."""
    return next(float(m.le) for m in Sampling.model_fields[field].metadata if getattr(m, "le", None) is not None)


def test_the_template_deploys_it_with_every_placeholder_substituted():
    machine = RESOURCES["SafetyNetStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachines/safety-net.asl.json"
    assert machine["Type"] == "STANDARD"
    assert set(re.findall(r"\$\{(\w+)\}", json.dumps(ASL))) == set(machine["DefinitionSubstitutions"])


def test_every_task_is_one_step_of_the_safety_net_function_and_carries_only_the_progress():
    tasks = {name: state for name, state in STATES.items() if state["Type"] == "Task"}
    assert {t["Parameters"]["step"] for t in tasks.values()} == {"begin", "restore", "verify", "report"}
    for name, task in tasks.items():
        assert task["Resource"] == "${SafetyNetFunctionArn}", name
        # Never the drill's state document: the drill record is read afresh at each step.
        assert set(task["Parameters"]) in ({"step", "event.$"}, {"step", "net.$"}), name


def test_every_state_is_reachable_and_every_path_ends():
    seen, frontier = set(), [ASL["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in seen:
            seen.add(name)
            frontier.extend(successors(STATES[name]))
    assert seen == set(STATES)
    assert all(successors(STATES[name]) or STATES[name]["Type"] == "Succeed" for name in STATES)


def test_restore_is_called_again_after_a_wait_until_it_is_done_and_a_failed_restore_still_verifies_and_reports():
    assert STATES["NeedsRescue"]["Choices"] == [{"Variable": "$.net.action", "StringEquals": "restore", "Next": "Restore"}]
    assert STATES["Restore"]["ResultPath"] == "$.net.restore" and STATES["Restore"]["Next"] == "RestoreDone"
    assert STATES["RestoreDone"]["Choices"] == [
        {"Variable": "$.net.restore.done", "BooleanEquals": False, "Next": "WaitForRestore"}
    ]
    assert STATES["RestoreDone"]["Default"] == "Verify"
    assert STATES["WaitForRestore"]["Type"] == "Wait" and STATES["WaitForRestore"]["Next"] == "Restore"
    # As long as Restore says (a share of its budget), as the drill machine's RestoreWait does.
    assert STATES["WaitForRestore"]["SecondsPath"] == "$.net.restore.retry_in_seconds"
    assert STATES["Restore"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.net.restore_error", "Next": "Verify"}]


def test_verification_continues_in_the_next_invocation_until_done_and_always_ends_in_the_report():
    assert STATES["Verify"]["ResultPath"] == "$.net.verification" and STATES["Verify"]["Next"] == "VerificationDone"
    assert STATES["VerificationDone"]["Choices"] == [
        {"Variable": "$.net.verification.done", "BooleanEquals": False, "Next": "Verify"}
    ]
    assert STATES["VerificationDone"]["Default"] == "Report"
    assert STATES["Verify"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.net.verify_error", "Next": "Report"}]
    assert STATES["Report"]["Next"] == "Done" and STATES["Done"]["Type"] == "Succeed"


def test_retries_only_name_transient_or_lambda_service_errors():
    for name, state in STATES.items():
        for retry in state.get("Retry", []):
            assert set(retry["ErrorEquals"]) <= LAMBDA_SERVICE_ERRORS | {"TransientError"}, name


def test_a_restore_that_uses_its_whole_budget_stays_far_below_the_history_limit():
    """Restore raises RestoreFailed once its budget is spent; until then the machine waits retry_in_seconds per round."""
    round_events = TASK_EVENTS + CHOICE_EVENTS + WAIT_EVENTS
    budgets = range(1, int(longest("restore_budget_seconds")) + 1)
    # Waits double from the sampling interval (the shortest: the most rounds) up to a share of the budget.
    rounds = max(
        budget / drill.restore_longest_wait(budget) + 1 + math.log2(drill.RESTORE_RETRY_SECONDS[1]) for budget in budgets
    )
    # Begin, the rescue choice, the longest verification (one round per invocation) and the report come on top.
    verify_rounds = longest("restore_timeout_seconds") / batch_seconds("SafetyNetFunction") + 1
    others = 2 * TASK_EVENTS + CHOICE_EVENTS + verify_rounds * (TASK_EVENTS + CHOICE_EVENTS) + 10
    assert rounds * round_events + others < HISTORY_LIMIT / 5
    # ... and the machine outlasts the longest restore and verification a scenario may ask for.
    assert ASL["TimeoutSeconds"] >= longest("restore_budget_seconds") + longest("restore_timeout_seconds")


def test_the_drill_machines_wait_loops_cost_a_few_hundred_history_events_at_most():
    """One round per invocation, each invocation sampling until the function's timeout minus the margin."""
    events = 0.0
    for function, field in (
        ("SteadyStateFunction", "steady_state_timeout_seconds"),
        ("VerifyRestoreFunction", "restore_timeout_seconds"),
    ):
        events += (longest(field) / batch_seconds(function) + 1) * (TASK_EVENTS + CHOICE_EVENTS)
    assert events < 500
    assert DRILL_ASL["States"]["SteadyStateDone"]["Type"] == DRILL_ASL["States"]["VerificationDone"]["Type"] == "Choice"


def test_preflight_knows_the_drill_machines_maximum_duration():
    assert DRILL_ASL["TimeoutSeconds"] == waits.DRILL_MACHINE_SECONDS


def test_the_lock_lasts_as_long_as_the_drill_and_its_rescue_can():
    """Given the drill and safety-net machines' maximum durations, the lock outlives neither (template, config, safety net)."""
    ttl = TEMPLATE["Parameters"]["LockTtlSeconds"]

    assert ttl["Default"] >= DRILL_ASL["TimeoutSeconds"]
    assert ttl["MinValue"] >= DRILL_ASL["TimeoutSeconds"]
    assert LedgerConfig(ledger_table="ledger").lock_ttl_seconds >= DRILL_ASL["TimeoutSeconds"]
    with pytest.raises(ValidationError):
        LedgerConfig(ledger_table="ledger", lock_ttl_seconds=3600)
    assert ASL["TimeoutSeconds"] == waits.SAFETY_NET_MACHINE_SECONDS
