"""outcome.judge as a specification: given what the steps recorded and the samples, the verdict and findings are these."""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys

import pytest

from drillkit import clock, outcome
from drillkit.milestones import CATALOGUE
from drillkit.model import DrillContext
from drillkit.outcome import DrillSteps
from drillkit.readings import HeartbeatReading, Reading
from drillkit.spec import parse_scenario

from ..reports import T0, T_INJECT, drill_context, finished_state, samples_after_injection

ENDED_AT = T0 + 60
WRITER = "arn:aws:rds:us-east-1:123456789012:cluster:app-primary"
STANDBY = "arn:aws:rds:us-west-2:123456789012:cluster:app-standby"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:heartbeat"


@pytest.fixture
def context(scenario_dict):
    return drill_context(scenario_dict)


def judge(context, state, samples):
    return outcome.judge(context, DrillSteps.from_state(state), samples, ENDED_AT)


def codes(judged) -> list[str]:
    return [finding.code for finding in judged.findings]


def test_every_milestone_on_time_and_a_verified_restore_pass_with_nothing_to_report(context):
    # Given detection 2 s, DNS cutover 3 s and recovery 4 s after injection, within every target
    judged = judge(context, finished_state(context), samples_after_injection(2, 3, 4))

    assert judged.verdict == "PASS" and judged.restore_verified
    assert judged.findings == [] and judged.deviations == []
    assert judged.milestones == {
        "detection": T_INJECT + 2,
        "dns_cutover": T_INJECT + 3,
        "client_cutover": T_INJECT + 3,
        "recovery": T_INJECT + 4,
    }
    assert {name: m.seconds for name, m in judged.measurements.items()} == {
        "detection": 2.0,
        "dns_cutover": 3.0,
        "client_cutover": 3.0,
        "recovery": 4.0,
    }
    # The trimmed demo scenario sets no client cutover target: measured, not judged.
    assert judged.objectives["client_cutover"] == "NOT_JUDGED" and judged.objectives["recovery"] == "PASS"


def test_a_recovery_slower_than_its_target_fails_naming_the_objective_with_the_catalogues_remedy(context):
    # Given clients served by the standby only 35 s after injection (target 30 s)
    judged = judge(context, finished_state(context), samples_after_injection(2, 3, 35))

    assert judged.verdict == "FAIL"
    [missed] = judged.findings
    assert (missed.severity, missed.code, missed.evidence) == ("high", "OBJECTIVE_MISSED", "measurements.recovery")
    assert missed.message == "Recovery (achieved RTO) took 35.0s, target 30s"
    assert missed.remedy == CATALOGUE["recovery"].missed_remedy
    assert judged.deviations == []  # a slow drill still ran as planned


def test_a_standby_that_never_serves_is_a_finding_and_a_deviation_in_the_catalogues_words(context):
    # Given the DNS moved but clients were never served by the standby
    judged = judge(context, finished_state(context), samples_after_injection(2, 3, 1000))

    assert judged.verdict == "FAIL"
    assert "recovery" not in judged.milestones and judged.measurements["recovery"].seconds is None
    [missing] = judged.findings
    timeout = context.scenario.sampling.observe_timeout_seconds
    assert missing.code == "RECOVERY_NOT_REACHED"
    assert missing.message == f"{CATALOGUE['recovery'].not_reached} within {timeout:g}s of injection"
    assert missing.remedy == CATALOGUE["recovery"].not_reached_remedy
    assert judged.deviations == [missing.message]


def test_readings_taken_after_the_restore_started_are_not_judged(context):
    # Given clients served by the standby from 4 s after injection, but the restore started at 3.5 s
    samples = samples_after_injection(2, 3, 4)
    state = finished_state(context)
    state["restore"]["started_at"] = T_INJECT + 3.5

    judged = judge(context, state, samples)

    assert judged.measurements["recovery"].seconds is None and "RECOVERY_NOT_REACHED" in codes(judged)
    assert judge(context, finished_state(context), samples).measurements["recovery"].seconds == 4.0


def test_a_stop_condition_aborts_and_milestones_cut_short_are_not_blamed_on_the_stack(context):
    # Given an alarm named as stop condition that fired before the DNS moved
    state = finished_state(context)
    state["observation"]["stopped_by"] = ["payments-5xx"]
    judged = judge(context, state, samples_after_injection(2, 1000, 1000))

    assert judged.verdict == "ABORTED"
    assert codes(judged) == ["STOP_CONDITION"]
    assert "payments-5xx" in judged.deviations[0]


