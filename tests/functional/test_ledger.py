"""The drill record in the ledger (moto): a typed round trip, one piece per writer, unknown ids, named AWS errors."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from drillkit.errors import DrillNotFound, DrillStateInvalid, TransientError
from drillkit.ledger import Ledger
from drillkit.record import CaughtError, CaughtErrors, DrillProgress, DrillRecord, Ended, Phase

from ..reports import T0, T_INJECT, drill_context, finished_state, record_of
from .conftest import TABLE


@pytest.fixture
def finished(scenario_dict) -> DrillRecord:
    """Every piece of a drill that ran to its end, as its steps would have saved them."""
    context = drill_context(scenario_dict, drill_id="drill-ledger-0001")
    return record_of(context, finished_state(context), plan="Inverted=True on Route 53 health check hc-1")


def save_every_step(ledger: Ledger, record: DrillRecord) -> None:
    for step in ("steady_state", "injection", "observation", "restore", "verification"):
        ledger.save_step(record.drill_id, step, getattr(record, step))


def test_a_record_saved_step_by_step_loads_back_equal_and_typed(account, finished):
    # Given a record created by preflight
    ledger = Ledger(TABLE)
    ledger.create(DrillRecord(context=finished.context, plan=finished.plan))

    # When each step saves its piece, observe records a milestone, and the report finishes the drill
    save_every_step(ledger, finished)
    ledger.record_milestone(finished.drill_id, "detection", T_INJECT + 2.5)
    ledger.finish(finished.drill_id, "PASS", "drills/drill-ledger-0001/report.json")

    # Then the record loads back equal to what was saved, floats and nested models included
    loaded = ledger.load(finished.drill_id)
    assert loaded == finished.model_copy(
        update={
            "phase": Phase.DONE,
            "milestones": {"detection": T_INJECT + 2.5},
            "verdict": "PASS",
            "report_key": "drills/drill-ledger-0001/report.json",
        }
    )
    assert loaded is not None and loaded.steady_state is not None and loaded.steady_state.reached_at == T0 + 3


def test_two_writers_each_save_their_piece_without_undoing_the_other(account, finished):
    # Given a drill in restore, and the safety net that read the same record a moment before
    drill_machine, safety_net = Ledger(TABLE), Ledger(TABLE)
    drill_machine.create(DrillRecord(context=finished.context))
    drill_machine.save_step(finished.drill_id, "injection", finished.injection, phase=Phase.RESTORE)
    read_by_the_safety_net = safety_net.require(finished.drill_id)

    # When the safety net writes how the execution ended, and the machine (unaware of it) saves its restore
    ended = Ended(status="ABORTED", execution_arn="arn:exec", phase=read_by_the_safety_net.phase)
    safety_net.save_step(finished.drill_id, "ended", ended)
    drill_machine.save_step(finished.drill_id, "restore", finished.restore)
    drill_machine.save_step(finished.drill_id, "caught", CaughtErrors(error=CaughtError(error="NotSteady", cause="flapping")))

    # Then the record holds both writers' pieces, and what neither wrote is as it was
    record = drill_machine.require(finished.drill_id)
    assert record.ended == ended and record.ended.phase == Phase.RESTORE
    assert record.restore == finished.restore and record.injection == finished.injection
    assert record.caught.error is not None and record.caught.error.error == "NotSteady"
    assert record.phase == Phase.RESTORE and record.verification is None and record.milestones == {}


def test_an_unknown_drill_loads_as_none_and_is_named_when_required_or_written(account, finished):
    ledger = Ledger(TABLE)

    assert ledger.load("drill-nobody-0001") is None
    with pytest.raises(DrillNotFound, match="no drill drill-nobody-0001 in ledger"):
        ledger.require("drill-nobody-0001")
    # A piece written for a drill that has no record does not create half a record.
    with pytest.raises(DrillNotFound, match="drill-nobody-0001.*ended"):
        ledger.save_step("drill-nobody-0001", "ended", Ended(status="FAILED"))
    assert ledger.load("drill-nobody-0001") is None


def test_a_piece_of_the_wrong_type_is_refused_naming_the_step(account, finished):
    ledger = Ledger(TABLE)
    ledger.create(DrillRecord(context=finished.context))

    with pytest.raises(DrillStateInvalid, match="restore: expected a RestoreProgress, got a Injection"):
        ledger.save_step(finished.drill_id, "restore", finished.injection)


def test_recent_drills_are_listed_newest_first_up_to_the_limit(account, scenario_dict):
    ledger = Ledger(TABLE)
    for n, started in enumerate((T0 + 20, T0, T0 + 10), start=1):
        context = drill_context(scenario_dict, drill_id=f"drill-list-{n:04d}").model_copy(update={"started_at": started})
        ledger.create(DrillRecord(context=context))
    ledger.acquire_lock("route53/Z123/app.drillkit.lab.", "drill-list-0001", 60)  # not a drill: never listed

    assert [r.drill_id for r in ledger.recent(10)] == ["drill-list-0001", "drill-list-0003", "drill-list-0002"]
    assert [r.drill_id for r in ledger.recent(2)] == ["drill-list-0001", "drill-list-0003"]


def test_a_throttled_ledger_call_is_a_transient_error_naming_the_item(account):
    ledger = Ledger(TABLE)
    with Stubber(ledger.table.meta.client) as stub:
        stub.add_client_error(
            "get_item", service_error_code="ProvisionedThroughputExceededException", service_message="slow down"
        )

        with pytest.raises(TransientError, match=f"GetItem on {TABLE} drill drill-busy-0001"):
            ledger.load("drill-busy-0001")


def test_a_step_entering_its_phase_gets_the_whole_record_back_in_the_same_call(account, finished):
    ledger = Ledger(TABLE)
    ledger.create(DrillRecord(context=finished.context, plan=finished.plan))
    ledger.save_step(finished.drill_id, "injection", finished.injection, phase=Phase.OBSERVE)

    entered = ledger.enter(finished.drill_id, Phase.RESTORE)

    assert entered.phase == Phase.RESTORE and entered.injection == finished.injection and entered.plan == finished.plan
    assert ledger.require(finished.drill_id) == entered
    with pytest.raises(DrillNotFound):
        ledger.enter("drill-nobody-0001", Phase.RESTORE)


def test_a_followers_progress_reads_the_phase_the_injection_time_and_the_milestones_alone(account, finished):
    # Given no record yet: a follower polling before preflight wrote it sees nothing
    ledger = Ledger(TABLE)
    assert ledger.progress(finished.drill_id) is None

    # When preflight creates the record, the fault goes in, and observe records two milestones
    ledger.create(DrillRecord(context=finished.context))
    assert ledger.progress(finished.drill_id) == DrillProgress(phase=Phase.PREFLIGHT, injected_at=None, milestones={})
    ledger.save_step(finished.drill_id, "steady_state", finished.steady_state)
    ledger.save_step(finished.drill_id, "injection", finished.injection, phase=Phase.OBSERVE)
    ledger.record_milestone(finished.drill_id, "detection", T_INJECT + 2.5)
    ledger.record_milestone(finished.drill_id, "dns_cutover", T_INJECT + 4.25)

    # Then the progress is the phase, the fault's time and the milestones, as the whole record says them
    progress = ledger.progress(finished.drill_id)
    whole = ledger.require(finished.drill_id)
    assert whole.injection is not None
    assert progress == DrillProgress(
        phase=Phase.OBSERVE,
        injected_at=whole.injection.t_inject,
        milestones={"detection": T_INJECT + 2.5, "dns_cutover": T_INJECT + 4.25},
    )
    assert progress == DrillProgress(phase=whole.phase, injected_at=whole.injection.t_inject, milestones=whole.milestones)


def test_a_progress_that_does_not_read_is_named(account, finished):
    # Given a record whose phase was overwritten with a word no step writes
    ledger = Ledger(TABLE)
    ledger.create(DrillRecord(context=finished.context))
    ledger.table.update_item(
        Key={"pk": f"DRILL#{finished.drill_id}", "sk": "RECORD"},
        UpdateExpression="SET #p = :p",
        ExpressionAttributeNames={"#p": "phase"},
        ExpressionAttributeValues={":p": "sideways"},
    )

    # Then following it fails naming the record and the field, not with a half-read progress
    with pytest.raises(DrillStateInvalid, match=rf"DRILL#{finished.drill_id}.*phase"):
        ledger.progress(finished.drill_id)
