"""Game-day schedules: EventBridge Scheduler schedules that start the game-day machine with a plan as input.

Nothing in drillkit schedules by itself: a schedule is EventBridge Scheduler's, its target the game-day machine,
its input the machine's input without a game-day id (each run is named from its execution). ``next_run`` says when
an at(...) or cron(...) expression comes next; ``next_fire`` says when a schedule invokes its target next, from all
that decides it as EventBridge Scheduler documents it (docs/lab.md cites the pages): its state (DISABLED never
fires), its time zone, StartDate and EndDate (ignored by one-time schedules), and for rate(...) the fixed rate
counted from StartDate, or from when the schedule took its present form when it has none (it starts at once).
A FLEXIBLE time window delays each invocation by up to its width after that time; the lab draws the delay.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drillkit import aws
from drillkit.errors import AwsCallFailed, ScheduleInvalid
from drillkit.gameday.plan import GameDayPlan
from drillkit.spec import Network

NAME_PATTERN = re.compile(r"^[0-9a-zA-Z-_.]{1,64}$")
DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
MONTH_NAMES = {
    m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)
}


RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleTiming(BaseModel):
    """What decides when a schedule invokes its target, as GetSchedule answers it (times in UTC)."""

    model_config = ConfigDict(frozen=True)
    expression: str
    timezone: str = "UTC"
    enabled: bool = True
    start_date: datetime | None = None
    end_date: datetime | None = None
    since: datetime = Field(description="When the schedule took its present form: its last change, else its creation")
    flexible_minutes: int = Field(default=0, ge=0, le=1440, description="0 when FlexibleTimeWindow is OFF")

    @field_validator("start_date", "end_date", "since")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @classmethod
    def of(cls, detail: dict[str, Any]) -> ScheduleTiming:
        """From a GetSchedule answer."""
        window = detail.get("FlexibleTimeWindow") or {}
        return cls(
            expression=detail["ScheduleExpression"],
            timezone=detail.get("ScheduleExpressionTimezone") or "UTC",
            enabled=detail.get("State", "ENABLED") == "ENABLED",
            start_date=detail.get("StartDate"),
            end_date=detail.get("EndDate"),
            since=detail.get("LastModificationDate") or detail["CreationDate"],
            flexible_minutes=int(window.get("MaximumWindowInMinutes") or 0) if window.get("Mode") == "FLEXIBLE" else 0,
        )


def rate_period(expression: str) -> timedelta | None:
    """The fixed rate of a rate(...) expression; None for any other expression."""
    match = RATE.fullmatch(expression)
    if not match:
        return None
    return timedelta(seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2).rstrip("s")])


def next_fire(timing: ScheduleTiming, after: datetime) -> datetime | None:
    """When the schedule invokes its target next, strictly after `after` (UTC); None when it never will again.

    The time is the scheduled one: a FLEXIBLE window may add up to its width to it.
    """
    if not timing.enabled:
        return None
    if timing.expression.startswith("at("):
        return next_run(timing.expression, timing.timezone, after)  # one-time: StartDate and EndDate do not apply
    period = rate_period(timing.expression)
    moment: datetime | None
    if period is not None:
        anchor = timing.start_date or timing.since
        moment = anchor if after < anchor else anchor + period * ((after - anchor) // period + 1)
    else:
        earliest = after if timing.start_date is None else max(after, timing.start_date - timedelta(microseconds=1))
        moment = next_run(timing.expression, timing.timezone, earliest)
    if moment is None or (timing.end_date is not None and moment >= timing.end_date):
        return None
    return moment


def next_of(scheduler: Any, name: str, now: datetime) -> datetime | None:
    """When the named schedule invokes its target next, from what Scheduler answers for it now."""
    detail = _schedule(scheduler, name)
    if detail is None:
        return None
    timing = ScheduleTiming.of(detail)
    # A rate schedule without StartDate invokes its target at once: its first run may be now itself.
    return next_fire(timing, min(now, timing.since - timedelta(microseconds=1)))


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values one cron field allows; None for what this reader does not evaluate (L, W, #)."""
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        if any(mark in part for mark in ("L", "W", "#")) and not (names and part.upper() in names):
            return None
        step, stepped = 1, "/" in part
        if stepped:
            part, step_text = part.split("/", 1)
            step = _number(step_text, None)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _number(first, names), _number(last, names)
        else:
            start = _number(part, names)
            end = high if stepped else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ScheduleInvalid(f"cron field {text!r}: values run from {low} to {high}")
        values.update(range(start, end + 1, step))
    return values


