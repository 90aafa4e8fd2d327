"""Stop a drill from outside after injection: the safety net restores, verifies, reports ABORTED and frees the lock."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
import yaml

from drillkit import client
from drillkit.spec import parse_scenario

from ..conftest import DEMO_SCENARIO
from ..reports import assert_valid_report
from .conftest import DRILL_POLL, wait_for

pytestmark = pytest.mark.lab
RESTORED_WITHIN = 30.0


def assert_restored_unlocked_and_reported_aborted(lab, drill_id: str, original_inverted: bool, tmp_path, ended: str) -> dict:
    """The safety net's outcome: the primary back, no lock, and a valid ABORTED report whose finding says how it ended."""
    assert lab.primary_inverted() is original_inverted
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
    folder = client.download_report(lab.deployment, drill_id, tmp_path)
    report = json.loads((folder / "report.json").read_text())
    assert_valid_report(report)
    assert report["verdict"] == "ABORTED"
    assert report["restore_verified"] is True
    status = ended.split()[0]
    [finding] = [f for f in report["findings"] if f["code"] == f"EXECUTION_{status}"]
    assert f"ended {ended}" in finding["message"]
    return report


# Restore takes milliseconds in the lab: a stop aimed at it lands in it or right after it, in verification.
REACHED = {"observe": ("observe",), "restore": ("restore", "verify"), "verify": ("verify",)}


@pytest.mark.parametrize("phase", ["observe", "restore", "verify"])
def test_stopping_the_execution_in_any_state_after_injection_restores_the_primary_and_reports_aborted(lab, phase, tmp_path):
    original_inverted = lab.primary_inverted()
    request = client.drill_request(lab.deployment, parse_scenario(yaml.safe_load(DEMO_SCENARIO.read_text())), "test")
    drill_id = request["drill_id"]
    execution_arn = client.start(lab.deployment, request)
    wait_for(lambda: lab.drill_phase(drill_id) in REACHED[phase], 60, f"drill in phase {phase}", every=DRILL_POLL)

    lab.deployment.client("stepfunctions").stop_execution(
        executionArn=execution_arn, error="Stopped", cause="stopped by an operator"
    )
    stopped_at = time.time()

    wait_for(lambda: lab.drill_phase(drill_id) == "done", RESTORED_WITHIN, "the safety net's report", every=DRILL_POLL)
    assert time.time() - stopped_at <= RESTORED_WITHIN
    status = lab.deployment.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
    assert status == "ABORTED"
    report = assert_restored_unlocked_and_reported_aborted(lab, drill_id, original_inverted, tmp_path, "ABORTED during")
    assert [r["status"] for r in report["restore"]["records"]] == ["restored"]
    wait_for(lambda: lab.dns_answer() == [lab.region("primary")["dns_answer"]], 10, "DNS back on the primary")


# A state that is stuck (the harness hangs its function partway, see test_harness.py) when the operator stops the
# execution: Inject after its change, before it could mark the undo record applied; Report before it sealed anything.
STUCK = {"inject": ("InjectFunction", 7), "report": ("ReportFunction", 1)}


@pytest.mark.parametrize("phase", list(STUCK))
def test_stopping_the_execution_while_inject_or_report_is_stuck_restores_and_reports_aborted(lab, phase, tmp_path):
    function, after_calls = STUCK[phase]
    original_inverted = lab.primary_inverted()
    request = client.drill_request(lab.deployment, parse_scenario(yaml.safe_load(DEMO_SCENARIO.read_text())), "test")
    drill_id = request["drill_id"]
    lab.sabotage(function, kind="timeout", after_calls=after_calls, timeout_seconds=60)
    try:
        execution_arn = client.start(lab.deployment, request)
        wait_for(lambda: lab.drill_phase(drill_id) == phase, 60, f"drill in phase {phase}", every=DRILL_POLL)
        if phase == "inject":
            wait_for(lambda: lab.primary_inverted() is not original_inverted, 10, "the fault in place")
        lab.deployment.client("stepfunctions").stop_execution(
            executionArn=execution_arn, error="Stopped", cause="stopped by an operator"
        )
        stopped_at = time.time()
        wait_for(lambda: lab.drill_phase(drill_id) == "done", RESTORED_WITHIN, "the safety net's report", every=DRILL_POLL)
        assert time.time() - stopped_at <= RESTORED_WITHIN
    finally:
        lab.sabotage(function, mend=True)

    assert_restored_unlocked_and_reported_aborted(lab, drill_id, original_inverted, tmp_path, f"ABORTED during {phase}")
    assert [undo.status for undo in lab.deployment.ledger().list_undo(drill_id)] == ["restored"]


def test_an_execution_that_reaches_its_maximum_duration_times_out_and_the_safety_net_restores(lab, tmp_path):
    """The machine's TimeoutSeconds (2 hours) reached during observation: the lab moves the clock instead of waiting."""
    original_inverted = lab.primary_inverted()
    request = client.drill_request(lab.deployment, parse_scenario(yaml.safe_load(DEMO_SCENARIO.read_text())), "test")
    drill_id = request["drill_id"]
    execution_arn = client.start(lab.deployment, request)
    wait_for(lambda: lab.drill_phase(drill_id) == "observe", 60, "drill in phase observe", every=DRILL_POLL)

    body = json.dumps({"executionArn": execution_arn}).encode()
    urllib.request.urlopen(urllib.request.Request(lab.deployment.endpoint_url + "/_lab/time-out", data=body), timeout=5).close()
    timed_out_at = time.time()

    wait_for(lambda: lab.drill_phase(drill_id) == "done", RESTORED_WITHIN, "the safety net's report", every=DRILL_POLL)
    assert time.time() - timed_out_at <= RESTORED_WITHIN
    assert lab.deployment.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"] == "TIMED_OUT"
    report = assert_restored_unlocked_and_reported_aborted(lab, drill_id, original_inverted, tmp_path, "TIMED_OUT during observe")
    [ended] = [f for f in report["findings"] if f["code"] == "EXECUTION_TIMED_OUT"]
    assert "States.Timeout" in ended["message"]
