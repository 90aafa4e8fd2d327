"""SSM Change Calendar: a game-day plan or a scenario may name one; while it is CLOSED nothing starts.

Read in the account and region drillkit runs in (the calendar is the organisation's change process, not the
target stack's), with ssm:GetCalendarState only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from drillkit import aws
from drillkit.errors import ChangeFreeze


class CalendarState(BaseModel):
    """What GetCalendarState answered for one calendar (times as SSM gives them, ISO 8601 UTC)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    state: Literal["OPEN", "CLOSED"]
    at_time: str | None = None
    next_transition_time: str | None = None


def calendar_state(name: str) -> CalendarState:
    """GetCalendarState: OPEN or CLOSED now, and when it changes next."""
    with aws.aws_call("GetCalendarState", name):
        answer = aws.client("ssm").get_calendar_state(CalendarNames=[name])
    return CalendarState(
        name=name, state=answer["State"], at_time=answer.get("AtTime"), next_transition_time=answer.get("NextTransitionTime")
    )


def refuse_if_closed(name: str, what: str) -> CalendarState:
    """The calendar's state when it is OPEN; ChangeFreeze naming it (and when it opens again) when it is CLOSED."""
    state = calendar_state(name)
    if state.state == "CLOSED":
        reopens = f"; it opens again at {state.next_transition_time}" if state.next_transition_time else ""
        raise ChangeFreeze(f"change_calendar {name} is CLOSED (a change freeze): {what} refuses to start{reopens}")
    return state
