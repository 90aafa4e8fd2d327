"""SSM Change Calendars in the lab: TEXT (iCalendar) documents and GetCalendarState, which moto lacks.

A change calendar is an SSM document of type ChangeCalendar whose content is iCalendar text: the calendar's
default state (X-CALENDAR-TYPE: DEFAULT_OPEN or DEFAULT_CLOSED) and events during which the state is the
opposite. GetCalendarState answers CLOSED when any named calendar is closed at the time asked (now by
default), and when the state changes next, as AWS does.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from typing import Any

CALENDAR_TYPE = re.compile(r"^X-CALENDAR-TYPE:(DEFAULT_OPEN|DEFAULT_CLOSED)\s*$", re.MULTILINE)
EVENT = re.compile(r"BEGIN:VEVENT(.*?)END:VEVENT", re.DOTALL)
WHEN = re.compile(r"^(DTSTART|DTEND)[^:\n]*:(\d{8}T\d{6}Z)\s*$", re.MULTILINE)


class CalendarNotFound(Exception):
    pass


def _moment(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def state_of(content: str, at: datetime) -> tuple[str, datetime | None]:
    """(OPEN or CLOSED at `at`, the next transition after it) for one calendar's iCalendar text."""
    kind = CALENDAR_TYPE.search(content)
    default_open = kind is None or kind.group(1) == "DEFAULT_OPEN"
    inside = False
    transitions = []
    for event in EVENT.findall(content):
        times = dict(WHEN.findall(event))
        if "DTSTART" not in times or "DTEND" not in times:
            continue
        start, end = _moment(times["DTSTART"]), _moment(times["DTEND"])
        inside = inside or start <= at < end
        transitions += [t for t in (start, end) if t > at]
    is_open = default_open != inside
    return ("OPEN" if is_open else "CLOSED"), min(transitions, default=None)


class ChangeCalendars:
    """The lab's change calendars: moto stores SSM documents only in JSON or YAML, a calendar is iCalendar TEXT.

    CreateDocument of type ChangeCalendar (format TEXT) is kept here; every other document goes to moto.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calendars: dict[tuple[str, str], str] = {}  # (region, name) -> iCalendar text

    def create(self, region: str, request: dict[str, Any]) -> tuple[str, dict[str, Any], str | None]:
        name = str(request.get("Name", ""))
        if not re.match(r"^[a-zA-Z0-9_.-]{3,128}$", name):
            return (
                "400 Bad Request",
                {"__type": "ValidationException", "message": f"Name {name!r} is invalid"},
                "ValidationException",
            )
        with self._lock:
            if (region, name) in self._calendars:
                message = "The specified document already exists."
                return "400 Bad Request", {"__type": "DocumentAlreadyExists", "message": message}, "DocumentAlreadyExists"
            self._calendars[(region, name)] = str(request.get("Content", ""))
        description = {
            "Name": name,
            "DocumentType": "ChangeCalendar",
            "DocumentFormat": "TEXT",
            "DocumentVersion": "1",
            "LatestVersion": "1",
            "DefaultVersion": "1",
            "Status": "Active",
            "CreatedDate": datetime.now(UTC).timestamp(),
        }
        return "200 OK", {"DocumentDescription": description}, None

    def state(self, region: str, request: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
        at = (
            datetime.fromisoformat(request["AtTime"].replace("Z", "+00:00"))
            if request.get("AtTime")
            else now or datetime.now(UTC)
        )
        states, transitions = [], []
        for name in request.get("CalendarNames") or []:
            content = self._calendars.get((region, name.split(":document/")[-1]))
            if content is None:
                raise CalendarNotFound(f"Calendar {name} does not exist.")
            state, transition = state_of(content, at)
            states.append(state)
            if transition is not None:
                transitions.append(transition)
        answer = {"State": "CLOSED" if "CLOSED" in states else "OPEN", "AtTime": _iso(at)}
        if transitions:
            answer["NextTransitionTime"] = _iso(min(transitions))
        return answer

    def answer(self, region: str, body: bytes) -> tuple[str, dict[str, Any], str | None]:
        """(HTTP status, JSON body, error type) for a GetCalendarState request."""
        try:
            return "200 OK", self.state(region, json.loads(body or b"{}")), None
        except CalendarNotFound as error:
            return "400 Bad Request", {"__type": "InvalidDocument", "message": str(error)}, "InvalidDocument"
