"""Milestones, uncertainty windows and verdicts from probe readings."""

from __future__ import annotations

import pytest

from drillkit.measure import MilestoneTracker, measurements, verdict
from drillkit.spec import Objectives

T0 = 1000.0


def readings(t, healthy=True, dns="primary", http="primary", ok=True, client=None):
    return [
        {"t": t, "probe": "health_check", "healthy": healthy},
        {"t": t + 0.001, "probe": "dns", "side": dns},
        {"t": t + 0.0015, "probe": "dns_client", "side": client or dns},
        {"t": t + 0.002, "probe": "http", "side": http, "ok": ok},
    ]


def feed_all(tracker, samples):
    reached = []
    for sample in samples:
        reached += tracker.feed(sample)
    return reached


def test_milestones_are_the_first_readings_that_show_them_after_injection():
    # Given steady readings before the injection and a cutover after it
    tracker = MilestoneTracker(t_inject=T0, t_before_inject=T0 - 0.05, hold_samples=2)
    samples = readings(T0 - 1) + readings(T0 + 1, healthy=False) + readings(T0 + 2, healthy=False, dns="standby")
    samples += readings(T0 + 3, healthy=False, dns="standby", http="standby")
    samples += readings(T0 + 4, healthy=False, dns="standby", http="standby")
    # When they are fed in order
    reached = feed_all(tracker, samples)
    # Then each milestone is the start of its held streak
    assert reached == ["detection", "dns_cutover", "client_cutover", "recovery"]
    assert tracker.detection == T0 + 1
    assert tracker.dns_cutover == pytest.approx(T0 + 2.001)
    assert tracker.recovery == pytest.approx(T0 + 3.002)
    assert tracker.complete


def test_a_cutover_that_flaps_back_is_not_counted_until_it_holds():
    tracker = MilestoneTracker(t_inject=T0, hold_samples=2)
    samples = readings(T0 + 1, dns="standby") + readings(T0 + 2, dns="primary")
    samples += readings(T0 + 3, dns="standby") + readings(T0 + 4, dns="standby")
    feed_all(tracker, samples)
    assert tracker.dns_cutover == pytest.approx(T0 + 3.001)


def test_readings_before_injection_never_count():
    tracker = MilestoneTracker(t_inject=T0, hold_samples=1)
    feed_all(tracker, readings(T0 - 0.5, healthy=False, dns="standby", http="standby"))
    assert tracker.milestones() == {"detection": None, "dns_cutover": None, "client_cutover": None, "recovery": None}


def test_uncertainty_is_the_gap_to_the_previous_reading_but_not_before_the_injection_request():
    tracker = MilestoneTracker(t_inject=T0, t_before_inject=T0 - 0.1, hold_samples=1)
    # last healthy reading long before the injection: the window starts at the injection request
    feed_all(tracker, readings(T0 - 3) + readings(T0 + 0.4, healthy=False))
    assert tracker.uncertainty("detection", interval=1.0) == pytest.approx(0.5)
    # a late reading widens the window honestly
    late = MilestoneTracker(t_inject=T0, hold_samples=1)
    feed_all(late, readings(T0 + 1) + readings(T0 + 3.5, healthy=False))
    assert late.uncertainty("detection", interval=1.0) == pytest.approx(2.5)


def test_tracker_survives_serialisation_between_observe_batches():
    tracker = MilestoneTracker(t_inject=T0, hold_samples=2)
    feed_all(tracker, readings(T0 + 1, dns="standby"))
    resumed = MilestoneTracker.model_validate(tracker.model_dump(mode="json"))
    feed_all(resumed, readings(T0 + 2, dns="standby"))
    assert resumed.dns_cutover == pytest.approx(T0 + 1.001)


def test_measurements_are_judged_against_targets():
    tracker = MilestoneTracker(t_inject=T0, hold_samples=1)
    samples = readings(T0 + 1) + readings(T0 + 2, healthy=False, dns="standby")
    feed_all(tracker, samples + readings(T0 + 40, healthy=False, dns="standby", http="standby"))
    measured = measurements(tracker, Objectives(detection_seconds=5, dns_cutover_seconds=1, recovery_seconds=30), 1.0)
    assert measured["detection"] == {"seconds": 2.0, "uncertainty_seconds": 1.0, "target_seconds": 5, "passed": True}
    assert measured["dns_cutover"]["passed"] is False
    assert measured["recovery"]["seconds"] == pytest.approx(40.002)
    assert measured["recovery"]["passed"] is False
    assert verdict(measured, restore_verified=True, error=False) == "FAIL"


def test_unreached_milestone_without_target_is_not_judged():
    tracker = MilestoneTracker(t_inject=T0, hold_samples=1)
    measured = measurements(tracker, Objectives(), 1.0)
    assert measured["recovery"] == {"seconds": None, "uncertainty_seconds": 1.0, "target_seconds": None, "passed": None}


@pytest.mark.parametrize(
    ("passed", "restored", "error", "expected"),
    [(True, True, False, "PASS"), (True, False, False, "FAIL"), (False, True, False, "FAIL"), (True, True, True, "ERROR")],
)
def test_verdict(passed, restored, error, expected):
    measured = {"recovery": {"passed": passed}}
    assert verdict(measured, restore_verified=restored, error=error) == expected
