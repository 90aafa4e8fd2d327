"""Route 53's rule: healthy while more than 18% of checkers report healthy; Inverted flips it."""

from __future__ import annotations

import pytest

from drillkit.probes.health_check import evaluate


def observations(successes: int, total: int) -> list[dict]:
    return [
        {"StatusReport": {"Status": "Success: HTTP Status Code 200, OK" if i < successes else "Failure: HTTP Status Code 503"}}
        for i in range(total)
    ]


@pytest.mark.parametrize(
    ("successes", "total", "healthy"),
    [(8, 8, True), (2, 8, True), (1, 8, False), (0, 8, False), (3, 16, True), (2, 16, False)],
)
def test_eighteen_percent_rule(successes, total, healthy):
    assert evaluate(observations(successes, total), inverted=False, disabled=False)[0] is healthy


def test_inverted_turns_a_healthy_endpoint_unhealthy_and_back():
    assert evaluate(observations(8, 8), inverted=True, disabled=False)[0] is False
    assert evaluate(observations(0, 8), inverted=True, disabled=False)[0] is True


def test_disabled_check_is_healthy_unless_inverted():
    assert evaluate(observations(0, 8), inverted=False, disabled=True)[0] is True
    assert evaluate(observations(0, 8), inverted=True, disabled=True)[0] is False
