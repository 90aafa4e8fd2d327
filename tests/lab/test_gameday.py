"""Game-days end to end in the lab: the game-day machine runs real drills through the drill machine (startExecution.sync:2)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from drillkit.cli import app
from drillkit.evidence import verify
from drillkit.gameday import client as gameday_client
from drillkit.gameday.client import load_plan
from drillkit.gameday.run import drill_items, execution_arn_of

from ..conftest import DEMO_SCENARIO
from .conftest import DRILL_POLL, wait_for

pytestmark = pytest.mark.lab


def write_plan(tmp_path, policy: str, drills: list[str]) -> str:
    """A plan of the demo scenario ("pass") and a copy whose RTO target no failover can meet ("fail")."""
    demo = yaml.safe_load(DEMO_SCENARIO.read_text())
    unmeetable = {**demo, "name": "unmeetable-recovery", "objectives": {**demo["objectives"], "recovery_seconds": 0.01}}
    (tmp_path / "unmeetable.yaml").write_text(yaml.safe_dump(unmeetable))
    files = {"pass": str(DEMO_SCENARIO), "fail": "unmeetable.yaml"}
    plan = {
        "name": f"lab-{policy}",
        "pause_seconds": 1,
        "failure_policy": policy,
        "drills": [{"scenario": files[d]} for d in drills],
    }
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    return str(tmp_path / "plan.yaml")


def run_gameday(lab, tmp_path, plan: str):
    arguments = ["gameday", "run", plan, "--wait", "--lab-file", str(lab.work_dir / "lab.json"), "--reports-dir", str(tmp_path)]
    result = CliRunner().invoke(app, arguments, catch_exceptions=False)
    [gameday_id] = re.findall(r"Started game-day (gd-\S+)", result.output)
    document = json.loads((tmp_path / gameday_id / "gameday.json").read_text())
    return result, document


def test_a_failed_drill_stops_the_gameday_and_later_drills_never_start(lab, tmp_path):
    # Given a three-drill game-day whose second drill cannot meet its RTO, with failure_policy stop
    plan = write_plan(tmp_path, "stop", ["pass", "fail", "pass"])
    # When it runs to its end
    result, document = run_gameday(lab, tmp_path, plan)
    # Then the CLI followed it live, drill by drill, and exits 1 (a drill failed)
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "00 region-failover-health-check on app.drillkit.lab: PASS" in output
    assert "01 unmeetable-recovery on app.drillkit.lab: FAIL" in output
    assert "02 region-failover-health-check on app.drillkit.lab: started" not in output
    # And the game-day report lists the pass, the failure and the drill the policy never started
    assert [d["verdict"] for d in document["drills"]] == ["PASS", "FAIL", "NOT_STARTED"]
    assert document["verdict"] == "FAIL" and document["stopped_early"] is True
    assert "ExceedToleratedFailureThreshold" in document["stop_reason"]
    assert document["counts"]["ran"] == 2
    failed = document["drills"][1]
    assert failed["measurements"]["recovery"]["passed"] is False
    assert any(f["code"] == "OBJECTIVE_MISSED" for f in failed["findings"]), failed["findings"]
    # And the third drill's execution was never started; both drills that ran restored the primary and freed the lock
    sfn = lab.deployment.client("stepfunctions")
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=execution_arn_of(lab.deployment.state_machine_arn, document["drills"][2]["drill_id"]))
    assert all(d["restore_verified"] for d in document["drills"][:2])
    assert lab.primary_inverted() is False
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
    # And each drill that ran has its own report in the evidence bucket, linked from the game-day report
    s3 = lab.deployment.client("s3")
    for drill in document["drills"][:2]:
        own = json.loads(s3.get_object(Bucket=lab.deployment.evidence_bucket, Key=drill["report_key"])["Body"].read())
        assert own["drill_id"] == drill["drill_id"] and own["verdict"] == drill["verdict"]
    html = (tmp_path / document["gameday_id"] / "gameday.html").read_text()
    assert f'href="../../drills/{document["drills"][0]["drill_id"]}/report.html"' in html
    junit = (tmp_path / document["gameday_id"] / "junit.xml").read_text()
    assert junit.count("<testsuite ") == 3 and "not started" in junit


def test_failure_policy_continue_runs_every_drill(lab, tmp_path):
    # Given a two-drill game-day whose first drill fails, with failure_policy continue
    plan = write_plan(tmp_path, "continue", ["fail", "pass"])
    result, document = run_gameday(lab, tmp_path, plan)
    # Then the second drill still ran and passed; the game-day fails because one drill did
    assert [d["verdict"] for d in document["drills"]] == ["FAIL", "PASS"], result.output
    assert document["verdict"] == "FAIL" and document["stopped_early"] is False and document["stop_reason"] is None
    assert result.exit_code == 1
    # And the game-day report is sealed: manifest.json hashes each file, manifest.sig signs it with the evidence key
    folder = tmp_path / document["gameday_id"]
    sealed = json.loads((folder / "manifest.json").read_text())
    assert sealed["gameday_id"] == document["gameday_id"] and sealed["signing"]["algorithm"] == "ECDSA_SHA_256"
    for artifact in sealed["artifacts"]:
        assert hashlib.sha256((folder / artifact["name"]).read_bytes()).hexdigest() == artifact["sha256"], artifact["name"]
    assert (folder / "manifest.sig").stat().st_size > 0
    assert document["integrity"]["chain"]["head"] == "chain/gamedays/head.json"
    # And the evidence export of its day lists it with both its drills, and verifies offline
    lab_file, archive = str(lab.work_dir / "lab.json"), tmp_path / "evidence.tar.gz"
    period = ["--from", document["started_at"][:10], "--to", time.strftime("%Y-%m-%d", time.gmtime())]
    exported = CliRunner().invoke(app, ["evidence", "export", *period, "--out", str(archive), "--lab-file", lab_file])
    assert exported.exit_code == 0 and "game-day(s)" in exported.output, exported.output
    verified = CliRunner().invoke(app, ["evidence", "verify", str(archive)])
    assert verified.exit_code == 0 and "game-day(s)" in verified.output, verified.output
    root = verify.extract(archive, tmp_path / "extracted")
    summary = json.loads((root / "summary.json").read_text())
    [listed] = [g for g in summary["gamedays"] if g["gameday_id"] == document["gameday_id"]]
    assert [(d["verdict"], d["in_export"]) for d in listed["drills"]] == [("FAIL", True), ("PASS", True)]
    assert (root / "gamedays" / document["gameday_id"] / "manifest.sig").read_bytes() == (folder / "manifest.sig").read_bytes()


FREEZE = """BEGIN:VCALENDAR
X-CALENDAR-TYPE:DEFAULT_OPEN
BEGIN:VEVENT
SUMMARY:release freeze
DTSTART:20000101T000000Z
DTEND:20991231T000000Z
END:VEVENT
END:VCALENDAR
"""


def test_a_closed_change_calendar_refuses_the_gameday_naming_it(lab, tmp_path):
    # Given a change calendar that is CLOSED now (a freeze event covering today) and a plan that names it
    lab.client("ssm").create_document(Name="release-freeze", Content=FREEZE, DocumentType="ChangeCalendar", DocumentFormat="TEXT")
    plan = yaml.safe_load(open(write_plan(tmp_path, "stop", ["pass"])).read())
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump({**plan, "change_calendar": "release-freeze"}))
    lab_file = str(lab.work_dir / "lab.json")
    # When its dry run is printed, the calendar's state is in it
    dry = CliRunner().invoke(app, ["gameday", "run", str(tmp_path / "plan.yaml"), "--dry-run", "--lab-file", lab_file])
    assert "change calendar release-freeze: CLOSED now" in " ".join(dry.output.split()), dry.output
    assert dry.exit_code == 1
    # When it is run, the game-day machine's preflight refuses it, naming the calendar, and no drill starts
    before = {e["name"] for e in lab.executions()}
    result = CliRunner().invoke(app, ["gameday", "run", str(tmp_path / "plan.yaml"), "--wait", "--lab-file", lab_file])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "ChangeFreeze" in message and "change_calendar release-freeze is CLOSED" in message, message
    assert {e["name"] for e in lab.executions()} == before


def test_stopping_the_gameday_mid_drill_stops_that_drill_which_is_restored_and_the_rest_never_start(lab, tmp_path):
    # Given a two-drill game-day started in the lab, its first drill observing after injection
    plan = load_plan(Path(write_plan(tmp_path, "stop", ["pass", "pass"])))
    request = gameday_client.gameday_request(lab.deployment, plan, "test")
    machine = lab.deployment.gameday_machine()
    gameday_arn = gameday_client.start(lab.deployment, machine, request)
    first, second = drill_items(request)
    wait_for(lambda: lab.drill_phase(first.drill_id) == "observe", 90, "the first drill observing", every=DRILL_POLL)
    assert lab.primary_inverted() is True
    # When the game-day is stopped
    sfn = lab.deployment.client("stepfunctions")
    sfn.stop_execution(executionArn=gameday_arn, error="Stopped", cause="stopped by an operator")
    # Then the drill in flight is stopped too, and its own safety net restores the primary and reports it ABORTED
    first_arn = execution_arn_of(lab.deployment.state_machine_arn, first.drill_id)
    wait_for(
        lambda: sfn.describe_execution(executionArn=first_arn)["status"] == "ABORTED", 10, "the drill stopped", every=DRILL_POLL
    )
    wait_for(lambda: lab.drill_phase(first.drill_id) == "done", 30, "the safety net's report", every=DRILL_POLL)
    assert lab.drill_record(first.drill_id)["verdict"] == "ABORTED"
    assert lab.primary_inverted() is False
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
    # And the second drill never starts
    time.sleep(3)
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=execution_arn_of(lab.deployment.state_machine_arn, second.drill_id))
    assert sfn.describe_execution(executionArn=gameday_arn)["status"] == "ABORTED"


def test_a_scheduled_gameday_fires_by_itself(lab, tmp_path):
    from datetime import UTC, datetime, timedelta

    # Given a one-drill plan scheduled a few seconds ahead with `drillkit gameday schedule`
    plan = write_plan(tmp_path, "stop", ["pass"])
    lab_file = str(lab.work_dir / "lab.json")
    # 15 s ahead: the schedule and the listing must both come before it, also on a loaded machine
    at = (datetime.now(UTC) + timedelta(seconds=15)).strftime("%Y-%m-%dT%H:%M:%S")
    created = CliRunner().invoke(
        app, ["gameday", "schedule", plan, "--cron", f"at({at})", "--name", "soon", "--lab-file", lab_file]
    )
    assert created.exit_code == 0 and "Schedule soon created" in created.output, created.output
    assert f"next run {at.replace('T', ' ')} UTC" in " ".join(created.output.split()), created.output
    listed = " ".join(CliRunner().invoke(app, ["gameday", "schedules", "--lab-file", lab_file]).output.split())
    assert "soon" in listed and "ENABLED" in listed and at.replace("T", " ")[:16] in listed, listed
    # When its time comes, the game-day machine starts by itself and runs the drill
    sfn = lab.deployment.client("stepfunctions")
    machine = lab.info["state_machines"]["gameday"]

    def scheduled() -> list[dict]:
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        described = [sfn.describe_execution(executionArn=e["executionArn"]) for e in executions]
        return [d for d in described if json.loads(d["input"]).get("schedule") == "soon"]

    wait_for(lambda: scheduled(), 30, "the scheduled game-day started")
    wait_for(lambda: scheduled()[0]["status"] != "RUNNING", 120, "the scheduled game-day ended", every=DRILL_POLL)
    [execution] = scheduled()
    assert execution["status"] == "SUCCEEDED"
    # Then its report names the schedule, and its one drill passed
    gameday_id = json.loads(execution["output"])["report"]["gameday_id"]
    folder = gameday_client.download_report(lab.deployment, gameday_id, tmp_path)
    document = json.loads((folder / "gameday.json").read_text())
    assert (document["schedule"], document["requested_by"]) == ("soon", "schedule soon")
    assert [d["verdict"] for d in document["drills"]] == ["PASS"]
    # And an at(...) schedule fires once
    time.sleep(2)
    assert len(scheduled()) == 1


def test_a_rate_schedule_fires_by_itself_from_its_start_date_and_a_disabled_one_never(lab, tmp_path, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from drillkit import cli

    # The CLI's console took its width when it was imported: wide enough that no cell of the table wraps
    monkeypatch.setattr(cli.console, "width", 200)

    # Given two rate(1 minute) schedules of the game-day machine starting in a few seconds, one of them DISABLED
    # (their plan has no drill: preflight refuses it at once, which is all this check needs)
    scheduler, sfn = lab.client("scheduler"), lab.deployment.client("stepfunctions")
    machine = lab.info["state_machines"]["gameday"]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)

    def create(name: str, state: str) -> None:
        document = {"requested_by": f"schedule {name}", "schedule": name, "plan": {"name": "no-drill", "drills": []}}
        target = {"Arn": machine, "RoleArn": lab.deployment.scheduler_role(), "Input": json.dumps(document)}
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression="rate(1 minute)",
            StartDate=start,
            State=state,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
        )

    create("every-minute", "ENABLED")
    create("every-minute-paused", "DISABLED")
    lab_file = str(lab.work_dir / "lab.json")
    # And `drillkit gameday schedules` shows when each runs next: the enabled one at its StartDate, the paused one never
    listed = CliRunner().invoke(app, ["gameday", "schedules", "--lab-file", lab_file]).output
    rows = {line.split()[1]: " ".join(line.split()) for line in listed.splitlines() if "every-minute" in line}
    assert rows["every-minute"].endswith(f"{start:%Y-%m-%d %H:%M} │"), listed
    assert rows["every-minute-paused"].endswith("DISABLED │ rate(1 minute) UTC │ no-drill (0 drills) │ - │"), listed

    def started(name: str) -> list[dict]:
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        described = [sfn.describe_execution(executionArn=e["executionArn"]) for e in executions]
        return [d for d in described if json.loads(d["input"]).get("schedule") == name]

    try:
        # When its StartDate comes, the enabled one starts the game-day machine by itself, once
        wait_for(lambda: started("every-minute"), 20, "the rate schedule fired")
        [fired] = started("every-minute")
        assert fired["startDate"] >= start - timedelta(seconds=1), (fired["startDate"], start)
        time.sleep(3)
        assert len(started("every-minute")) == 1  # the next run is a minute later
        assert started("every-minute-paused") == []
    finally:
        for name in ("every-minute", "every-minute-paused"):
            scheduler.delete_schedule(Name=name)
