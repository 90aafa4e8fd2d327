"""Milestones, uncertainty windows and verdicts from probe readings."""

from __future__ import annotations

import pytest

from drillkit.measure import (
    HealthRule,
    MilestoneTracker,
    measurements,
    rpo,
    rpo_measurement,
    rpo_not_applicable,
    rpo_not_applicable_because,
    verdict,
)
from drillkit.readings import DnsClientReading, DnsReading, HealthCheckReading, HeartbeatReading, HttpReading, SurvivingHeartbeat
from drillkit.spec import Objectives, Scenario, parse_scenario

T0 = 1000.0


def readings(t, healthy=True, dns="primary", http="primary", ok=True, client=None):
    return [
        HealthCheckReading(t=t, healthy=healthy),
        DnsReading(t=t + 0.001, side=dns),
        DnsClientReading(t=t + 0.0015, side=client or dns),
        HttpReading(t=t + 0.002, side=http, ok=ok),
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
    assert measured["detection"] == {
        "seconds": 2.0,
        "uncertainty_seconds": 1.0,
        "target_seconds": 5,
        "passed": True,
        "kind": "measured",
    }
    assert measured["dns_cutover"]["passed"] is False
    assert measured["recovery"]["seconds"] == pytest.approx(40.002)
    assert measured["recovery"]["passed"] is False
    assert verdict(measured, restore_verified=True, error=False) == "FAIL"


def test_unreached_milestone_without_target_is_not_judged():
    tracker = MilestoneTracker(t_inject=T0, hold_samples=1)
    measured = measurements(tracker, Objectives(), 1.0)
    assert measured["recovery"] == {
        "seconds": None,
        "uncertainty_seconds": 1.0,
        "target_seconds": None,
        "passed": None,
        "kind": "measured",
    }


@pytest.mark.parametrize(
    ("passed", "restored", "error", "expected"),
    [(True, True, False, "PASS"), (True, False, False, "FAIL"), (False, True, False, "FAIL"), (True, True, True, "ERROR")],
)
def test_verdict(passed, restored, error, expected):
    measured = {"recovery": {"passed": passed}}
    assert verdict(measured, restore_verified=restored, error=error) == expected


# -- Route 53's rule, replayed from GetHealthCheckStatus readings -----------------------------
def check_reading(t, results, interval=1, threshold=3, inverted=False):
    """One health-check sample: checker i observed results[i] at t - i * 0.01."""
    observations = [(f"c{i}", t - i * 0.01, ok) for i, ok in enumerate(results)]
    return HealthCheckReading(
        t=t,
        healthy=True,
        interval=interval,
        failure_threshold=threshold,
        inverted=inverted,
        disabled=False,
        observations=observations,
    )


def test_a_checker_turns_unhealthy_only_after_threshold_failures_in_a_row():
    rule = HealthRule()
    assert rule.feed(check_reading(0, [True] * 8)) is True
    assert rule.feed(check_reading(1, [False] * 8)) is True  # one failure: every checker still says healthy
    assert rule.feed(check_reading(2, [False] * 8)) is True
    assert rule.feed(check_reading(3, [False] * 8)) is False  # third in a row


def test_the_endpoint_stays_healthy_while_more_than_18_percent_of_checkers_do():
    rule = HealthRule()
    rule.feed(check_reading(0, [True] * 8))
    for t in (1, 2, 3):
        healthy = rule.feed(check_reading(t, [False] * 6 + [True] * 2))
    assert healthy is True  # 2 of 8 = 25% > 18%
    for t in (4, 5, 6):
        healthy = rule.feed(check_reading(t, [False] * 7 + [True]))
    assert healthy is False  # 1 of 8 = 12.5%


def test_inverted_flips_the_verdict_at_once():
    rule = HealthRule()
    assert rule.feed(check_reading(0, [True] * 8, inverted=True)) is False


def test_observations_missed_after_the_fault_count_as_failures_but_not_those_before_it():
    # Readings at 0 (all ok), then a pause until 3.0 (a state transition); the fault came at 1.5.
    rule = HealthRule()
    rule.feed(check_reading(0, [True] * 8), fault_since=1.5)
    # Seen at 3.0: failing. Unseen observations at ~1, ~2: only ~2 is after the fault -> 2 in a row.
    assert rule.feed(check_reading(3, [False] * 8), fault_since=1.5) is True
    assert rule.feed(check_reading(4, [False] * 8), fault_since=1.5) is False


def test_repeated_readings_of_the_same_observation_count_once():
    rule = HealthRule()
    rule.feed(check_reading(0, [True] * 8))
    for _ in range(5):
        healthy = rule.feed(check_reading(1, [False] * 8))
    assert healthy is True


# -- RPO from the heartbeat canary ------------------------------------------------------------
def beats(times, ok=True):
    return [HeartbeatReading(t=t, ok=ok) for t in times]


def test_rpo_is_the_gap_between_the_last_acknowledged_heartbeat_and_the_newest_surviving_one():
    heartbeats = beats([1, 2, 3, 4]) + beats([5, 6], ok=False)
    window = rpo(
        heartbeats,
        SurvivingHeartbeat.model_validate({"t": 20, "written_at": 2, "cluster_arn": "standby", "why": "writer"}),
        t_inject=4.5,
    )
    assert window["seconds"] == 2  # 4 acknowledged, 2 is the newest that survived
    assert window["last_acknowledged_at"] == 4 and window["first_failed_write_at"] == 5


def test_the_rpo_uncertainty_is_the_heartbeat_gap_in_which_the_failure_came_never_less_than_the_interval():
    survived = SurvivingHeartbeat.model_validate({"t": 20, "written_at": 2, "cluster_arn": "standby", "why": "writer"})
    on_time = rpo(beats([1, 2, 3, 4]) + beats([5], ok=False), survived, t_inject=4.5)
    assert rpo_measurement(on_time, 5.0, interval=1.0)["uncertainty_seconds"] == 1.0
    # Sampling paused 3.5 s after the last acknowledged heartbeat: the writer may have failed anywhere in that gap.
    paused = rpo(beats([1, 2, 3, 4]) + beats([7.5], ok=False), survived, t_inject=4.5)
    assert rpo_measurement(paused, 5.0, interval=1.0)["uncertainty_seconds"] == 3.5


def test_rpo_is_zero_when_everything_acknowledged_survived():
    window = rpo(
        beats([1, 2, 3]),
        SurvivingHeartbeat.model_validate({"t": 3.5, "written_at": 3, "cluster_arn": "primary", "why": "writer"}),
        t_inject=2.5,
    )
    assert window["seconds"] == 0


def test_rpo_when_nothing_survived_spans_everything_written_and_says_so():
    window = rpo(
        beats([1, 2, 3]),
        SurvivingHeartbeat.model_validate({"t": 9, "written_at": None, "cluster_arn": "standby", "why": "standby"}),
        t_inject=2.5,
    )
    assert window["seconds"] == 2 and window["nothing_survived"] is True


def test_rpo_is_not_measured_when_the_surviving_store_could_not_be_read():
    window = rpo(
        beats([1, 2]), SurvivingHeartbeat.model_validate({"t": 9, "error": "AccessDenied", "written_at": None}), t_inject=1.5
    )
    assert window["seconds"] is None


def test_a_failure_that_completes_late_by_a_timeout_is_not_mistaken_for_a_missed_observation():
    rule = HealthRule()
    rule.feed(check_reading(2.0, [True] * 8), fault_since=2.5)
    # The next check starts at 3.0 and times out at 3.8: a gap of 1.8 intervals, nothing unseen.
    assert rule.feed(check_reading(3.8, [False] * 8), fault_since=2.5) is True
    assert rule.feed(check_reading(4.8, [False] * 8), fault_since=2.5) is True
    assert rule.feed(check_reading(5.8, [False] * 8), fault_since=2.5) is False  # the third failure in a row


# -- RPO applies where the fault moves the heartbeat's writer ---------------------------------------
def scenario_with(fault: dict) -> Scenario:
    return parse_scenario(
        {
            "name": "rpo-applicability",
            "target": {"hosted_zone": "example.com.", "record_name": "app.example.com."},
            "fault": fault,
            "data": {
                "heartbeat": {
                    "primary_cluster_arn": "arn:aws:rds:us-east-1:123456789012:cluster:app-primary",
                    "standby_cluster_arn": "arn:aws:rds:us-west-2:123456789012:cluster:app-standby",
                    "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:hb",
                }
            },
        }
    )


PRIMARY_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:app-primary"


@pytest.mark.parametrize(
    ("fault", "resource_id"),
    [
        ({"type": "stop-cluster", "method": "global-failover", "cluster": PRIMARY_ARN}, PRIMARY_ARN),
        ({"type": "stop-cluster", "method": "global-switchover", "cluster": "app-primary", "region": "us-east-1"}, PRIMARY_ARN),
        ({"type": "stop-cluster", "method": "stop", "cluster": "app-primary", "region": "us-east-1"}, PRIMARY_ARN),
    ],
)
def test_rpo_is_judged_when_the_fault_moves_or_takes_away_the_heartbeats_writer(fault, resource_id):
    assert rpo_not_applicable_because(scenario_with(fault), resource_id) is None


@pytest.mark.parametrize(
    ("fault", "resource_id", "reason"),
    [
        ({"type": "health-check-inversion"}, "hc-1", "the health-check-inversion fault does not move the database writer"),
        ({"type": "fail-targets", "method": "deregister", "load_balancer": "alb", "region": "us-east-1"}, "tg", "fail-targets"),
        ({"type": "block-primary-alb", "load_balancer": "alb", "region": "us-east-1"}, "alb", "block-primary-alb"),
        (
            {"type": "stop-cluster", "method": "global-failover", "cluster": "arn:aws:rds:us-east-1:123456789012:cluster:other"},
            "arn:aws:rds:us-east-1:123456789012:cluster:other",
            "acts on cluster other, not on the heartbeat's writer app-primary",
        ),
    ],
)
def test_rpo_is_not_applicable_when_the_heartbeats_writer_stays(fault, resource_id, reason):
    assert reason in (rpo_not_applicable_because(scenario_with(fault), resource_id) or "")


def test_a_not_applicable_rpo_is_never_judged_whatever_the_canary_read():
    window = {"seconds": 0.0, "serving_store": PRIMARY_ARN}
    measured = rpo_not_applicable(window, target=1.0, interval=0.5, reason="no writer moved")
    assert (measured["seconds"], measured["passed"], measured["kind"]) == (None, None, "not_applicable")
    assert verdict({"rpo": measured}, restore_verified=True, error=False) == "PASS"
