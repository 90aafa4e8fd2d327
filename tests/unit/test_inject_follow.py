"""When Inject stops following the fault: the observation's own rule, read on the readings Inject has so far."""

from __future__ import annotations

from drillkit import drill
from drillkit.measure import MilestoneTracker
from drillkit.model import Injection
from drillkit.readings import AlarmsReading, HealthCheckReading, Reading

from ..reports import T_INJECT, drill_context, samples_after_injection

INJECTION = Injection(fault="health-check-inversion", resource_id="hc-1", undo_seq=1, t_before=T_INJECT - 0.1, t_inject=T_INJECT)


def by_second(readings: list[Reading]) -> list[list[Reading]]:
    seconds: dict[float, list[Reading]] = {}
    for r in readings:
        seconds.setdefault(r.t, []).append(r)
    return [seconds[t] for t in sorted(seconds)]


def test_inject_stops_following_when_observe_would_find_every_milestone_reached(scenario_dict):
    # Given a drill whose readings reach detection at 1 s, DNS cutover at 2 s and recovery at 3 s (held 2 readings)
    context = drill_context(scenario_dict)
    steady = [HealthCheckReading(t=T_INJECT - 2 + i * 0.5, healthy=True) for i in range(4)]
    batches = by_second(samples_after_injection(detection=1, dns=2, recovery=3))
    observed = drill._observation_complete(context, INJECTION, [*steady, *batches[0]])
    tracker = MilestoneTracker(t_inject=T_INJECT, t_before_inject=INJECTION.t_before, hold_samples=2)
    for r in [*steady, *batches[0]]:
        tracker.feed(r)
    # When Inject feeds each further sample to it
    answers = []
    for batch in batches[1:8]:
        answers.append(observed(batch))
        for r in batch:
            tracker.feed(r)
        # Then it says the observation is over exactly when Observe's tracker, fed the same readings, is complete
        assert answers[-1] == tracker.complete
    assert answers == [False, False, False, True, True, True, True]  # recovery held from 3 s: complete at 4 s


def test_a_stop_condition_ends_following_at_once(scenario_dict):
    scenario_dict["stop_conditions"] = [{"name": "error-budget", "region": "us-east-1"}]
    context = drill_context(scenario_dict)
    observed = drill._observation_complete(context, INJECTION, [])
    assert observed([AlarmsReading(t=T_INJECT - 0.5, stop_in_alarm=["us-east-1/error-budget"])]) is False  # before the fault
    assert observed([AlarmsReading(t=T_INJECT + 0.5, stop_in_alarm=["us-east-1/error-budget"])]) is True