def test_an_execution_that_ended_under_the_drill_is_aborted_and_says_during_which_phase(context):
    # Given the safety net's record that the execution was stopped while observing
    state = finished_state(context)
    state["ended"] = {"status": "ABORTED", "execution_arn": "arn:aws:states:x", "phase": "observe"}
    judged = judge(context, state, samples_after_injection(2, 1000, 1000))

    assert judged.verdict == "ABORTED"
    [ended] = judged.findings
    assert ended.code == "EXECUTION_ABORTED" and "during observe" in ended.message
    assert ended.evidence == "Step Functions execution arn:aws:states:x"


@pytest.mark.parametrize(
    ("caught", "code", "reason"),
    [
        ({"Error": "DrillRejected", "Cause": "rejected by bob: change freeze"}, "APPROVAL_REJECTED", "rejected by bob"),
        ({"Error": "States.Timeout", "Cause": ""}, "APPROVAL_TIMED_OUT", "States.Timeout"),
    ],
)
def test_a_drill_not_approved_is_aborted_and_its_restore_holds_as_nothing_was_injected(context, caught, code, reason):
    protected = context.model_copy(update={"approval_required": True})
    judged = judge(protected, {"drill": protected.model_dump(mode="json"), "approval_error": caught}, [])

    assert judged.verdict == "ABORTED" and judged.restore_verified
    assert judged.verification is not None and judged.verification.note == "not approved: nothing was injected"
    assert codes(judged) == [code] and reason in judged.findings[0].message
    assert judged.declined is not None and judged.failures == [] and judged.measurements == {}


def test_an_approval_step_that_broke_is_a_failure_of_the_drill_not_a_refusal(context):
    protected = context.model_copy(update={"approval_required": True})
    caught = {"Error": "ResourceNotFoundException", "Cause": json.dumps({"errorMessage": "ledger table not found"})}
    judged = judge(protected, {"drill": protected.model_dump(mode="json"), "approval_error": caught}, [])

    assert judged.verdict == "ERROR" and judged.declined is None
    [failure] = judged.failures
    assert (failure.key, failure.stage, failure.error.message) == ("error", "drill", "ledger table not found")


def test_a_restore_that_failed_is_a_critical_error_with_the_lambda_errors_message(context):
    # Given the Restore step's Catch result: a Lambda error whose cause is the runtime's JSON
    state = finished_state(context, verified=False)
    cause = {"errorType": "RestoreFailed", "errorMessage": "hc-1: still inverted"}
    state["restore_error"] = {"Error": "RestoreFailed", "Cause": json.dumps(cause)}
    judged = judge(context, state, samples_after_injection(2, 3, 4))

    assert judged.verdict == "ERROR" and not judged.restore_verified
    assert codes(judged) == ["RestoreFailed", "RESTORE_NOT_VERIFIED"]
    failed = judged.findings[0]
    assert (failed.severity, failed.message) == ("critical", "hc-1: still inverted")
    assert judged.deviations == ["the restore stage failed with RestoreFailed: hc-1: still inverted"]


def test_an_unverified_restore_fails_a_drill_whose_objectives_all_passed(context):
    judged = judge(context, finished_state(context, verified=False), samples_after_injection(1, 1, 1))

    assert judged.verdict == "FAIL"
    [unverified] = judged.findings
    assert (unverified.severity, unverified.code, unverified.message) == (
        "critical",
        "RESTORE_NOT_VERIFIED",
        "primary not serving",
    )


def test_a_drill_readiness_refused_fails_with_the_readiness_findings_and_names_the_blocking_one(context):
    readiness = [
        {
            "severity": "high",
            "code": "NO_STANDBY_RECORD",
            "message": "no SECONDARY record",
            "blocking": True,
            "evidence": "route53:ListResourceRecordSets app.drillkit.lab.",
            "remedy": "create the SECONDARY record",
        },
        {
            "severity": "low",
            "code": "TTL_ABOVE_60",
            "message": "TTL 300 s",
            "blocking": False,
            "remedy": "lower the TTL",
            "evidence": "route53:ListResourceRecordSets app.drillkit.lab.",
        },
    ]
    blocked = DrillContext.model_validate({**context.model_dump(mode="json"), "blocked": True, "readiness": readiness})
    judged = judge(blocked, {"drill": blocked.model_dump(mode="json")}, [])

    assert judged.verdict == "FAIL" and judged.restore_verified
    assert [finding.report() for finding in judged.findings] == [
        {key: readiness[0][key] for key in ("severity", "code", "message", "evidence", "remedy")},
        {key: readiness[1][key] for key in ("severity", "code", "message", "evidence", "remedy")},
    ]
    assert judged.deviations == ["readiness refused the drill before injection: NO_STANDBY_RECORD"]


