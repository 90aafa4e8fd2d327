"""Detection under health-check inversion is the configuration read back, never a measured detection."""

from __future__ import annotations

from drillkit.measure import MilestoneTracker, measurements
from drillkit.readings import HealthCheckReading
from drillkit.spec import Objectives


def reading(t: float, inverted: bool, ok: bool) -> HealthCheckReading:
    observations = [(f"checker-{i}", t - 0.1, ok) for i in range(8)]
    healthy = ok != inverted
    return HealthCheckReading(t=t, healthy=healthy, inverted=inverted, disabled=False,
                              interval=1, failure_threshold=1, observations=observations)  # fmt: skip


def test_an_inverted_check_whose_checkers_all_succeed_is_labelled_configuration_applied_and_not_judged():
    # Given a tracker that saw the check healthy before the injection
    tracker = MilestoneTracker(t_inject=100.0, hold_samples=2)
    tracker.feed(reading(99.0, inverted=False, ok=True))
    # When the first reading after the injection shows Inverted while every checker still succeeds
    reached = tracker.feed(reading(100.2, inverted=True, ok=True))
    # Then detection is dated there but labelled as the configuration applied, and no objective judges it
    assert reached == ["detection"]
    detection = measurements(tracker, Objectives(detection_seconds=10), 0.5)["detection"]
    assert detection["kind"] == "configuration-applied"
    assert detection["passed"] is None
    assert detection["seconds"] == 0.2


def test_a_check_whose_checkers_fail_is_a_measured_detection():
    tracker = MilestoneTracker(t_inject=100.0, hold_samples=2)
    tracker.feed(reading(99.0, inverted=False, ok=True))
    tracker.feed(reading(101.0, inverted=False, ok=False))
    detection = measurements(tracker, Objectives(detection_seconds=10), 0.5)["detection"]
    assert detection["kind"] == "measured"
    assert detection["passed"] is True
