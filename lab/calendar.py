"""SSM Change Calendars in the lab: TEXT (iCalendar) documents and GetCalendarState, which moto lacks.

A change calendar is an SSM document of type ChangeCalendar whose content is iCalendar text: the calendar's
default state (X-CALENDAR-TYPE: DEFAULT_OPEN or DEFAULT_CLOSED) and events during which the state is the
opposite. GetCalendarState answers CLOSED when any named calendar is closed at the time asked (now by
default), and when the state changes next, as AWS does.
"""

from __future__ import annotations

import json
import re
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


def install_text_documents() -> None:
    """CreateDocument accepts DocumentFormat TEXT, as AWS does for change calendars (moto knows JSON and YAML only)."""
    import moto.ssm.models as ssm_models

    if getattr(ssm_models._validate_document_format, "_lab", False):
        return
    original = ssm_models._validate_document_format

    def validate(document_format: str) -> None:
        if document_format != "TEXT":
            original(document_format)

    validate._lab = True  # type: ignore[attr-defined]
    ssm_models._validate_document_format = validate


def get_calendar_state(account: str, region: str, request: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    from moto.ssm.models import ssm_backends

    backend = ssm_backends[account][region]
    at = datetime.fromisoformat(request["AtTime"].replace("Z", "+00:00")) if request.get("AtTime") else now or datetime.now(UTC)
    states, transitions = [], []
    for name in request.get("CalendarNames") or []:
        plain = name.split(":document/")[-1]
        if plain not in backend._documents:
            raise CalendarNotFound(f"Calendar {name} does not exist.")
        document = backend.get_document(plain, None, None, None)
        if document.get("DocumentType") != "ChangeCalendar":
            raise CalendarNotFound(f"Document {name} is not a ChangeCalendar.")
        state, transition = state_of(document["Content"], at)
        states.append(state)
        if transition is not None:
            transitions.append(transition)
    answer = {"State": "CLOSED" if "CLOSED" in states else "OPEN", "AtTime": _iso(at)}
    if transitions:
        answer["NextTransitionTime"] = _iso(min(transitions))
    return answer


def answer(account: str, region: str, body: bytes) -> tuple[str, dict[str, Any], str | None]:
    """(HTTP status, JSON body, error type) for a GetCalendarState request."""
    try:
        return "200 OK", get_calendar_state(account, region, json.loads(body or b"{}")), None
    except CalendarNotFound as error:
        return "400 Bad Request", {"__type": "InvalidDocument", "message": str(error)}, "InvalidDocument"