def _number(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleInvalid(f"cron value {text!r} is not a number{' or a name' if names else ''}")
    return int(text)


def validate_expression(expression: str) -> str:
    if match := re.fullmatch(r"cron\((.+)\)", expression):
        fields = match.group(1).split()
        if len(fields) != 6:
            raise ScheduleInvalid(f"{expression}: cron(...) takes 6 fields (minutes hours day-of-month month day-of-week year)")
        if (fields[2] == "?") == (fields[4] == "?"):
            raise ScheduleInvalid(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
        next_run(expression, "UTC", datetime(2000, 1, 1, tzinfo=UTC))  # raises on a bad field
        return expression
    if match := RATE.fullmatch(expression):
        if int(match.group(1)) < 1:
            raise ScheduleInvalid(f"{expression}: the rate's value must be a positive number")
        return expression
    if re.fullmatch(r"at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)", expression):
        return expression
    raise ScheduleInvalid(f"--cron {expression!r}: give cron(...), rate(N unit) or at(yyyy-mm-ddThh:mm:ss)")


def next_run(expression: str, timezone: str, now: datetime) -> datetime | None:
    """When the schedule fires next after `now` (UTC), or None when it never will or this reader cannot say."""
    zone = ZoneInfo(timezone)
    if match := re.fullmatch(r"at\((.+)\)", expression):
        moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)
        return moment.astimezone(UTC) if moment > now else None
    match = re.fullmatch(r"cron\((.+)\)", expression)
    if not match:
        return None
    minute, hour, dom, month, dow, year = match.group(1).split()
    fields = (
        _field(minute, 0, 59),
        _field(hour, 0, 23),
        _field(dom, 1, 31),
        _field(month, 1, 12, MONTH_NAMES),
        _field(dow, 1, 7, DAY_NAMES),
        _field(year, 1970, 2199),
    )
    if any(f is None for f in fields):
        return None
    minutes, hours, days, months, weekdays, years = (sorted(f or ()) for f in fields)
    local = now.astimezone(zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(366 * 5):
        weekday = (day.weekday() + 1) % 7 + 1  # Monday=0 in Python; SUN=1 .. SAT=7 in cron
        if day.year in years and day.month in months and (day.day in days if dow == "?" else weekday in weekdays):
            for h in hours:
                for m in minutes:
                    moment = day.replace(hour=h, minute=m)
                    instant = moment.astimezone(UTC)
                    # A wall time the spring-forward skips does not run; one the fall-back repeats runs once (the first).
                    if instant.astimezone(zone).replace(tzinfo=None) == moment.replace(tzinfo=None) and instant > now:
                        return instant
        day = (day + timedelta(days=1)).replace(hour=0, minute=0)
    return None


def schedule_input(plan: GameDayPlan, name: str, network: Network | None = None) -> str:
    """The game-day machine's input a schedule sends: the resolved plan, who asked (the schedule), no game-day id."""
    document: dict[str, Any] = {"requested_by": f"schedule {name}", "schedule": name, "plan": plan.model_dump(mode="json")}
    if network is not None:
        document["network"] = network.model_dump(mode="json")
    return json.dumps(document)


def put(
    scheduler: Any,
    name: str,
    expression: str,
    timezone: str,
    machine_arn: str,
    role_arn: str,
    document: str,
    enabled: bool = True,
) -> str:
    """Create the named schedule, or update it: returns "created" or "updated"."""
    if not NAME_PATTERN.match(name):
        raise ScheduleInvalid(f"--name {name!r}: 1 to 64 letters, digits, '-', '_' or '.'")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleInvalid(f"--timezone {timezone!r} is not an IANA time zone") from None
    arguments = {
        "Name": name,
        "ScheduleExpression": validate_expression(expression),
        "ScheduleExpressionTimezone": timezone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED" if enabled else "DISABLED",
        "Description": "drillkit game-day",
        "Target": {
            "Arn": machine_arn,
            "RoleArn": role_arn,
            "Input": document,
            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
        },
    }
    if _schedule(scheduler, name) is None:
        with aws.aws_call("CreateSchedule", name):
            scheduler.create_schedule(**arguments)
        return "created"
    with aws.aws_call("UpdateSchedule", name):
        scheduler.update_schedule(**arguments)
    return "updated"


def _schedule(scheduler: Any, name: str, group: str | None = None) -> dict[str, Any] | None:
    """GetSchedule (in the default group unless named), or None when there is no schedule of that name."""
    try:
        with aws.aws_call("GetSchedule", name):
            return dict(scheduler.get_schedule(Name=name, **({"GroupName": group} if group else {})))
    except AwsCallFailed as error:
        if error.code == "ResourceNotFoundException":
            return None
        raise


def listed(scheduler: Any, machine_arn: str, now: datetime) -> list[dict[str, Any]]:
    """Every schedule whose target is this game-day machine, with its next run."""
    found = []
    with aws.aws_call("ListSchedules", machine_arn):
        pages = list(scheduler.get_paginator("list_schedules").paginate())
    for page in pages:
        for item in page.get("Schedules", []):
            if item.get("Target", {}).get("Arn") != machine_arn:
                continue
            detail = _schedule(scheduler, item["Name"], item.get("GroupName", "default"))
            if detail is None:
                continue  # deleted since it was listed
            timezone = detail.get("ScheduleExpressionTimezone") or "UTC"
            upcoming = next_fire(ScheduleTiming.of(detail), now)
            plan = json.loads(detail["Target"].get("Input") or "{}").get("plan") or {}
            found.append(
                {
                    "name": detail["Name"],
                    "state": detail["State"],
                    "expression": detail["ScheduleExpression"],
                    "timezone": timezone,
                    "plan": plan.get("name"),
                    "drills": len(plan.get("drills") or []),
                    "next_run": upcoming,
                }
            )
    return sorted(found, key=lambda s: s["name"])


def set_state(scheduler: Any, name: str, enabled: bool) -> None:
    """Pause (DISABLED) or resume (ENABLED) a schedule, keeping everything else as it is."""
    detail = _schedule(scheduler, name)
    if detail is None:
        raise ScheduleInvalid(f"NAME: no schedule {name}")
    # UpdateSchedule sets whatever it is not given back to its default: keep every field that is not the state.
    keep = (
        "ScheduleExpression",
        "ScheduleExpressionTimezone",
        "FlexibleTimeWindow",
        "Target",
        "Description",
        "GroupName",
        "StartDate",
        "EndDate",
        "KmsKeyArn",
        "ActionAfterCompletion",
    )
    with aws.aws_call("UpdateSchedule", name):
        scheduler.update_schedule(
            Name=name, State="ENABLED" if enabled else "DISABLED", **{k: detail[k] for k in keep if detail.get(k) is not None}
        )
