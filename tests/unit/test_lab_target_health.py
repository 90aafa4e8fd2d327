"""The lab's ALB judges its targets as ELB documents: one passing check for a new target, thresholds after that."""

from __future__ import annotations

from drillkit_lab.physics.alb import TargetState

HEALTHY_AFTER, UNHEALTHY_AFTER = 5, 2


def checks(state: TargetState, *results: bool) -> list[bool | None]:
    verdicts = []
    for ok in results:
        state.observe(ok, HEALTHY_AFTER, UNHEALTHY_AFTER)
        verdicts.append(state.healthy)
    return verdicts


def test_a_newly_registered_target_is_healthy_after_its_first_passing_check_whatever_the_healthy_threshold():
    assert checks(TargetState(), True) == [True]


def test_an_unhealthy_target_comes_back_only_after_the_healthy_threshold_in_a_row():
    state = TargetState()
    assert checks(state, True, False, False) == [True, True, False]  # out after the unhealthy threshold
    assert checks(state, True, True, True, False, True, True, True, True, True) == [False] * 8 + [True]


def test_a_new_target_that_fails_stays_initial_until_the_unhealthy_threshold():
    assert checks(TargetState(), False, False) == [None, False]
