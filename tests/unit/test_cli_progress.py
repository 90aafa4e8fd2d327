"""Live progress from the execution history: every state entered and exited, in order, none dropped across pages."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import boto3
from botocore.stub import Stubber
from rich.console import Console

from drillkit import client
from drillkit.cli import Follower

ARN = "arn:aws:states:us-east-1:123456789012:execution:drill:d-20260101T000000Z-0001"
START = datetime(2026, 1, 1, tzinfo=UTC)


def _event(i: int, kind: str, name: str | None = None) -> dict:
    event = {"id": i, "type": kind, "timestamp": START + timedelta(seconds=i)}
    if name and kind.endswith("StateEntered"):
        event["stateEnteredEventDetails"] = {"name": name}
    elif name:
        event["stateExitedEventDetails"] = {"name": name}
    return event


LOOP = [
    _event(1, "ExecutionStarted"),
    _event(2, "TaskStateEntered", "SteadyState"),
    _event(3, "LambdaFunctionScheduled"),
    _event(4, "TaskStateExited", "SteadyState"),
    _event(5, "ChoiceStateEntered", "SteadyStateDone"),
    _event(6, "ChoiceStateExited", "SteadyStateDone"),
    _event(7, "TaskStateEntered", "SteadyState"),
    _event(8, "TaskStateExited", "SteadyState"),
    _event(9, "ChoiceStateEntered", "SteadyStateDone"),
    _event(10, "ChoiceStateExited", "SteadyStateDone"),
]


def _sfn():
    return boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _expect(stubber: Stubber, events: list[dict], token_in: str | None = None, token_out: str | None = None) -> None:
    params = {
        "executionArn": ARN,
        "includeExecutionData": False,
        "reverseOrder": True,
        "maxResults": client.HistoryReader.PAGE_SIZE,
    }
    if token_in:
        params["nextToken"] = token_in
    stubber.add_response("get_execution_history", {"events": events, **({"nextToken": token_out} if token_out else {})}, params)


def test_the_history_is_read_newest_first_until_a_seen_event_and_each_poll_hands_back_only_new_events_in_order():
    # Given a history of two pages (newest first), then two more events on the next poll, then none
    newest_first = list(reversed(LOOP))
    sfn = _sfn()
    stubber = Stubber(sfn)
    _expect(stubber, newest_first[2:6], token_out="page-2")  # events 8..5
    _expect(stubber, newest_first[6:], token_in="page-2")  # events 4..1
    _expect(stubber, newest_first[:4], token_out="page-2")  # 10, 9 new; 8 seen: the read stops there
    _expect(stubber, newest_first[:4], token_out="page-2")  # nothing new
    reader = client.HistoryReader(sfn, ARN)

    with stubber:
        first = reader.new_events()
        second = reader.new_events()
        third = reader.new_events()

    # Then the first read holds both pages, none dropped, oldest first; the next only what came since, and no page
    # past the first event already seen is read
    assert [e.id for e in first] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [e.id for e in second] == [9, 10]
    assert third == []
    assert [(e.type, e.state) for e in first[1:2]] == [("TaskStateEntered", "SteadyState")]
    stubber.assert_no_pending_responses()


def test_events_written_between_two_pages_come_once():
    # Given a poll whose second page was read after two more events were written: the pages shifted by two
    newest_first = list(reversed(LOOP))
    sfn = _sfn()
    stubber = Stubber(sfn)
    _expect(stubber, newest_first[2:6], token_out="page-2")  # events 8..5
    _expect(stubber, newest_first[4:8], token_in="page-2", token_out="page-3")  # events 6..3: 6 and 5 again
    _expect(stubber, newest_first[8:], token_in="page-3")  # events 2..1
    reader = client.HistoryReader(sfn, ARN)

    with stubber:
        events = reader.new_events()

    # Then each event is handed back once, in order
    assert [e.id for e in events] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_the_follower_prints_every_state_entered_and_exited_with_elapsed_times_and_durations():
    # Given a console and the history of a steady-state wait that continued in a second invocation
    buffer = io.StringIO()
    follower = Follower(Console(file=buffer, width=200, color_system=None), started_at=START.timestamp())

    # When every event is handed to the follower
    for raw in LOOP:
        event = client.HistoryEvent.from_wire(raw)
        if event.entered or event.exited or event.ends_execution:
            follower.on_change("state", event)
    follower.on_change("state", client.HistoryEvent.from_wire(_event(11, "ExecutionSucceeded")))
    lines = buffer.getvalue().splitlines()

    # Then each state entered and exited is one line, in history order, both rounds of the loop
    assert len(lines) == 9
    assert "+    2.0s ▶ SteadyState: checking steady state" in lines[0]
    assert "+    4.0s ■ SteadyState done in 2.0s" in lines[1]
    assert "→ SteadyStateDone" in lines[2] and "← SteadyStateDone" in lines[3]
    assert "+    7.0s ▶ SteadyState" in lines[4] and "done in 1.0s" in lines[5]
    assert "execution SUCCEEDED" in lines[8]


def test_the_spinner_says_which_state_runs_for_how_long_and_the_drills_elapsed_time():
    class Status:
        text = ""

        def update(self, text: str) -> None:
            self.text = text

    follower = Follower(Console(file=io.StringIO()))
    follower.status = Status()
    now = datetime.now(tz=UTC).timestamp()
    progress = client.Progress(started_at=now - 125, state="Observe", state_since=now - 42)

    follower.on_tick(progress)

    assert follower.status.text.startswith("Observe for 42s")
    assert "drill running 0:02:05" in follower.status.text
