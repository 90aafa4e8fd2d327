"""report.build for every outcome: the fields an auditor needs, valid against the published schema."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET

import pytest
from aws_lambda_powertools import Metrics
from junitparser import Error, Failure, JUnitXml, Skipped

from drillkit.evidence import chart, junit, report, summary
from drillkit.evidence import metrics as drill_metrics
from drillkit.readings import HeartbeatReading
from drillkit.spec import parse_scenario

from ..reports import (
    T0,
    UNDO,
    assert_valid_report,
    drill_context,
    finished_restore,
    finished_state,
    record_of,
    samples_after_injection,
    schema_errors,
)


@pytest.fixture
def context(scenario_dict):
    return drill_context(scenario_dict)


def build(context, state, samples, **kwargs):
    return report.build(record_of(context, state), samples, UNDO if state.get("injection") else [], ended_at=T0 + 60, **kwargs)


def test_a_passing_drill_has_every_section_and_matches_the_schema(context):
    document = build(
        context,
        finished_state(context),
        samples_after_injection(2, 3, 4),
        previous=None,
        notify_targets=["arn:aws:sns:us-east-1:123456789012:t"],
    )

    assert_valid_report(document)
    assert document["verdict"] == "PASS"
    assert document["results"]["objectives"] == {
        "detection": "PASS",
        "dns_cutover": "PASS",
        "client_cutover": "NOT_JUDGED",
        "recovery": "PASS",
    }
    assert document["measurements"]["detection"]["seconds"] == 2.0
    assert all(m["kind"] == "measured" for m in document["measurements"].values())
    assert document["results"]["estimates"] == {}
    assert document["identity"]["previous_drill"] is None
    assert document["identity"]["exercise_type"] == "switchover"
    assert document["identity"]["scope"]["accounts"] == ["123456789012"]
    assert document["people"] == {
        "requested_by": "alice",
        "approved_by": None,
        "notified": [{"channel": "sns", "target": "arn:aws:sns:us-east-1:123456789012:t", "when": "after the report is sealed"}],
    }
    assert [s["actor"] for s in document["execution"]["steps"]] == [
        "drillkit:Preflight",
        "drillkit:SteadyState",
        "drillkit:Inject",
        "drillkit:Observe",
        "drillkit:Restore",
        "drillkit:VerifyRestore",
        "drillkit:Report",
    ]
    assert document["execution"]["restore_started_at"].endswith("Z")
    assert document["findings"] == []
    clauses = {(f["framework"], f["clause"]) for f in document["identity"]["frameworks"]}
    assert ("nist", "CP-4(4)") in clauses and ("dora", "Art. 12, RTS 2024/1774 Art. 25") in clauses


def test_a_missed_objective_fails_with_a_finding_that_names_it_and_suggests_a_remedy(context):
    document = build(context, finished_state(context), samples_after_injection(2, 3, 35))  # recovery target is 30 s

    assert_valid_report(document)
    assert document["verdict"] == "FAIL"
    assert document["results"]["objectives"]["recovery"] == "FAIL"
    missed = [f for f in document["findings"] if f["code"] == "OBJECTIVE_MISSED"]
    assert len(missed) == 1 and "Recovery" in missed[0]["message"] and missed[0]["remedy"]
    assert missed[0]["evidence"] == "measurements.recovery"


def test_an_unverified_restore_fails_the_drill_even_when_every_objective_passed(context):
    document = build(context, finished_state(context, verified=False), samples_after_injection(1, 1, 1))

    assert_valid_report(document)
    assert document["verdict"] == "FAIL"
    assert document["results"]["restore"] == "FAIL"
    assert [f["code"] for f in document["findings"]] == ["RESTORE_NOT_VERIFIED"]


def test_a_drill_that_never_injected_is_an_error_with_no_measurements(context):
    state = {
        "drill": context.model_dump(mode="json"),
        "error": {"Error": "NotSteady", "Cause": json.dumps({"errorMessage": "not in steady state after 60s"})},
        "restore": finished_restore(T0 + 61, []),
        "verification": {"done": True, "verified": True, "t": T0 + 62, "resources": {}, "note": "nothing was injected"},
    }
    document = build(context, state, [])

    assert_valid_report(document)
    assert document["verdict"] == "ERROR"
    assert document["injected_at"] is None and document["measurements"] == {}
    assert document["findings"][0]["code"] == "NotSteady"
    assert document["execution"]["deviations"] == ["the drill stage failed with NotSteady: not in steady state after 60s"]
    html = report.render_html(document, [])
    assert "Nothing in the environment was changed." in html and "put back" not in html
    assert "No probe readings were taken" in html and "No measurement: the fault was not injected" in html
    assert "(nothing measured: the fault was not injected)" in summary.render(document).decode()
    assert b'type="NotSteady"' in junit.render(document)


@pytest.mark.parametrize(
    ("caught", "code", "said"),
    [
        ({"Error": "DrillRejected", "Cause": "rejected by bob: change freeze"}, "APPROVAL_REJECTED", "rejected by bob"),
        ({"Error": "States.Timeout", "Cause": ""}, "APPROVAL_TIMED_OUT", "States.Timeout"),
    ],
)
def test_a_protected_drill_not_approved_is_aborted_with_nothing_injected_and_says_why(context, caught, code, said):
    protected = context.model_copy(update={"approval_required": True})
    state = {"drill": protected.model_dump(mode="json"), "approval_error": caught}

    document = build(protected, state, [])

    assert_valid_report(document)
    assert document["verdict"] == "ABORTED"
    assert document["restore_verified"] is True  # nothing to put back
    assert document["injected_at"] is None and document["measurements"] == {}
    assert [f["code"] for f in document["findings"]] == [code]
    assert said in document["findings"][0]["message"] and "nothing was injected" in document["findings"][0]["message"]
    assert document["people"]["approved_by"] is None


def test_an_approval_step_that_broke_is_an_error_not_a_rejection(context):
    protected = context.model_copy(update={"approval_required": True})
    caught = {"Error": "ResourceNotFoundException", "Cause": json.dumps({"errorMessage": "ledger table not found"})}

    document = build(protected, {"drill": protected.model_dump(mode="json"), "approval_error": caught}, [])

    assert_valid_report(document)
    assert document["verdict"] == "ERROR"
    assert [f["code"] for f in document["findings"]] == ["ResourceNotFoundException"]


def test_an_approved_drill_names_its_approver_and_the_approval_step(context):
    protected = context.model_copy(update={"approval_required": True})
    state = {**finished_state(protected), "approval": {"approved_by": "bob", "approved_at": T0 - 30}}

    document = build(protected, state, samples_after_injection(2, 3, 4))

    assert_valid_report(document)
    assert document["verdict"] == "PASS"
    assert document["people"]["approved_by"] == "bob"
    assert "drillkit:AwaitApproval" in [s["actor"] for s in document["execution"]["steps"]]


def test_the_previous_drill_of_the_scenario_is_recorded(context):
    previous = {
        "drill_id": "region-failover-1",
        "started_at": "2026-11-01T00:00:00.000Z",
        "ended_at": "2026-11-01T00:01:00.000Z",
        "verdict": "FAIL",
        "report_key": "drills/region-failover-1/report.json",
    }
    document = build(context, finished_state(context), samples_after_injection(1, 1, 1), previous=previous)

    assert_valid_report(document)
    assert document["identity"]["previous_drill"] == previous


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("verdict",), "MAYBE", "verdict"),
        (("measurements", "detection", "kind"), "estimated", "measurements/detection/kind"),
        (("measurements", "guess"), {"seconds": 1}, "measurements"),
        (("started_at",), "2026-11-17 10:00", "started_at"),
        (("findings",), [{"severity": "bad", "code": "X", "message": "m"}], "findings/0/severity"),
        (("restore_verified",), False, "restore_verified"),  # PASS requires a verified restore
    ],
)
def test_the_schema_rejects_a_broken_report_naming_the_field(context, path, value, named):
    document = copy.deepcopy(build(context, finished_state(context), samples_after_injection(1, 1, 1)))
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value

    problems = schema_errors(document)
    assert problems and any(p.startswith(named) for p in problems), problems


def test_junit_has_one_case_per_objective_and_one_for_the_restore_and_fails_missed_ones(context, tmp_path):
    document = build(context, finished_state(context, verified=False), samples_after_injection(2, 3, 35))
    path = tmp_path / "junit.xml"
    path.write_bytes(junit.render(document))

    suites = JUnitXml.fromfile(str(path))
    cases = {case.name: case for suite in suites for case in suite}
    assert set(cases) == {
        "objective: Detection",
        "objective: DNS cutover (authoritative)",
        "objective: DNS cutover (client-observed)",
        "objective: Recovery (achieved RTO)",
        "restore verified",
    }
    assert cases["objective: Detection"].is_passed
    assert isinstance(cases["objective: Recovery (achieved RTO)"].result[0], Failure)
    assert "target 30 s" in cases["objective: Recovery (achieved RTO)"].result[0].message
    assert isinstance(cases["restore verified"].result[0], Failure)
    suite = next(iter(suites))
    assert (suite.tests, suite.failures, suite.errors) == (5, 2, 0)


def test_junit_reports_an_error_case_when_the_drill_did_not_finish_and_skips_unjudged_objectives(
    context, scenario_dict, tmp_path
):
    state = finished_state(context)
    state["error"] = {"Error": "AwsCallFailed", "Cause": "UpdateHealthCheck on hc-1 failed"}
    unjudged = context.model_copy(update={"scenario": parse_scenario({**scenario_dict, "objectives": {"detection_seconds": 10}})})
    path = tmp_path / "junit.xml"
    path.write_bytes(junit.render(build(unjudged, state, samples_after_injection(1, 1, 1))))

    cases = {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}
    assert isinstance(cases["drill completed"].result[0], Error)
    assert cases["drill completed"].result[0].type == "AwsCallFailed"
    assert isinstance(cases["objective: Recovery (achieved RTO)"].result[0], Skipped)


def test_summary_md_is_a_ticket_ready_table_with_findings(context):
    document = build(context, finished_state(context), samples_after_injection(2, 3, 35))
    text = summary.render(document).decode()

    assert text.startswith("## DR drill FAIL: region-failover-health-check v1")
    assert "| Recovery (achieved RTO) | 35.00 s | ± 1.00 s | 30 s | **missed** |" in text
    assert "`OBJECTIVE_MISSED`" in text and "Remedy:" in text


def test_report_html_is_self_contained_and_escapes_what_it_shows(context):
    state = finished_state(context)
    state["error"] = {"Error": "AwsCallFailed", "Cause": "<script>alert(1)</script>"}
    samples = samples_after_injection(2, 3, 4)
    html = report.render_html(build(context, state, samples), samples)

    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    ET.fromstring(html[html.index("<svg") : html.index("</svg>") + 6])  # the timeline is well-formed SVG


def test_the_html_timeline_draws_every_reading_each_milestone_and_each_target(context):
    samples = samples_after_injection(2, 3, 4)
    document = build(context, finished_state(context), samples)
    html = report.render_html(document, samples)
    svg = ET.fromstring(html[html.index("<svg") : html.index("</svg>") + 6])
    ns = "{http://www.w3.org/2000/svg}"

    texts = [t.text for t in svg.iter(ns + "text")]
    texts += [part for t in texts if t and ", " in t for part in t.split(", ")]
    assert len([c for c in svg.iter(ns + "circle") if c.find(ns + "title") is not None]) == len(samples)
    for label in ("fault injected", "detection", "DNS cutover", "recovery", "restored", "restore verified"):
        assert label in texts, label
    assert "target Recovery (achieved RTO) 30 s" in texts
    assert html.index("Restore verified") < html.index("<svg") < html.index("Measurements against targets")


def test_milestones_at_the_same_moment_share_one_label_and_labels_stay_inside_the_chart(context):
    samples = samples_after_injection(0, 0, 0)
    document = build(context, finished_state(context), samples)
    drawn = chart.timeline(document, samples)

    first = drawn["labels"][0]["text"]
    assert first == "fault injected, detection, DNS cutover, client cutover, recovery"
    for label in drawn["labels"] + drawn["targets"]:
        width = chart.CHAR_WIDTH * len(label["text"])
        left, right = (label["x"], label["x"] + width) if label["anchor"] == "start" else (label["x"] - width, label["x"])
        assert 0 <= left and right <= drawn["width"], label


def test_drill_metrics_are_emf_in_the_drillkit_namespace_with_only_reached_measurements():
    metrics = Metrics(namespace="drillkit", service="drillkit")
    try:
        drill_metrics.record(
            metrics,
            {
                "drill_id": "d-0001",
                "scenario": "region-failover-health-check",
                "verdict": "FAIL",
                "restore_verified": True,
                "measurements": {"detection": 1.25, "dns_cutover": 2.5, "recovery": None},
            },
        )
        emf = metrics.serialize_metric_set()
    finally:
        metrics.clear_metrics()

    definition = emf["_aws"]["CloudWatchMetrics"][0]
    assert definition["Namespace"] == "drillkit"
    assert ["scenario", "service"] in definition["Dimensions"]
    names = {m["Name"] for m in definition["Metrics"]}
    assert names == {"Drills", "DrillPassed", "RestoreVerified", "DetectionSeconds", "DnsCutoverSeconds"}
    assert (emf["DetectionSeconds"], emf["DrillPassed"], emf["RestoreVerified"]) == ([1.25], [0.0], [1.0])
    assert emf["drill_id"] == "d-0001" and emf["scenario"] == "region-failover-health-check"


# -- RPO: judged only where the fault moves the writer --------------------------------------------
HEARTBEAT = {
    "primary_cluster_arn": "arn:aws:rds:us-east-1:123456789012:cluster:app-primary",
    "standby_cluster_arn": "arn:aws:rds:us-west-2:123456789012:cluster:app-standby",
    "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:hb",
}


def with_heartbeat(context, scenario_dict, fault: dict | None = None):
    changed = copy.deepcopy(scenario_dict)
    changed["objectives"]["rpo_seconds"] = 1
    changed["data"] = {"heartbeat": HEARTBEAT}
    if fault:
        changed["fault"] = fault
    return context.model_copy(update={"scenario": parse_scenario(changed)})


def heartbeat_state(context, surviving_store: str, injection_fault: str = "health-check-inversion", resource_id: str = "hc-1"):
    state = finished_state(context)
    state["injection"] = {**state["injection"], "fault": injection_fault, "resource_id": resource_id}
    # Every heartbeat acknowledged, the newest one read back from the store the canary picked.
    state["observation"]["surviving_heartbeat"] = {
        "t": T0 + 40,
        "cluster_arn": surviving_store,
        "why": "writer of global database app-global",
        "seq": 1,
        "written_at": T0 + 39,
    }
    return state


def heartbeats() -> list[HeartbeatReading]:
    return [HeartbeatReading(t=T0 + 5 + i, seq=i, ok=True) for i in range(35)]


def test_rpo_is_not_applicable_and_never_met_when_the_fault_moves_no_writer(context, scenario_dict, tmp_path):
    inversion = with_heartbeat(context, scenario_dict)
    state = heartbeat_state(inversion, HEARTBEAT["primary_cluster_arn"])

    document = build(inversion, state, samples_after_injection(2, 3, 4) + heartbeats())

    assert_valid_report(document)
    assert document["schema_version"] == report.REPORT_SCHEMA_VERSION == "1.4"
    rpo = document["measurements"]["rpo"]
    assert (rpo["kind"], rpo["seconds"], rpo["passed"], rpo["target_seconds"]) == ("not_applicable", None, None, 1)
    assert "health-check-inversion fault does not move the database writer" in rpo["reason"]
    assert rpo["detail"]["observed_replication_lag_seconds"] is None  # the canary read its own writer back
    assert document["results"]["objectives"]["rpo"] == "NOT_APPLICABLE"
    assert document["results"]["data_integrity"]["rpo_applicable"] is False
    assert document["verdict"] == "PASS"
    assert [(f["severity"], f["code"]) for f in document["findings"]] == [("info", "RPO_NOT_APPLICABLE")]
    assert (
        "| Data loss (achieved RPO) | - | ± 0.50 s | 1 s | not applicable: the health-check-inversion fault"
        in summary.render(document).decode()
    )
    assert "not applicable: the health-check-inversion fault" in report.render_html(document, [])
    path = tmp_path / "junit.xml"
    path.write_bytes(junit.render(document))
    cases = {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}
    [skipped] = cases["objective: Data loss (achieved RPO)"].result
    assert isinstance(skipped, Skipped) and skipped.message.startswith("not applicable: the health-check-inversion fault")


def test_rpo_is_judged_when_the_fault_fails_the_heartbeats_writer_over(context, scenario_dict):
    failover = {"type": "stop-cluster", "method": "global-failover", "cluster": HEARTBEAT["primary_cluster_arn"]}
    drill = with_heartbeat(context, scenario_dict, failover)
    state = heartbeat_state(drill, HEARTBEAT["standby_cluster_arn"], "stop-cluster", HEARTBEAT["primary_cluster_arn"])

    document = build(drill, state, samples_after_injection(2, 3, 4) + heartbeats())

    assert_valid_report(document)
    rpo = document["measurements"]["rpo"]
    assert (rpo["kind"], rpo["seconds"], rpo["passed"]) == ("measured", 0.0, True)
    assert "reason" not in rpo
    assert document["results"]["objectives"]["rpo"] == "PASS"


def test_the_schema_refuses_a_not_applicable_objective_that_was_judged_or_has_no_reason(context, scenario_dict):
    inversion = with_heartbeat(context, scenario_dict)
    document = build(
        inversion, heartbeat_state(inversion, HEARTBEAT["primary_cluster_arn"]), samples_after_injection(2, 3, 4) + heartbeats()
    )

    judged = copy.deepcopy(document)
    judged["measurements"]["rpo"].update(seconds=0.0, passed=True)
    assert any(e.startswith("measurements/rpo") for e in schema_errors(judged))
    unexplained = copy.deepcopy(document)
    del unexplained["measurements"]["rpo"]["reason"]
    assert any(e.startswith("measurements/rpo") for e in schema_errors(unexplained))
