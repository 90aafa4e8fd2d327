"""Waits longer than the Lambda function that waits: they continue in the next invocation, through the state machine.

The lab runs each function with its template timeout (120-900 s); ``POST /_lab/function-timeout`` shortens one
for a test, so that a wait of a few seconds outlasts it, as a 20-minute wait outlasts a 15-minute function in AWS.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest
import yaml

from drillkit import client
from drillkit.spec import parse_scenario

from ..conftest import DEMO_SCENARIO
from ..reports import assert_valid_report
from .conftest import DRILL_POLL, RunningLab, run_drill, wait_for

pytestmark = pytest.mark.lab
SHORT_TIMEOUT = 4.0
# 10 steady readings 0.5 s apart: about 5 s of sampling, more than one 4-second invocation can do (each starts
# readings until its end less a 1 s margin and the probe timeout + 1 s kept for the last reading).
STEADY_SAMPLES = 10
PROBE_TIMEOUT = 0.5
SAFETY_NET_TIMEOUT = 8.0
SAFETY_NET_STEADY_SAMPLES = 20


def function_timeout(lab: RunningLab, function: str, seconds: float | None) -> dict:
    """Shorten a drillkit function's timeout in the lab (None: back to the template's)."""
    spec = {"function": function, **({"reset": True} if seconds is None else {"timeout_seconds": seconds})}
    request = urllib.request.Request(lab.deployment.endpoint_url + "/_lab/function-timeout", data=json.dumps(spec).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def short_timeouts(lab: RunningLab) -> Iterator[list[str]]:
    shortened: list[str] = []
    yield shortened
    for function in shortened:
        function_timeout(lab, function, None)


def slow_to_steady_scenario(steady_samples: int = STEADY_SAMPLES) -> dict:
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    scenario["sampling"]["steady_state_samples"] = steady_samples
    scenario["sampling"]["probe_timeout_seconds"] = PROBE_TIMEOUT
    return scenario


def entered(lab: RunningLab, execution_arn: str, machine_state: str) -> int:
    history = lab.deployment.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return sum(1 for e in history["events"] if e.get("stateEnteredEventDetails", {}).get("name") == machine_state)


def test_steady_state_and_verification_longer_than_their_functions_continue_in_the_next_invocation(lab, short_timeouts, tmp_path):
    for function in ("SteadyStateFunction", "VerifyRestoreFunction"):
        assert function_timeout(lab, function, SHORT_TIMEOUT)["timeout_seconds"] == SHORT_TIMEOUT
        short_timeouts.append(function)

    report = run_drill(lab, slow_to_steady_scenario(), tmp_path)

    assert_valid_report(report)
    assert report["verdict"] == "PASS", report["findings"]
    assert report["restore_verified"] is True
    [execution] = [e for e in lab.executions() if e["name"] == report["drill_id"]]
    # Each wait took several invocations: the machine looped SteadyState -> SteadyStateDone -> SteadyState.
    assert entered(lab, execution["executionArn"], "SteadyState") >= 2
    assert entered(lab, execution["executionArn"], "VerifyRestore") >= 2


def test_the_safety_net_verifies_longer_than_its_function_and_still_restores_and_reports(lab, short_timeouts, tmp_path):
    original_inverted = lab.primary_inverted()
    # The safety net's report (rendered, sealed, signed) needs a few seconds of its own, on a busy machine more:
    # its function gets 8 s, and verification needs 20 readings 0.5 s apart (10 s), more than one invocation.
    request = client.drill_request(lab.deployment, parse_scenario(slow_to_steady_scenario(SAFETY_NET_STEADY_SAMPLES)), "test")
    drill_id = request["drill_id"]
    execution_arn = client.start(lab.deployment, request)
    wait_for(lambda: lab.drill_phase(drill_id) == "observe", 60, "drill in phase observe", every=DRILL_POLL)
    # Shortened once the drill's own steady state is over: only the safety net's invocations are short.
    function_timeout(lab, "SafetyNetFunction", SAFETY_NET_TIMEOUT)
    short_timeouts.append("SafetyNetFunction")

    lab.deployment.client("stepfunctions").stop_execution(executionArn=execution_arn, error="Stopped", cause="stopped by a test")
    stopped_at = time.time()

    wait_for(lambda: lab.drill_phase(drill_id) == "done", 60, "the safety net's report", every=DRILL_POLL)
    assert lab.primary_inverted() is original_inverted
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
    rescue_arn = _rescued_and_reported(lab, drill_id, stopped_at, tmp_path)
    assert entered(lab, rescue_arn, "Verify") >= 2


def test_the_safety_net_restores_a_database_switch_back_that_takes_several_calls_then_reports(lab, tmp_path):
    """A global switchover stopped during observation: the switch back takes the lab's Aurora seconds, several Restore calls."""
    scenario = yaml.safe_load((DEMO_SCENARIO.parent / "global-database-switchover.yaml").read_text())
    primary_arn = lab.region("primary")["db_cluster_arn"]
    request = client.drill_request(lab.deployment, parse_scenario(scenario), "test")
    drill_id = request["drill_id"]
    execution_arn = client.start(lab.deployment, request)
    wait_for(lambda: lab.drill_phase(drill_id) == "observe", 60, "drill in phase observe", every=DRILL_POLL)
    lab.deployment.client("stepfunctions").stop_execution(executionArn=execution_arn, error="Stopped", cause="stopped by a test")
    stopped_at = time.time()

    wait_for(lambda: lab.drill_phase(drill_id) == "done", 90, "the safety net's report", every=DRILL_POLL)
    rds = lab.client("rds", lab.region("primary")["region"])
    [global_cluster] = rds.describe_global_clusters(GlobalClusterIdentifier=lab.info["global_cluster_id"])["GlobalClusters"]
    assert [m["DBClusterArn"] for m in global_cluster["GlobalClusterMembers"] if m["IsWriter"]] == [primary_arn]
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
    rescue_arn = _rescued_and_reported(lab, drill_id, stopped_at, tmp_path)
    assert entered(lab, rescue_arn, "Restore") >= 2
    assert entered(lab, rescue_arn, "WaitForRestore") >= 1


def _rescued_and_reported(lab, drill_id: str, stopped_at: float, tmp_path) -> str:
    """The stopped drill's report says ABORTED with its restore verified; returns the safety net's execution."""
    folder = client.download_report(lab.deployment, drill_id, tmp_path)
    report = json.loads((folder / "report.json").read_text())
    assert_valid_report(report)
    assert (report["verdict"], report["restore_verified"]) == ("ABORTED", True)
    rescues = lab.deployment.client("stepfunctions").list_executions(stateMachineArn=lab.info["state_machines"]["safety_net"])
    [rescue] = [e for e in rescues["executions"] if e["startDate"].timestamp() >= stopped_at - 1]
    return rescue["executionArn"]
