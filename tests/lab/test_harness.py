"""The harness that breaks drillkit itself: every state after injection, made to crash, to time out, or
throttled by the AWS APIs it calls. Whatever breaks, the environment ends as it was before the drill.

The lab breaks a function on request (lab/lambda_worker.py, Sabotage): from its invocation's
``after_calls`` + 1-th AWS call on, ``crash`` ends the process (Runtime.ExitError), ``timeout`` hangs
until the function's deadline (Sandbox.Timedout; the lab shortens the deadline to a few seconds), and
``throttle`` answers every call with the service's own throttling error, through boto3's adaptive
retries. Every invocation of the function is broken, every retry included, until the test mends it.
"""

from __future__ import annotations

import json

import pytest
import yaml

from drillkit import client
from drillkit.spec import parse_scenario

from ..conftest import DEMO_SCENARIO
from ..reports import assert_valid_report
from .conftest import DRILL_POLL, RunningLab, snapshot, wait_for

pytestmark = pytest.mark.lab

# The state, its function, and how many AWS calls it makes before it breaks: partway through its work.
STATES = {
    "Observe": ("ObserveFunction", 5),  # the first: its phase written and the drill record read back
    "Restore": ("RestoreFunction", 2),  # the drill record and the undo records: it breaks at the fault's restore call
    "VerifyRestore": ("VerifyRestoreFunction", 2),
    "Report": ("ReportFunction", 3),
}
KINDS = ("crash", "timeout", "throttle")
# How the execution ends: a broken Observe is caught and the machine restores and reports; a later
# state that cannot finish fails the execution, and the safety net restores, verifies and reports.
EXECUTION_ENDS = {"Observe": "SUCCEEDED", "Restore": "FAILED", "VerifyRestore": "FAILED", "Report": "FAILED"}


def harness_scenario() -> dict:
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    # What is under test is the restore, not the measurement: no alarm or heartbeat to wait for, and bounded
    # waits, so that a blinded observation or verification gives up in seconds, not minutes.
    scenario["alarms"], scenario["data"] = [], {}
    scenario["objectives"] = {k: v for k, v in scenario["objectives"].items() if k not in ("alerting_seconds", "rpo_seconds")}
    scenario["sampling"].update(observe_timeout_seconds=20, restore_timeout_seconds=20, steady_state_samples=2)
    return scenario


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("state", list(STATES))
def test_a_broken_state_after_injection_leaves_the_environment_as_it_was(lab: RunningLab, state, kind, tmp_path):
    function, after_calls = STATES[state]
    before = snapshot(lab)
    request = client.drill_request(lab.deployment, parse_scenario(harness_scenario()), "harness")
    drill_id = request["drill_id"]
    lab.sabotage(function, kind=kind, after_calls=after_calls)
    try:
        execution_arn = client.start(lab.deployment, request)
        sfn = lab.deployment.client("stepfunctions")
        wait_for(
            lambda: sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING",
            150,
            "the execution's end",
            every=DRILL_POLL,
        )
        wait_for(lambda: lab.drill_phase(drill_id) == "done", 60, "the drill's report", every=DRILL_POLL)
    finally:
        lab.sabotage(function, mend=True)

    execution = sfn.describe_execution(executionArn=execution_arn)
    assert execution["status"] == EXECUTION_ENDS[state], execution.get("error")
    assert snapshot(lab) == before
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
    folder = client.download_report(lab.deployment, drill_id, tmp_path)
    report = json.loads((folder / "report.json").read_text())
    assert_valid_report(report)
    assert report["restore_verified"] is True
    assert report["verdict"] == "ERROR", report["findings"]
    codes = [f["code"] for f in report["findings"]]
    if EXECUTION_ENDS[state] == "FAILED":
        assert "EXECUTION_FAILED" in codes
    wait_for(lambda: lab.dns_answer() == [lab.region("primary")["dns_answer"]], 10, "DNS back on the primary")
