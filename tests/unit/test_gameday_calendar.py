"""The lab's change calendar: OPEN or CLOSED from an iCalendar document's default and its events, as AWS answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drillkit_lab.change_calendar import state_of

FREEZE = """BEGIN:VCALENDAR
X-CALENDAR-TYPE:DEFAULT_OPEN
BEGIN:VEVENT
SUMMARY:release freeze
DTSTART:20261201T000000Z
DTEND:20261203T000000Z
END:VEVENT
END:VCALENDAR
"""


@pytest.mark.parametrize(
    ("content", "at", "state", "next_transition"),
    [
        (FREEZE, datetime(2026, 12, 2, tzinfo=UTC), "CLOSED", datetime(2026, 12, 3, tzinfo=UTC)),
        (FREEZE, datetime(2026, 11, 30, tzinfo=UTC), "OPEN", datetime(2026, 12, 1, tzinfo=UTC)),
        (FREEZE, datetime(2026, 12, 3, tzinfo=UTC), "OPEN", None),  # the event's end is exclusive
        (
            FREEZE.replace("DEFAULT_OPEN", "DEFAULT_CLOSED"),
            datetime(2026, 12, 2, tzinfo=UTC),
            "OPEN",
            datetime(2026, 12, 3, tzinfo=UTC),
        ),
        (FREEZE.replace("DEFAULT_OPEN", "DEFAULT_CLOSED"), datetime(2026, 12, 5, tzinfo=UTC), "CLOSED", None),
    ],
)
def test_calendar_state_follows_default_and_events(content, at, state, next_transition):
    assert state_of(content, at) == (state, next_transition)