# -- RPO --------------------------------------------------------------------------------------
def heartbeat_drill(context, scenario_dict, fault: dict):
    changed = copy.deepcopy(scenario_dict)
    changed["objectives"]["rpo_seconds"] = 5
    changed["data"] = {"heartbeat": {"primary_cluster_arn": WRITER, "standby_cluster_arn": STANDBY, "secret_arn": SECRET}}
    changed["fault"] = fault
    return context.model_copy(update={"scenario": parse_scenario(changed)})


def heartbeat_state(context, fault_type: str, resource_id: str, store: str, newest_written_at: float | None):
    state = finished_state(context)
    state["injection"] = {**state["injection"], "fault": fault_type, "resource_id": resource_id}
    state["observation"]["surviving_heartbeat"] = {
        "t": T0 + 45,
        "cluster_arn": store,
        "why": "writer of the global database",
        "written_at": newest_written_at,
    }
    return state


# One heartbeat a second from T0 + 5, every one acknowledged by the writer; the last one at T0 + 39.
HEARTBEATS: list[Reading] = [HeartbeatReading(t=T0 + 5 + i, seq=i, ok=True) for i in range(35)]
FAILOVER = {"type": "stop-cluster", "method": "global-failover", "cluster": WRITER}


def test_a_failover_that_loses_more_than_the_rpo_target_fails_with_the_rpo_remedy(context, scenario_dict):
    # Given the newest heartbeat in the promoted standby was written 19 s before the last acknowledged one
    drill = heartbeat_drill(context, scenario_dict, FAILOVER)
    state = heartbeat_state(drill, "stop-cluster", WRITER, STANDBY, newest_written_at=T0 + 20)
    judged = judge(drill, state, samples_after_injection(2, 3, 4) + HEARTBEATS)

    assert judged.verdict == "FAIL"
    rpo = judged.measurements["rpo"]
    assert (rpo.kind, rpo.seconds, rpo.passed) == ("measured", 19.0, False)
    [missed] = judged.findings
    assert missed.message == "Data loss (achieved RPO) was 19.0s, target 5s"
    assert missed.remedy == CATALOGUE["rpo"].missed_remedy
    assert judged.rpo_read == outcome.RpoRead(t=T0 + 45, store=STANDBY, seconds=19.0)


def test_a_failover_after_which_no_heartbeat_survives_is_data_not_replicated(context, scenario_dict):
    drill = heartbeat_drill(context, scenario_dict, FAILOVER)
    state = heartbeat_state(drill, "stop-cluster", WRITER, STANDBY, newest_written_at=None)
    judged = judge(drill, state, samples_after_injection(2, 3, 4) + HEARTBEATS)

    assert judged.verdict == "FAIL"
    assert codes(judged) == ["DATA_NOT_REPLICATED", "OBJECTIVE_MISSED"]
    assert judged.findings[0].severity == "critical" and "35 acknowledged heartbeats" in judged.findings[0].message
    assert judged.findings[0].message.startswith("data not replicated: no heartbeat of this drill is readable in")
    assert judged.rpo_read is None


def test_a_fault_that_moves_no_writer_leaves_the_rpo_not_applicable_and_the_drill_passes(context, scenario_dict):
    drill = heartbeat_drill(context, scenario_dict, copy.deepcopy(scenario_dict["fault"]))
    state = heartbeat_state(drill, "health-check-inversion", "hc-1", STANDBY, newest_written_at=T0 + 30)
    judged = judge(drill, state, samples_after_injection(2, 3, 4) + HEARTBEATS)

    assert judged.verdict == "PASS"
    assert judged.objectives["rpo"] == "NOT_APPLICABLE"
    assert [(f.severity, f.code) for f in judged.findings] == [("info", "RPO_NOT_APPLICABLE")]
    # Read in a replica, the gap is replication lag: context, never a judged RPO.
    assert judged.data_integrity is not None and judged.data_integrity.not_applicable_because
    assert judged.data_integrity.window.observed_replication_lag_seconds == 9.0


def test_judging_is_pure_it_loads_neither_the_aws_sdk_nor_drillkits_adapters():
    # Given a fresh interpreter, When only outcome is imported, Then nothing that reaches AWS is loaded
    probe = "import sys, drillkit.outcome; print(sorted(m for m in sys.modules if m.startswith(('boto', 'drillkit'))))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout

    assert "boto" not in loaded
    assert not {"drillkit.aws", "drillkit.ledger", "drillkit.evidence"} & set(ast.literal_eval(loaded))


def test_judging_never_reads_the_clock(context, monkeypatch):
    # Given a clock that breaks when read (the record's models live beside it; judging takes ended_at instead)
    def no_clock() -> float:
        raise AssertionError("judging read the clock")

    monkeypatch.setattr(clock, "now", no_clock)

    # When a drill is judged, Then it is judged from its inputs alone
    assert judge(context, finished_state(context), samples_after_injection(2, 3, 4)).verdict == "PASS"
