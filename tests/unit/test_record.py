"""The drill record's pure parts: the one drill-id format, what $ carries, caught errors, what status shows."""

from __future__ import annotations

import re

from freezegun import freeze_time

from drillkit.record import CaughtErrors, DrillRef, Phase, new_drill_id, status_of, summary_of
from drillkit.spec import DRILL_ID_PATTERN

from ..reports import T_INJECT, drill_context, finished_state, record_of


@freeze_time("2026-11-17 08:09:10")
def test_a_drill_id_is_the_scenario_the_utc_second_and_a_suffix_valid_as_request_and_execution_name():
    drill_id = new_drill_id("a-scenario-with-a-name-far-longer-than-thirty-six-characters")

    assert re.fullmatch(r"a-scenario-with-a-name-far-longer-th-20261117T080910Z-[0-9a-f]{4}", drill_id)
    assert re.fullmatch(DRILL_ID_PATTERN, drill_id) and len(drill_id) <= 80  # Step Functions' execution name limit


def test_the_machine_carries_only_the_id_and_what_its_choices_read(scenario_dict):
    context = drill_context(scenario_dict).model_copy(update={"blocked": True, "approval_timeout_seconds": 600})

    assert DrillRef.of(context).model_dump() == {
        "drill_id": context.drill_id,
        "blocked": True,
        "approval_required": False,
        "approval_timeout_seconds": 600,
    }


def test_newly_caught_errors_replace_only_their_own_key():
    earlier = CaughtErrors.of({"error": {"Error": "NotSteady", "Cause": "flapping"}, "restore": {"done": True}})
    later = CaughtErrors.of({"verify_error": {"Error": "States.Timeout"}})

    merged = earlier.merged(later)

    assert merged.error is not None and (merged.error.error, merged.error.cause) == ("NotSteady", "flapping")
    assert merged.verify_error is not None and merged.verify_error.as_caught() == {"Error": "States.Timeout"}
    assert merged.restore_error is None and merged.approval_error is None


def test_status_shows_milestones_in_seconds_after_injection_in_the_order_reached(scenario_dict):
    context = drill_context(scenario_dict)
    record = record_of(context, finished_state(context)).model_copy(
        update={"phase": Phase.DONE, "verdict": "PASS", "milestones": {"recovery": T_INJECT + 4.25, "detection": T_INJECT + 2}}
    )

    status = status_of(record)
    summary = summary_of(record)

    assert list(status.milestones.items()) == [("detection", 2.0), ("recovery", 4.25)]
    assert (status.phase, status.verdict, status.ended) == (Phase.DONE, "PASS", None)
    assert status.injected_at == "2026-11-18T11:06:45.000Z" and summary.started_at == "2026-11-18T11:06:40.000Z"
    assert summary.model_dump(mode="json")["phase"] == "done" and summary.verdict == "PASS"
