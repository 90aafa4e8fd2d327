"""When a game-day schedule fires next, as EventBridge Scheduler documents it, and the lab firing it; bad expressions named."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from drillkit.gameday.schedule import ScheduleInvalid, ScheduleTiming, next_fire, next_run, validate_expression
from drillkit_lab.extensions import LabExtensions
from drillkit_lab.schedules import ScheduleRunner

from ..loopback import eventually
from ..wsgi import signed

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


def timing(expression: str, since: datetime = NOW, **fields) -> ScheduleTiming:
    return ScheduleTiming(expression=expression, since=since, **fields)


MINUTE = timedelta(minutes=1)
DEC_10 = datetime(2026, 12, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        # rate(...) without StartDate starts at once (when it took its present form), then at the fixed rate
        (timing("rate(1 minute)"), NOW - timedelta(microseconds=1), NOW),
        (timing("rate(1 minute)"), NOW, NOW + MINUTE),
        (timing("rate(5 minutes)"), NOW + timedelta(minutes=12, seconds=30), NOW + timedelta(minutes=15)),
        (timing("rate(2 hours)"), NOW + timedelta(hours=2), NOW + timedelta(hours=4)),
        # with StartDate its runs count from there, and none comes before it
        (timing("rate(1 day)", start_date=NOW + timedelta(hours=3)), NOW, NOW + timedelta(hours=3)),
        (timing("rate(1 day)", start_date=NOW + timedelta(hours=3)), NOW + timedelta(days=1), NOW + timedelta(days=1, hours=3)),
        # none from EndDate on
        (timing("rate(1 minute)", end_date=NOW + timedelta(seconds=150)), NOW + 2 * MINUTE, None),
        (timing("rate(1 minute)", end_date=NOW + timedelta(seconds=150)), NOW + MINUTE, NOW + 2 * MINUTE),
        # cron(...) in its time zone, not before StartDate, not from EndDate on
        (timing("cron(0 10 ? * SAT *)", timezone="America/New_York"), NOW, datetime(2026, 12, 5, 15, 0, tzinfo=UTC)),
        (
            timing("cron(0 10 * * ? *)", start_date=datetime(2026, 12, 10, tzinfo=UTC)),
            NOW,
            datetime(2026, 12, 10, 10, tzinfo=UTC),
        ),
        (timing("cron(0 10 * * ? *)", end_date=datetime(2026, 12, 2, 10, tzinfo=UTC)), NOW, None),
        # daylight saving time (New York): 02:30 does not exist on 2027-03-14, so that day has no run; 01:30 happens
        # twice on 2026-11-01 and runs once
        (
            timing("cron(30 2 * * ? *)", timezone="America/New_York"),
            datetime(2027, 3, 13, 8, tzinfo=UTC),
            datetime(2027, 3, 15, 6, 30, tzinfo=UTC),
        ),
        (
            timing("cron(30 1 * * ? *)", timezone="America/New_York"),
            datetime(2026, 10, 31, 12, tzinfo=UTC),
            datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        ),
        (
            timing("cron(30 1 * * ? *)", timezone="America/New_York"),
            datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
            datetime(2026, 11, 2, 6, 30, tzinfo=UTC),
        ),
        # a rate in days is 24 hours, whatever the clock on the wall does
        (
            timing("rate(1 day)", timezone="America/New_York", since=datetime(2027, 3, 13, 12, tzinfo=UTC)),
            datetime(2027, 3, 13, 13, tzinfo=UTC),
            datetime(2027, 3, 14, 12, tzinfo=UTC),
        ),
        # a DISABLED schedule never fires
        (timing("rate(1 minute)", enabled=False), NOW, None),
        (timing("cron(0/15 * * * ? *)", enabled=False), NOW, None),
        # at(...) ignores StartDate and EndDate, as Scheduler does for one-time schedules
        (timing("at(2026-12-02T09:00:00)", end_date=NOW), NOW, datetime(2026, 12, 2, 9, 0, tzinfo=UTC)),
        (timing("at(2026-12-02T10:00:00)", timezone="Europe/Berlin"), NOW, datetime(2026, 12, 2, 9, 0, tzinfo=UTC)),
    ],
)
def test_next_fire(schedule, after, expected):
    assert next_fire(schedule, after) == expected


def test_timing_is_read_from_what_get_schedule_answers():
    # Given a GetSchedule answer (boto3 parses its dates; a FLEXIBLE window of 15 minutes)
    detail = {
        "ScheduleExpression": "rate(1 hour)",
        "ScheduleExpressionTimezone": "Europe/Berlin",
        "State": "DISABLED",
        "StartDate": datetime(2026, 12, 3, 9, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        "CreationDate": NOW - timedelta(days=1),
        "LastModificationDate": NOW,
        "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
    }
    # Then the timing is in UTC, counts from the last change, and keeps the window
    read = ScheduleTiming.of(detail)
    assert (read.enabled, read.since, read.flexible_minutes) == (False, NOW, 15)
    assert read.start_date == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert ScheduleTiming.of({**detail, "FlexibleTimeWindow": {"Mode": "OFF"}}).flexible_minutes == 0


def test_a_rate_of_zero_is_refused():
    with pytest.raises(ScheduleInvalid, match="positive number"):
        validate_expression("rate(0 minutes)")


class FakeScheduler:
    """ListSchedules, GetSchedule and UpdateSchedule of EventBridge Scheduler, in memory (dates are the frozen clock's)."""

    def __init__(self):
        self.schedules: dict[str, dict] = {}
        self.lists = 0  # ListSchedules calls: how often the runner looked

    def create(self, name: str, expression: str, state: str = "ENABLED", **extra) -> None:
        now = datetime.now(UTC)
        self.schedules[name] = {
            "Arn": f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{name}",
            "Name": name,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": extra.pop("timezone", "UTC"),
            "State": state,
            "FlexibleTimeWindow": extra.pop("window", {"Mode": "OFF"}),
            "Target": {"Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:gameday", "Input": json.dumps({"s": name})},
            "CreationDate": now,
            "LastModificationDate": now,
            **extra,
        }

    def set_state(self, name: str, state: str) -> None:
        self.schedules[name].update(State=state, LastModificationDate=datetime.now(UTC))

    def get_paginator(self, operation: str):
        assert operation == "list_schedules"
        self.lists += 1
        return self

    def paginate(self, State: str | None = None):  # noqa: N803 (boto3's parameter name)
        yield {"Schedules": [{"Name": d["Name"]} for d in self.schedules.values() if State in (None, d["State"])]}

    def get_schedule(self, Name: str, GroupName: str = "default"):  # noqa: N803
        return dict(self.schedules[Name])


class FakeStepFunctions:
    def __init__(self):
        self.started: list[tuple[datetime, str]] = []

    def start_execution(self, stateMachineArn: str, name: str, input: str):  # noqa: N803, A002
        self.started.append((datetime.now(UTC), json.loads(input)["s"]))


class FixedDraw(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) / 2  # the middle of the flexible window


@pytest.fixture
def runner():
    scheduler, sfn = FakeScheduler(), FakeStepFunctions()
    session = SimpleNamespace(client=lambda service: {"scheduler": scheduler, "stepfunctions": sfn}[service])
    with freeze_time(NOW) as frozen:
        yield ScheduleRunner(session, rng=FixedDraw()), scheduler, sfn, frozen


def run_for(runner_, frozen, seconds: int, step: float = 0.5) -> None:
    """Tick the runner as the lab's thread does, every `step` seconds of the frozen clock."""
    for _ in range(int(seconds / step)):
        frozen.tick(timedelta(seconds=step))
        runner_.tick(datetime.now(UTC))


def test_the_lab_fires_a_rate_schedule_at_once_then_at_its_rate_and_never_a_disabled_one(runner):
    lab, scheduler, sfn, frozen = runner
    # Given a rate(1 minute) schedule without StartDate, and a DISABLED one
    scheduler.create("every-minute", "rate(1 minute)")
    scheduler.create("paused", "rate(1 minute)", state="DISABLED")
    # When 150 seconds pass
    run_for(lab, frozen, 150)
    # Then it fired at once, then a minute later, then two: three times; the DISABLED one never
    assert [(t - NOW).total_seconds() for t, _ in sfn.started] == [0.5, 60.0, 120.0]
    assert {name for _, name in sfn.started} == {"every-minute"}


def test_a_schedule_enabled_again_does_not_make_up_the_runs_it_missed(runner):
    lab, scheduler, sfn, frozen = runner
    scheduler.create("hourly", "rate(1 hour)", StartDate=NOW + timedelta(seconds=10))
    run_for(lab, frozen, 20)
    assert len(sfn.started) == 1  # at its StartDate
    # When it is paused for three hours, then enabled again
    scheduler.set_state("hourly", "DISABLED")
    run_for(lab, frozen, 3 * 3600, step=60)
    assert len(sfn.started) == 1
    scheduler.set_state("hourly", "ENABLED")
    run_for(lab, frozen, 120)
    # Then it runs on at its rate from StartDate, without a burst of the three runs it missed
    assert len(sfn.started) == 1
    run_for(lab, frozen, 3600, step=10)
    assert [t.minute for t, _ in sfn.started] == [0, 0] and (sfn.started[1][0] - NOW) < timedelta(hours=4, minutes=1)


def test_end_date_stops_a_rate_schedule_and_a_flexible_window_delays_each_run(runner):
    lab, scheduler, sfn, frozen = runner
    scheduler.create("ending", "rate(1 minute)", EndDate=NOW + timedelta(seconds=90))
    scheduler.create("flexible", "cron(5 8 * * ? *)", window={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10})
    run_for(lab, frozen, 20 * 60, step=1)
    started = {name: [(t - NOW).total_seconds() for t, n in sfn.started if n == name] for name in ("ending", "flexible")}
    assert started["ending"] == [1.0, 60.0]  # none from EndDate (90 s) on
    assert started["flexible"] == [5 * 60 + 5 * 60]  # 08:05, plus the drawn half of its 10-minute window


def test_a_cron_schedule_fires_in_its_time_zone(runner):
    lab, scheduler, sfn, frozen = runner
    scheduler.create("berlin", "cron(10 9 * * ? *)", timezone="Europe/Berlin")  # 09:10 in Berlin is 08:10 UTC in December
    run_for(lab, frozen, 15 * 60, step=5)
    assert [t for t, _ in sfn.started] == [datetime(2026, 12, 2, 8, 10, tzinfo=UTC)]


def test_the_lab_looks_at_the_schedules_when_told_they_changed_and_wakes_by_itself_only_when_one_is_due():
    scheduler, sfn = FakeScheduler(), FakeStepFunctions()
    session = SimpleNamespace(client=lambda service: {"scheduler": scheduler, "stepfunctions": sfn}[service])
    runner_ = ScheduleRunner(session, rng=FixedDraw())
    runner_.start()
    try:
        # Given a lab with no schedule: after its first look it asks nothing more (it used to list them twice a second)
        assert eventually(lambda: scheduler.lists == 1, 2.0)
        time.sleep(1.2)
        assert scheduler.lists == 1
        # When a schedule starting in a second is created and the local cloud says a schedule changed
        start = datetime.now(UTC) + timedelta(seconds=1)
        scheduler.create("soon", "rate(1 hour)", StartDate=start)
        runner_.look_again()
        assert eventually(lambda: scheduler.lists == 2, 1.0)
        # Then its due time alone wakes the runner, which fires it then
        assert eventually(lambda: sfn.started, 3.0)
        assert abs((sfn.started[0][0] - start).total_seconds()) < 0.3
        assert scheduler.lists == 3
    finally:
        runner_.stop()


def _signed(method: str, path: str, service: str = "scheduler") -> dict:
    return signed(service, method, path, body=b"{}")


def test_a_change_of_schedule_through_the_local_cloud_wakes_the_runner_and_a_read_does_not():
    answered = []

    def moto(environ, start_response):
        answered.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    extensions = LabExtensions(moto, physics=None, runtime=None)
    woken = []
    extensions.watch(("scheduler",), lambda: woken.append(answered[-1]))
    calls = [
        _signed("GET", "/schedules"),  # ListSchedules: the runner's own look
        _signed("POST", "/schedules/nightly"),  # CreateSchedule
        _signed("GET", "/schedules/nightly"),  # GetSchedule
        _signed("PUT", "/schedules/nightly"),  # UpdateSchedule
        _signed("DELETE", "/schedules/nightly"),  # DeleteSchedule
        _signed("POST", "/", service="states"),  # another service's change
    ]
    for environ in calls:
        extensions(environ, lambda status, headers: None)
    # moto answered every call; the runner was woken after each change of a schedule, once moto had made it
    assert len(answered) == len(calls)
    assert woken == [("POST", "/schedules/nightly"), ("PUT", "/schedules/nightly"), ("DELETE", "/schedules/nightly")]
