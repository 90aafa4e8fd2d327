"""A real drill in the lab: the CLI's verdict, the report, the ground truth and the restore."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from drillkit import client
from drillkit.cli import app

from ..conftest import DEMO_SCENARIO
from ..reports import assert_valid_report

pytestmark = pytest.mark.lab
CONTRACT_MEASUREMENT_KEYS = {"seconds", "uncertainty_seconds", "target_seconds", "passed"}


@dataclass
class FinishedDrill:
    exit_code: int
    output: str
    report: dict
    report_dir: Path
    original_inverted: bool

    def epoch(self, event: str) -> float:
        return next(e["t"] for e in self.report["timeline"] if e["event"] == event)


@pytest.fixture(scope="module")
def drill(lab, tmp_path_factory) -> FinishedDrill:
    reports = tmp_path_factory.mktemp("reports")
    original_inverted = lab.primary_inverted()
    result = CliRunner().invoke(
        app,
        ["run", str(DEMO_SCENARIO), "--wait", "--lab-file", str(lab.work_dir / "lab.json"), "--reports-dir", str(reports)],
    )
    report_dirs = list(reports.iterdir())
    assert len(report_dirs) == 1, result.output
    report = json.loads((report_dirs[0] / "report.json").read_text())
    return FinishedDrill(result.exit_code, result.output, report, report_dirs[0], original_inverted)


def first_change_after(events: list[dict], since: float, event: str, **match) -> dict:
    return next(e for e in events if e["event"] == event and e["t"] >= since and all(e.get(k) == v for k, v in match.items()))


def test_the_drill_passes_and_the_cli_prints_verdict_and_report_path(drill):
    assert drill.exit_code == 0, drill.output
    assert "Verdict: PASS" in drill.output
    assert f"Report: {drill.report_dir / 'report.html'}" in drill.output
    assert drill.report["verdict"] == "PASS"
    assert drill.report["restore_verified"] is True


def test_report_json_holds_the_contract_fields(drill):
    report = drill.report
    for key in ("drill_id", "verdict", "restore_verified", "started_at", "injected_at", "ended_at", "findings", "timeline"):
        assert key in report, key
    assert report["scenario"]["name"] == "region-failover-health-check"
    assert report["scenario"]["version"] == "1"
    for stamp in ("started_at", "injected_at", "ended_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", report[stamp]), stamp
    assert {"detection", "dns_cutover", "recovery"} <= set(report["measurements"])
    for name, measurement in report["measurements"].items():
        assert set(measurement) >= CONTRACT_MEASUREMENT_KEYS, name
        if name not in ("rpo", "detection"):  # rpo: not applicable to this fault; detection: below
            assert measurement["passed"] is True, name
    # Inversion flips the verdict without a checker seeing a failure: detection is the configuration read back,
    # labelled so and not judged, never a measured detection of 0.00 s.
    assert report["measurements"]["detection"]["kind"] == "configuration-applied"
    assert report["measurements"]["detection"]["passed"] is None
    assert all({"t", "event"} <= set(entry) for entry in report["timeline"])
    html = (drill.report_dir / "report.html").read_text()
    assert "PASS" in html and "DNS cutover" in html


def test_the_rpo_is_not_applicable_and_never_met_when_no_database_fails_over(drill):
    # The demo writes heartbeats, but inverting a health check moves no database writer: nothing could be lost.
    rpo = drill.report["measurements"]["rpo"]
    assert (rpo["kind"], rpo["seconds"], rpo["passed"]) == ("not_applicable", None, None)
    assert "health-check-inversion fault does not move the database writer" in rpo["reason"]
    assert drill.report["results"]["objectives"]["rpo"] == "NOT_APPLICABLE"
    assert rpo["detail"]["heartbeats_acknowledged"] > 0  # the canary ran; its reading is context only
    [summary_row] = [
        line for line in (drill.report_dir / "summary.md").read_text().splitlines() if line.startswith("| Data loss")
    ]
    assert "not applicable" in summary_row and "met" not in summary_row
    assert "not applicable" in drill.output


def test_report_json_matches_the_published_schema_and_every_artifact_was_downloaded(drill):
    assert_valid_report(drill.report)
    names = {p.name for p in drill.report_dir.iterdir()}
    assert {"report.json", "report.html", "junit.xml", "summary.md", "samples.jsonl", "manifest.json"} <= names
    assert drill.report["people"]["requested_by"] and drill.report["execution"]["steps"]


def test_detection_and_dns_cutover_agree_with_the_ground_truth(lab, drill):
    interval = drill.report["sampling"]["interval_seconds"]
    injected = drill.epoch("fault_injected")
    check_id = lab.info["regions"]["primary"]["health_check_id"]
    truth = lab.ground_truth
    went_unhealthy = first_change_after(truth, injected - 0.5, "health_check", id=check_id, healthy=False)["t"]
    standby = lab.info["regions"]["standby"]["dns_answer"]
    dns_moved = first_change_after(truth, injected - 0.5, "dns_answer", value=standby)["t"]

    measured_detection = injected + drill.report["measurements"]["detection"]["seconds"]
    measured_cutover = injected + drill.report["measurements"]["dns_cutover"]["seconds"]

    # A probe can only see a change after it happened, and sees it within one sampling interval. The lab's
    # physics notices a changed setting (Inverted) on its next 50 ms tick, so its log may lag by a tick.
    tick = 0.1
    assert went_unhealthy - tick <= measured_detection <= went_unhealthy + interval + 0.2
    assert dns_moved - tick <= measured_cutover <= dns_moved + interval + 0.2
    # The reported uncertainty window covers the true moment.
    measurements = drill.report["measurements"]
    assert measured_detection - went_unhealthy <= measurements["detection"]["uncertainty_seconds"] + 0.05
    assert measured_cutover - dns_moved <= measurements["dns_cutover"]["uncertainty_seconds"] + 0.05


def test_after_the_drill_the_health_check_is_restored_and_dns_answers_the_primary(lab, drill):
    assert lab.primary_inverted() is drill.original_inverted
    assert lab.dns_answer() == [lab.info["regions"]["primary"]["dns_answer"]]
    last_answer = [e for e in lab.ground_truth if e["event"] == "dns_answer"][-1]
    assert last_answer["value"] == lab.info["regions"]["primary"]["dns_answer"]
    undo = drill.report["restore"]["records"]
    assert [r["status"] for r in undo] == ["restored"]


def test_the_environment_lock_is_released_so_the_next_drill_may_start(lab, drill):
    locks = [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
    assert locks == []


def test_an_invalid_request_fails_the_execution_naming_the_field_and_injects_nothing(lab, drill):
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    scenario["sampling"]["interval_seconds"] = -1
    network = lab.deployment.network
    request = {"drill_id": "invalid-request-0001", "requested_by": "pytest", "scenario": scenario, "network": network}
    health_events_before = [e for e in lab.ground_truth if e["event"] == "health_check"]

    execution_arn = client.start(lab.deployment, request)
    execution = client.follow(lab.deployment, "invalid-request-0001", execution_arn, lambda *_: None, timeout_seconds=60)

    assert execution["status"] == "FAILED"
    error, cause = client.execution_error(execution)
    assert error == "ScenarioInvalid"
    assert "scenario.sampling.interval_seconds" in cause
    assert lab.deployment.ledger().load("invalid-request-0001") is None
    assert lab.deployment.ledger().list_undo("invalid-request-0001") == []
    assert lab.primary_inverted() is drill.original_inverted
    assert [e for e in lab.ground_truth if e["event"] == "health_check"] == health_events_before


def test_the_cli_rejects_an_invalid_scenario_by_field_before_starting_anything(lab, tmp_path):
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    scenario["objectives"]["detection_seconds"] = "soon"
    scenario["fault"]["recrod"] = "primary"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(scenario))
    executions_before = len(lab.executions())

    result = CliRunner().invoke(app, ["run", str(bad), "--wait", "--lab-file", str(lab.work_dir / "lab.json")])

    assert result.exit_code == 2
    assert "objectives.detection_seconds" in result.output
    assert "fault.recrod: unknown field" in result.output
    assert "nothing was started" in result.output
    assert len(lab.executions()) == executions_before


def test_the_report_function_emits_the_drill_metrics_as_emf(lab, drill):
    log = (lab.work_dir / "logs" / "lambda-drillkit-lab-ReportFunction.log").read_text()
    emf = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"_aws"' in line]
    mine = [e for e in emf if e.get("drill_id") == drill.report["drill_id"]]
    assert len(mine) == 1, emf
    assert mine[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "drillkit"
    assert mine[0]["RecoverySeconds"] == [drill.report["measurements"]["recovery"]["seconds"]]
    assert mine[0]["DrillPassed"] == [1.0]


def test_drillkit_list_and_status_read_the_drill_from_its_record(lab, drill):
    # Given the drill above, finished; When the CLI lists recent drills and asks for its status
    lab_file = str(lab.work_dir / "lab.json")
    listed = CliRunner().invoke(app, ["list", "--json", "--limit", "50", "--lab-file", lab_file])
    status = CliRunner().invoke(app, ["status", drill.report["drill_id"], "--json", "--lab-file", lab_file])
    unknown = CliRunner().invoke(app, ["status", "no-such-drill-0001", "--lab-file", lab_file])

    # Then the list names it with the report's verdict, newest first
    assert listed.exit_code == 0, listed.output
    drills = json.loads(listed.output)
    [mine] = [d for d in drills if d["drill_id"] == drill.report["drill_id"]]
    assert (mine["verdict"], mine["phase"], mine["scenario"]) == ("PASS", "done", drill.report["scenario"]["name"])
    assert mine["environment"] == drill.report["environment"] and mine["started_at"] == drill.report["started_at"]
    assert [d["started_at"] for d in drills] == sorted((d["started_at"] for d in drills), reverse=True)
    # And the status matches the sealed report: verdict, report, milestones measured from the same injection
    assert status.exit_code == 0, status.output
    shown = json.loads(status.output)
    assert (shown["verdict"], shown["phase"], shown["ended"]) == (drill.report["verdict"], "done", None)
    assert shown["report_key"].endswith(f"{drill.report['drill_id']}/report.json")
    assert shown["injected_at"] == drill.report["injected_at"]
    for name in ("detection", "dns_cutover", "recovery"):
        assert shown["milestones"][name] == pytest.approx(
            drill.report["measurements"][name]["seconds"], abs=drill.report["sampling"]["interval_seconds"]
        )
    # And an unknown id is an error that names it, exit code 2
    assert unknown.exit_code == 2
    assert "no drill no-such-drill-0001" in unknown.output


def test_the_execution_history_pages_as_step_functions_pages_it(lab, drill):
    # Given the drill's finished execution, read whole (one page of at most 1000 events, with their data)
    sfn = lab.deployment.client("stepfunctions")
    arn = client.execution_of(lab.deployment, drill.report["drill_id"])["executionArn"]
    whole = sfn.get_execution_history(executionArn=arn, maxResults=1000)
    assert "nextToken" not in whole and len(whole["events"]) > 7
    assert any("input" in e.get("stateEnteredEventDetails", {}) for e in whole["events"])

    def paged(**params) -> list[dict]:
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn, PaginationConfig={"PageSize": 7}, **params)
        return [event for page in pages for event in page["events"]]

    # Then pages of 7 hold the same events in order, reverseOrder the same newest first, and without execution data
    # each event is there with its details but for their input and output
    assert paged() == whole["events"]
    assert paged(reverseOrder=True) == list(reversed(whole["events"]))
    bare = paged(includeExecutionData=False)
    assert [(e["id"], e["type"]) for e in bare] == [(e["id"], e["type"]) for e in whole["events"]]
    details = [v for e in bare for k, v in e.items() if k.endswith("EventDetails")]
    assert details and not [d for d in details if {"input", "output"} & set(d)]
    # The default page is 100 events; more than 1000 and a token it never gave are refused, as Step Functions does
    assert len(sfn.get_execution_history(executionArn=arn)["events"]) == min(100, len(whole["events"]))
    for bad, code in (({"maxResults": 1001}, "ValidationException"), ({"nextToken": "not-a-token"}, "InvalidToken")):
        with pytest.raises(ClientError) as refused:
            sfn.get_execution_history(executionArn=arn, **bad)
        assert refused.value.response["Error"]["Code"] == code
