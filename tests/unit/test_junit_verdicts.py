"""junit.xml never contradicts the verdict: FAIL is a failure, ERROR and ABORTED an error (CI goes red)."""

from __future__ import annotations

import json

import pytest
from junitparser import Error, Failure, JUnitXml

from drillkit.evidence import junit, report
from drillkit.model import DrillContext

from ..reports import T0, assert_valid_report, drill_context, finished_restore, record_of

BLOCKING = {
    "severity": "high",
    "code": "NO_SECONDARY_RECORD",
    "message": "the record has no SECONDARY: clients have nowhere to fail over to",
    "evidence": "route53:ListResourceRecordSets app.drillkit.lab.",
    "remedy": "Create the SECONDARY failover record.",
    "blocking": True,
}


def _cases(document, tmp_path):
    path = tmp_path / "junit.xml"
    path.write_bytes(junit.render(document))
    suites = JUnitXml.fromfile(str(path))
    return {case.name: case for suite in suites for case in suite}, suites


def _results(case):
    return [type(r) for r in case.result]


def test_a_drill_refused_by_readiness_is_a_failure_in_junit_naming_the_finding(scenario_dict, tmp_path):
    # Given a drill whose readiness check blocked it before anything was injected
    context = DrillContext.model_validate(
        {**drill_context(scenario_dict).model_dump(mode="json"), "blocked": True, "readiness": [BLOCKING]}
    )
    state = {"drill": context.model_dump(mode="json")}

    # When its report and junit.xml are written
    document = report.build(record_of(context, state), [], [], ended_at=T0 + 5)
    cases, suites = _cases(document, tmp_path)

    # Then the verdict is FAIL and the suite holds a failure that names the blocking finding
    assert_valid_report(document)
    assert document["verdict"] == "FAIL"
    assert _results(cases["drill verdict"]) == [Failure]
    failure = cases["drill verdict"].result[0]
    assert failure.type == "ReadinessFailed"
    assert "NO_SECONDARY_RECORD" in failure.message
    assert sum(suite.failures for suite in suites) >= 1


@pytest.mark.parametrize(
    ("state_extra", "verdict"),
    [
        ({"error": {"Error": "NotSteady", "Cause": json.dumps({"errorMessage": "not steady after 60s"})}}, "ERROR"),
        (
            {"ended": {"status": "ABORTED", "error": "DrillStopped", "cause": "stopped by bob: test", "phase": "steady_state"}},
            "ABORTED",
        ),
    ],
)
def test_an_error_or_aborted_drill_is_an_error_in_junit(scenario_dict, tmp_path, state_extra, verdict):
    # Given a drill that did not run to its end
    context = drill_context(scenario_dict)
    state = {
        "drill": context.model_dump(mode="json"),
        **state_extra,
        "restore": finished_restore(T0 + 61, []),
        "verification": {"done": True, "verified": True, "t": T0 + 62, "resources": {}, "note": "nothing was injected"},
    }

    # When its junit.xml is written
    document = report.build(record_of(context, state), [], [], ended_at=T0 + 63)
    cases, suites = _cases(document, tmp_path)

    # Then the suite has an error case: never green
    assert document["verdict"] == verdict
    assert _results(cases["drill completed"]) == [Error]
    assert sum(suite.errors for suite in suites) == 1


def test_a_passing_drill_has_neither_failures_nor_errors(scenario_dict, tmp_path):
    from ..reports import UNDO, finished_state, samples_after_injection

    context = drill_context(scenario_dict)
    document = report.build(record_of(context, finished_state(context)), samples_after_injection(1, 2, 3), UNDO, ended_at=T0 + 60)
    cases, suites = _cases(document, tmp_path)

    assert document["verdict"] == "PASS"
    assert "drill verdict" not in cases and "drill completed" not in cases
    assert sum(suite.failures + suite.errors for suite in suites) == 0
