"""The report's chart: labels laid out from their text extents never overlap; RPO is not a time; no fault, no fault time."""

from __future__ import annotations

import itertools

import pytest

from drillkit.evidence import chart, report
from drillkit.readings import HttpReading, Reading

from ..reports import T0, T_INJECT, UNDO, drill_context, finished_restore, finished_state, record_of, samples_after_injection


def _document(context, state, samples, undo=UNDO):
    return report.build(record_of(context, state), samples, undo, ended_at=T0 + 60)


def _overlaps(items):
    rows: dict[float, list[tuple[float, float]]] = {}
    for item in items:
        rows.setdefault(item["y"], []).append(chart.extent(item))
    return [
        (a, b)
        for spans in rows.values()
        for a, b in itertools.combinations(sorted(spans), 2)
        if a[1] + chart.LABEL_GAP > b[0]  # sorted by left edge: b starts before a ends (plus the gap)
    ]


@pytest.mark.parametrize("spread", [0.3, 0.7, 1.5, 3.0])
def test_milestone_labels_close_together_never_overlap_and_stay_inside(scenario_dict, spread):
    # Given milestones a fraction of a second apart on a long timeline (their labels far wider than their gaps)
    context = drill_context(scenario_dict)
    samples = samples_after_injection(spread, 2 * spread, 3 * spread)
    document = _document(context, finished_state(context), samples)

    drawn = chart.timeline(document, samples)

    # Then no two labels on one row share pixels, every label is inside the chart, and each marker starts at its label
    assert _overlaps(drawn["labels"]) == []
    assert _overlaps(drawn["targets"]) == []
    for item in drawn["labels"] + drawn["targets"]:
        left, right = chart.extent(item)
        assert 0 <= left and right <= drawn["width"], item
    label_rows = {label["y"] for label in drawn["labels"]}
    assert all(marker["top"] - 2 in label_rows for marker in drawn["markers"])
    assert all(label["y"] < drawn["lanes"][0]["y"] - 10 for label in drawn["labels"])  # above the first lane


def test_the_text_width_estimate_is_wider_for_wide_glyphs_and_capitals():
    assert chart.text_width("mmmm") > chart.text_width("aaaa") > chart.text_width("iiii")
    assert chart.text_width("DNS") > chart.text_width("dns")


def test_the_rpo_target_is_not_drawn_on_the_time_axis(scenario_dict):
    scenario_dict = {**scenario_dict, "objectives": {**scenario_dict["objectives"], "rpo_seconds": 5}}
    scenario_dict["data"] = {
        "heartbeat": {
            "primary_cluster_arn": "arn:aws:rds:us-east-1:123456789012:cluster:app-primary",
            "standby_cluster_arn": "arn:aws:rds:us-west-2:123456789012:cluster:app-standby",
            "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:drillkit-heartbeat",
        }
    }
    context = drill_context(scenario_dict)
    samples = samples_after_injection(1, 2, 3)
    document = _document(context, finished_state(context), samples)

    drawn = chart.timeline(document, samples)

    assert "rpo" in document["measurements"]
    assert "rpo" not in {target["name"] for target in drawn["targets"]}
    assert not any("RPO" in target["text"] for target in drawn["targets"])


def test_a_drill_that_injected_nothing_does_not_speak_of_the_fault_s_time(scenario_dict):
    context = drill_context(scenario_dict)
    readings: list[Reading] = [HttpReading(t=T_INJECT - 5 + i, ok=True, side="primary") for i in range(5)]
    state = {
        "drill": context.model_dump(mode="json"),
        "error": {"Error": "NotSteady", "Cause": "not steady"},
        "restore": finished_restore(T0 + 61, []),
        "verification": {"done": True, "verified": True, "t": T0 + 62, "resources": {}, "note": "nothing was injected"},
    }
    document = _document(context, state, readings, undo=[])

    html = report.render_html(document, readings)

    assert document["verdict"] == "ERROR"
    assert "after the fault was injected" not in html
    assert "No fault was injected: times are seconds since the first reading." in html


FONT_BOX = 11.9  # the 11 px font's box (ascent plus descent) as Chromium measures it: scripts/chart_check.py
ASCENT = 9.0  # of it above the baseline
DOT_RADIUS = 3


@pytest.mark.parametrize("spread", [0.3, 3.0])
def test_rows_of_labels_leave_room_for_the_font_and_targets_sit_clear_of_the_last_lane_s_readings(scenario_dict, spread):
    # Given four targets, three close enough together to take three rows
    scenario_dict = {**scenario_dict, "objectives": {**scenario_dict["objectives"], "client_cutover_seconds": 20}}
    context = drill_context(scenario_dict)
    samples = samples_after_injection(spread, 2 * spread, 3 * spread)
    drawn = chart.timeline(document := _document(context, finished_state(context), samples), samples)
    assert document["verdict"] == "PASS" and len({t["y"] for t in drawn["targets"]}) == 3

    # Then one row's text box ends above the next row's, and the highest target text starts below the last lane's dots
    assert chart.ROW_HEIGHT >= FONT_BOX
    last_lane = drawn["lanes"][-1]["y"]
    assert min(t["y"] for t in drawn["targets"]) - ASCENT > last_lane + DOT_RADIUS
    assert max(t["y"] for t in drawn["targets"]) < drawn["axis_y"]  # and above the axis


def test_labels_are_painted_after_every_line_and_dot_on_a_halo_so_no_line_strikes_through_them(scenario_dict):
    context = drill_context(scenario_dict)
    samples = samples_after_injection(1, 2, 3)
    html = report.render_html(_document(context, finished_state(context), samples), samples)

    chart_svg = html[html.index("<svg") : html.index("<g transform")]  # the chart, without its legend
    halo = chart_svg.index('<g paint-order="stroke" stroke="#ffffff"')
    assert "target Detection" in chart_svg[halo:] and "fault injected" in chart_svg[halo:]
    assert "<line" not in chart_svg[halo:] and "<circle" not in chart_svg[halo:]
