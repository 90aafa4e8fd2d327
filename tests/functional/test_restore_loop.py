"""The Restore step as a loop: a fault whose undo takes time keeps the drill calling Restore, within a budget."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from drillkit import clock, drill, faults
from drillkit.errors import RestoreFailed
from drillkit.faults import PriorState
from drillkit.faults import health_check_inversion as inversion
from drillkit.ledger import UNDO_APPLIED, UNDO_RESTORED, Ledger
from drillkit.model import DrillContext, RestoreProgress

from .conftest import TABLE, recorded

SLOW = "slow-undo"  # a fault double whose undo completes on its third call, like an Aurora switchover back
PRIMARY_DB = "arn:aws:rds:us-east-1:123456789012:cluster:primary-db"
SWITCHED_OVER = {
    "resource_id": PRIMARY_DB,
    "method": "global-switchover",
    "region": "us-east-1",
    "cluster": "primary-db",
    "cluster_arn": PRIMARY_DB,
    "status": "available",
    "global_cluster": "global-db",
    "writer_arn": PRIMARY_DB,
    "failover_to": "arn:aws:rds:us-west-2:123456789012:cluster:standby-db",
}


@pytest.fixture
def slow_fault(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    calls: list[PriorState] = []

    def restore(prior: PriorState) -> bool:
        calls.append(prior)
        return len(calls) >= 3

    fault = SimpleNamespace(TYPE=SLOW, restore=restore, waiting_for=lambda prior: "the switchover back", calls=calls)
    monkeypatch.setitem(faults.FAULTS, SLOW, fault)
    return fault


@pytest.fixture
def context(account, request_for) -> DrillContext:
    request = request_for(sampling__restore_budget_seconds=600)
    return recorded(drill.preflight(request, execution_id=None, execution_name="drill-loop-0001")).context


def with_records(context: DrillContext, account) -> Ledger:
    """An older health-check inversion (one call undoes it) and a newer slow undo, both applied."""
    ledger = Ledger(TABLE)
    prior = inversion.FAULT.capture(context.scenario.fault, context.target)
    ledger.put_undo(context.drill_id, 1, fault=inversion.TYPE, resource_id=prior.resource_id, prior=prior.stored())
    inversion.FAULT.apply(context.scenario.fault, context.target, prior)
    ledger.mark_undo(context.drill_id, 1, UNDO_APPLIED)
    ledger.put_undo(context.drill_id, 2, fault=SLOW, resource_id="global-db", prior=SWITCHED_OVER)
    ledger.mark_undo(context.drill_id, 2, UNDO_APPLIED)
    return ledger


def test_an_undo_in_progress_keeps_the_step_not_done_until_a_later_call_completes_it(account, context, slow_fault):
    ledger = with_records(context, account)
    state: dict[str, Any] = {"drill": context.model_dump(mode="json")}

    first = RestoreProgress.model_validate(drill.restore(state))
    assert first.done is False
    assert [(r.resource_id, r.status) for r in first.records] == [
        ("global-db", "in progress"),
        (context.target.primary.health_check_id, "restored"),
    ]
    assert first.waiting_for == ["global-db: waiting for the switchover back"]
    # The first wait is the sampling interval (0.5 s, a whole second at least); each one after doubles.
    assert (first.calls, first.budget_seconds, first.retry_in_seconds) == (1, 600, 1)
    assert ledger.get_undo(context.drill_id, 2).status != UNDO_RESTORED

    state["restore"] = first.model_dump()
    second = RestoreProgress.model_validate(drill.restore(state))
    assert (second.done, second.calls, second.started_at) == (False, 2, first.started_at)  # the budget counts from the first call
    assert second.retry_in_seconds == 2
    assert [r.status for r in second.records] == ["in progress", "already restored"]

    state["restore"] = second.model_dump()
    third = RestoreProgress.model_validate(drill.restore(state))
    assert (third.done, third.calls, third.started_at, third.waiting_for) == (True, 3, first.started_at, [])
    assert [r.status for r in third.records] == ["restored", "already restored"]
    assert ledger.get_undo(context.drill_id, 2).status == UNDO_RESTORED
    assert len(slow_fault.calls) == 3


def test_a_spent_budget_fails_the_restore_naming_the_resource_and_what_it_waits_for(account, context, slow_fault, frozen_clock):
    # Given a restore whose first call left the slow undo in progress
    with_records(context, account)
    state: dict[str, Any] = {"drill": context.model_dump(mode="json")}
    state["restore"] = drill.restore(state)
    assert state["restore"]["started_at"] == clock.now()

    # When the machine calls again once the whole 600 s budget has passed
    frozen_clock.tick(600)

    # Then the restore fails, naming what it still waits for
    with pytest.raises(RestoreFailed, match=r"after 600s \(budget 600s, 2 calls\): global-db: waiting for the switchover back"):
        drill.restore(state)


def test_a_restore_called_anew_after_a_finished_one_starts_a_new_budget(account, context, slow_fault, frozen_clock):
    # Given a finished restore from long ago (e.g. the machine's, before the safety net restores again)
    with_records(context, account)
    state: dict[str, Any] = {"drill": context.model_dump(mode="json")}
    state["restore"] = {**drill.restore(state), "done": True, "started_at": clock.now() - 3600}

    # When restore is called again
    again = RestoreProgress.model_validate(drill.restore(state))

    # Then its budget starts now, with its first call
    assert again.calls == 1 and again.started_at == clock.now()


def test_without_a_budget_in_the_scenario_the_restore_gets_half_an_hour_and_polls_at_most_every_15_seconds(account, request_for):
    context = recorded(drill.preflight(request_for(), execution_id=None, execution_name="drill-loop-0002")).context
    result = RestoreProgress.model_validate(drill.restore({"drill": context.model_dump(mode="json")}))
    assert (result.done, result.budget_seconds, result.retry_in_seconds) == (True, 1800, 1)
    # Sampled every 0.5 s: 1, 2, 4, 8, then 15 s between calls; sampled every 5 s (an AWS-sized scenario): 5, 10, 15.
    assert [drill.restore_retry_in_seconds(1800, calls, 0.5) for calls in range(1, 7)] == [1, 2, 4, 8, 15, 15]
    assert [drill.restore_retry_in_seconds(1800, calls, 5.0) for calls in range(1, 5)] == [5, 10, 15, 15]
    # A short budget keeps its share: 300 s, at most about 120 calls, 2 s apart once the waits have grown.
    assert [drill.restore_retry_in_seconds(300, calls, 0.5) for calls in range(1, 4)] == [1, 2, 2]
