"""The game-day machine's steps against moto (S3, Step Functions) and a Stubber (SSM Change Calendar)."""

from __future__ import annotations

import json
from functools import cache

import boto3
import pytest
from botocore.stub import Stubber
from jsonschema import Draft202012Validator, FormatChecker
from junitparser import JUnitXml

from drillkit import aws
from drillkit.errors import ChangeFreeze
from drillkit.gameday import publish, run
from drillkit.gameday.run import new_gameday_id

from ..conftest import ROOT
from .conftest import BUCKET

SCHEMA = ROOT / "docs" / "gameday.schema.json"


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def measurement(seconds: float | None, target: float | None, passed: bool | None) -> dict:
    return {"kind": "measured", "seconds": seconds, "uncertainty_seconds": 0.5, "target_seconds": target, "passed": passed}


def drill_report(drill_id: str, verdict: str, recovery: dict) -> dict:
    findings = [] if verdict == "PASS" else [{"severity": "high", "code": "OBJECTIVE_MISSED", "message": "recovery 9.0 s > 5 s"}]
    return {
        "drill_id": drill_id,
        "verdict": verdict,
        "restore_verified": True,
        "started_at": "2026-12-02T08:00:00.000Z",
        "ended_at": "2026-12-02T08:01:00.000Z",
        "measurements": {"detection": measurement(2.0, 10, True), "recovery": recovery},
        "findings": findings,
    }


@pytest.fixture
def gameday(aws_env, monkeypatch, scenario_dict):
    """A finished four-drill game-day: PASS, FAIL, never started, and one stopped before it could report."""
    sfn = boto3.client("stepfunctions")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    machine = sfn.create_state_machine(name="drill", definition=definition, roleArn="arn:aws:iam::123456789012:role/x")
    monkeypatch.setenv("DRILL_STATE_MACHINE_ARN", machine["stateMachineArn"])
    monkeypatch.delenv("TOPIC_ARN", raising=False)
    run.gameday_config.cache_clear()
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    plan = {"name": "quarterly", "failure_policy": "stop", "drills": [{"scenario": scenario_dict}] * 4}
    request = {"gameday_id": new_gameday_id("quarterly"), "requested_by": "pytest", "plan": plan}
    prepared = run.preflight(request)
    ids = [d["drill_id"] for d in prepared["drills"]]
    s3 = boto3.client("s3")
    for index, verdict, recovery in ((0, "PASS", measurement(3.0, 5, True)), (1, "FAIL", measurement(9.0, 5, False))):
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=ids[index], input="{}")
        body = json.dumps(drill_report(ids[index], verdict, recovery)).encode()
        s3.put_object(Bucket=BUCKET, Key=f"drills/{ids[index]}/report.json", Body=body)
    stopped = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=ids[3], input="{}")["executionArn"]
    sfn.stop_execution(executionArn=stopped, error="States.Aborted", cause="stopped with the game-day")
    event = {
        "step": "report",
        "request": request,
        "gameday": prepared,
        "execution_id": "arn:aws:states:us-east-1:123456789012:execution:gameday:x",
        "run_error": {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "1 of 4 failed"},
    }
    yield event, ids
    run.gameday_config.cache_clear()


def test_the_report_lists_every_drill_links_its_report_and_is_valid(gameday):
    event, ids = gameday
    # When the Report step runs
    result = publish.report(event)
    # Then the game-day verdict counts the drill that did not finish as an error
    assert result["verdict"] == "ERROR"
    assert [d["verdict"] for d in result["drills"]] == ["PASS", "FAIL", "NOT_STARTED", "ABORTED"]
    s3 = boto3.client("s3")
    prefix = f"gamedays/{event['gameday']['gameday_id']}/"
    names = ("gameday.html", "gameday.json", "junit.xml", "manifest.json")  # sealed; unsigned without SIGNING_KEY_ARN
    assert sorted(result["artifacts"].values()) == [prefix + n for n in names]
    document = json.loads(s3.get_object(Bucket=BUCKET, Key=prefix + "gameday.json")["Body"].read())
    # And gameday.json is valid against its published schema
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(document)]
    assert not errors, errors
    passed, failed, not_started, aborted = document["drills"]
    assert failed["measurements"]["recovery"]["passed"] is False and failed["findings"][0]["code"] == "OBJECTIVE_MISSED"
    assert failed["report_key"] == f"drills/{ids[1]}/report.json"
    assert not_started["execution_status"] is None and not_started["report_key"] is None
    assert aborted["execution_status"] == "ABORTED" and aborted["report_key"] is None
    assert document["stopped_early"] is True and "ExceedToleratedFailureThreshold" in document["stop_reason"]
    assert document["counts"] == {
        "PASS": 1, "FAIL": 1, "ERROR": 0, "ABORTED": 1, "NOT_STARTED": 1, "RUNNING": 0, "drills": 4, "ran": 3, "failed": 2
    }  # fmt: skip
    # And the HTML links each drill's own report, relative to the game-day's folder in the bucket
    html = s3.get_object(Bucket=BUCKET, Key=prefix + "gameday.html")["Body"].read().decode()
    assert f'href="../../drills/{ids[0]}/report.html"' in html and f'href="../../drills/{ids[1]}/report.json"' in html
    assert "missed" in html and "NOT_STARTED" in html


