"""Game-day schedules against moto's EventBridge Scheduler: the calls drillkit makes, pinned."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from drillkit.gameday import schedule
from drillkit.gameday.plan import parse_plan
from drillkit.gameday.run import parse_gameday_request

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:drillkit-gameday"
ROLE = "arn:aws:iam::123456789012:role/drillkit-GameDayScheduleRole"
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def plan(scenario_dict):
    return parse_plan({"name": "weekly", "drills": [{"scenario": scenario_dict}, {"scenario": scenario_dict}]})


def test_a_schedule_is_created_then_updated_with_the_plan_as_the_machines_input(aws_env, plan):
    scheduler = boto3.client("scheduler")
    document = schedule.schedule_input(plan, "weekly")
    # When it is put twice, the second time with another expression
    assert schedule.put(scheduler, "weekly", "cron(0 10 ? * SAT *)", "UTC", MACHINE, ROLE, document) == "created"
    assert schedule.put(scheduler, "weekly", "cron(0 6 ? * MON *)", "Europe/Berlin", MACHINE, ROLE, document) == "updated"
    # Then one schedule targets the game-day machine, with the role, the new expression and the plan as input
    detail = scheduler.get_schedule(Name="weekly")
    assert (detail["ScheduleExpression"], detail["ScheduleExpressionTimezone"], detail["State"]) == (
        "cron(0 6 ? * MON *)",
        "Europe/Berlin",
        "ENABLED",
    )
    assert (detail["Target"]["Arn"], detail["Target"]["RoleArn"]) == (MACHINE, ROLE)
    assert detail["FlexibleTimeWindow"] == {"Mode": "OFF"}
    # And its input is what the game-day machine accepts: no game-day id (each run is named from its execution)
    request = parse_gameday_request(json.loads(detail["Target"]["Input"]))
    assert request.gameday_id is None and request.schedule == "weekly" and len(request.plan.drills) == 2


def test_schedules_are_listed_with_their_next_run_and_can_be_paused(aws_env, plan):
    scheduler = boto3.client("scheduler")
    schedule.put(scheduler, "weekly", "cron(0 10 ? * SAT *)", "UTC", MACHINE, ROLE, schedule.schedule_input(plan, "weekly"))
    # A schedule of something else is not a game-day's
    other = {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:x", "RoleArn": ROLE}
    scheduler.create_schedule(Name="other", ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "OFF"}, Target=other)
    [listed] = schedule.listed(scheduler, MACHINE, NOW)
    assert listed == {
        "name": "weekly",
        "state": "ENABLED",
        "expression": "cron(0 10 ? * SAT *)",
        "timezone": "UTC",
        "plan": "weekly",
        "drills": 2,
        "next_run": datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
    }
    # When it is paused, it keeps its expression and target and has no next run
    schedule.set_state(scheduler, "weekly", enabled=False)
    [paused] = schedule.listed(scheduler, MACHINE, NOW)
    assert (paused["state"], paused["next_run"], paused["expression"]) == ("DISABLED", None, "cron(0 10 ? * SAT *)")
    assert scheduler.get_schedule(Name="weekly")["Target"]["Arn"] == MACHINE
    schedule.set_state(scheduler, "weekly", enabled=True)
    assert schedule.listed(scheduler, MACHINE, NOW)[0]["state"] == "ENABLED"


def test_bad_names_zones_and_expressions_are_refused_before_anything_is_written(aws_env, plan):
    scheduler = boto3.client("scheduler")
    document = schedule.schedule_input(plan, "weekly")
    for name, expression, zone, says in (
        ("has space", "cron(0 10 ? * SAT *)", "UTC", "--name"),
        ("weekly", "cron(0 10 ? * SAT *)", "Mars/Olympus", "--timezone"),
        ("weekly", "cron(0 10 * * SAT *)", "UTC", "exactly one of"),
    ):
        with pytest.raises(schedule.ScheduleInvalid) as raised:
            schedule.put(scheduler, name, expression, zone, MACHINE, ROLE, document)
        assert says in str(raised.value)
    assert scheduler.list_schedules()["Schedules"] == []
    with pytest.raises(schedule.ScheduleInvalid, match="no schedule missing"):
        schedule.set_state(scheduler, "missing", enabled=False)


def test_a_rate_schedule_lists_its_next_run_from_its_start_date_and_pausing_keeps_its_dates(aws_env, plan):
    # Given a rate schedule of the game-day machine that starts tomorrow and ends in a week (set in the console)
    scheduler = boto3.client("scheduler")
    start, end = NOW + timedelta(days=1, hours=2), NOW + timedelta(days=7)
    target = {"Arn": MACHINE, "RoleArn": ROLE, "Input": schedule.schedule_input(plan, "daily")}
    scheduler.create_schedule(
        Name="daily",
        ScheduleExpression="rate(1 day)",
        StartDate=start,
        EndDate=end,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
    )
    # Then its next run is its StartDate, and after that a day later
    assert schedule.listed(scheduler, MACHINE, NOW)[0]["next_run"] == start
    assert schedule.listed(scheduler, MACHINE, start)[0]["next_run"] == start + timedelta(days=1)
    assert schedule.listed(scheduler, MACHINE, end)[0]["next_run"] is None  # none from EndDate on
    # When it is paused and resumed, UpdateSchedule is given its dates back (it resets what it is not given)
    schedule.set_state(scheduler, "daily", enabled=False)
    schedule.set_state(scheduler, "daily", enabled=True)
    kept = scheduler.get_schedule(Name="daily")
    assert (kept["State"], kept["StartDate"], kept["EndDate"]) == ("ENABLED", start, end)
