"""When a game-day schedule fires next, from its EventBridge Scheduler expression; bad expressions named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drillkit.gameday.schedule import ScheduleInvalid, next_run, validate_expression

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("expression", "timezone", "expected"),
    [
        ("cron(0 10 ? * SAT *)", "UTC", datetime(2026, 12, 5, 10, 0, tzinfo=UTC)),
        ("cron(0 10 ? * 7 *)", "UTC", datetime(2026, 12, 5, 10, 0, tzinfo=UTC)),  # 7 = SAT
        ("cron(30 7 ? * MON-FRI *)", "UTC", datetime(2026, 12, 3, 7, 30, tzinfo=UTC)),  # today's 07:30 has passed
        ("cron(0/15 * * * ? *)", "UTC", datetime(2026, 12, 2, 8, 15, tzinfo=UTC)),
        ("cron(0 9 1 JAN ? *)", "UTC", datetime(2027, 1, 1, 9, 0, tzinfo=UTC)),
        ("cron(0 10 ? * SAT *)", "Europe/Berlin", datetime(2026, 12, 5, 9, 0, tzinfo=UTC)),
        ("cron(0 10 ? * SAT 2025)", "UTC", None),  # only in the past
        ("cron(0 10 L * ? *)", "UTC", None),  # L: not computed
        ("at(2026-12-02T08:00:30)", "UTC", datetime(2026, 12, 2, 8, 0, 30, tzinfo=UTC)),
        ("at(2026-12-01T08:00:00)", "UTC", None),
        ("rate(7 days)", "UTC", None),
    ],
)
def test_next_run(expression, timezone, expected):
    assert next_run(expression, timezone, NOW) == expected


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("cron(0 10 * * SAT *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 10 ? * SAT)", "6 fields"),
        ("cron(61 10 ? * SAT *)", "from 0 to 59"),
        ("cron(0 10 ? * FUNDAY *)", "not a number or a name"),
        ("every saturday", "give cron(...), rate(N unit) or at("),
    ],
)
def test_bad_expressions_are_refused_saying_why(expression, says):
    with pytest.raises(ScheduleInvalid) as raised:
        validate_expression(expression)
    assert says in str(raised.value)