def test_junit_has_one_testsuite_per_drill(gameday, tmp_path):
    event, ids = gameday
    publish.report(event)
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"gamedays/{event['gameday']['gameday_id']}/junit.xml")["Body"]
    (tmp_path / "junit.xml").write_bytes(body.read())
    suites = list(JUnitXml.fromfile(str(tmp_path / "junit.xml")))
    assert [s.name for s in suites] == [f"{i:02d} region-failover-health-check on app.drillkit.lab" for i in range(4)]
    # A passed drill: every objective a passing testcase; a failed one: the missed objective a failure
    assert (suites[0].tests, suites[0].failures, suites[0].errors) == (3, 0, 0)
    assert (suites[1].tests, suites[1].failures) == (3, 1)
    assert (suites[2].tests, suites[2].skipped) == (1, 1)  # never started
    assert (suites[3].tests, suites[3].errors) == (1, 1)  # ended without a report
    assert ids[3] in {p.value for p in suites[3].properties()}


def stub_calendar(state: str) -> Stubber:
    stubber = Stubber(aws.client("ssm"))
    answer = {"State": state, "AtTime": "2026-12-02T08:00:00Z", "NextTransitionTime": "2026-12-03T00:00:00Z"}
    stubber.add_response("get_calendar_state", answer, {"CalendarNames": ["release-freeze"]})
    stubber.activate()
    return stubber


def test_a_closed_change_calendar_refuses_the_gameday_naming_it(aws_env, scenario_dict):
    request = {"gameday_id": new_gameday_id("frozen"), "plan": {"name": "frozen", "change_calendar": "release-freeze",
                                                                 "drills": [{"scenario": scenario_dict}]}}  # fmt: skip
    with stub_calendar("CLOSED") as stubber:
        with pytest.raises(ChangeFreeze) as raised:
            run.preflight(request)
        stubber.assert_no_pending_responses()
    assert "change_calendar release-freeze is CLOSED" in str(raised.value)
    assert "2026-12-03T00:00:00Z" in str(raised.value)


def test_an_open_change_calendar_lets_it_start_and_is_recorded(aws_env, scenario_dict):
    request = {"gameday_id": new_gameday_id("open"), "plan": {"name": "open", "change_calendar": "release-freeze",
                                                               "drills": [{"scenario": scenario_dict}]}}  # fmt: skip
    with stub_calendar("OPEN") as stubber:
        prepared = run.preflight(request)
        stubber.assert_no_pending_responses()
    assert prepared["change_calendar"]["state"] == "OPEN" and len(prepared["drills"]) == 1


def test_an_announced_gameday_tells_the_topic_what_where_when_and_how_to_stop_it(aws_env, monkeypatch, scenario_dict):
    from freezegun import freeze_time
    from moto.sns.models import sns_backends

    topic = boto3.client("sns").create_topic(Name="drillkit")["TopicArn"]
    monkeypatch.setenv("TOPIC_ARN", topic)
    monkeypatch.setenv("DRILL_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:drill")
    run.gameday_config.cache_clear()
    plan = {"name": "weekly", "announce_seconds": 900, "drills": [{"scenario": scenario_dict}]}
    execution = "arn:aws:states:us-east-1:123456789012:execution:gameday:abc"
    with freeze_time("2026-12-05T10:00:00Z"):
        prepared = run.preflight({"plan": plan, "schedule": "weekly", "requested_by": "schedule weekly"}, execution)
    run.gameday_config.cache_clear()
    assert prepared["announce_seconds"] == 900 and prepared["announced"] is True
    [(_, message, subject, *_)] = sns_backends["123456789012"]["us-east-1"].topics[topic].sent_notifications
    assert subject == "drillkit game-day weekly starts 2026-12-05T10:15:00.000Z"
    assert "00 region-failover-health-check (health-check-inversion) on app.drillkit.lab" in message
    assert "requested by schedule weekly" in message
    assert f"aws stepfunctions stop-execution --execution-arn {execution}" in message


def test_a_scheduled_gameday_is_announced_even_without_a_lead_time_and_one_started_by_hand_is_not(
    aws_env, monkeypatch, scenario_dict
):
    from moto.sns.models import sns_backends

    topic = boto3.client("sns").create_topic(Name="drillkit")["TopicArn"]
    monkeypatch.setenv("TOPIC_ARN", topic)
    monkeypatch.setenv("DRILL_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:drill")
    run.gameday_config.cache_clear()
    plan = {"name": "nightly", "drills": [{"scenario": scenario_dict}]}  # no announce_seconds
    sent = sns_backends["123456789012"]["us-east-1"].topics[topic].sent_notifications
    # When a game-day started by hand passes preflight, nothing is announced
    by_hand = run.preflight({"plan": plan, "requested_by": "alice"}, "arn:aws:states:us-east-1:123456789012:execution:g:1")
    assert by_hand["announced"] is False and sent == []
    # When a scheduled one does, the topic hears what, where, now, and how to stop it, before any drill
    execution = "arn:aws:states:us-east-1:123456789012:execution:gameday:2"
    scheduled = run.preflight({"plan": plan, "schedule": "nightly", "requested_by": "schedule nightly"}, execution)
    run.gameday_config.cache_clear()
    assert scheduled["announced"] is True and scheduled["announce_seconds"] == 0
    [(_, message, subject, *_)] = sent
    assert subject.startswith("drillkit game-day nightly starts ")
    assert "requested by schedule nightly" in message and f"stop-execution --execution-arn {execution}" in message
