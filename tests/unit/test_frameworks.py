"""Which clauses a set of reports evidences, and what the export says is missing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from drillkit.errors import ExportFailed
from drillkit.evidence import frameworks, report

from ..reports import T0, UNDO, drill_context, finished_state, record_of, samples_after_injection


@pytest.fixture
def passed(scenario_dict) -> dict:
    context = drill_context(scenario_dict)
    document = report.build(record_of(context, finished_state(context)), samples_after_injection(1, 2, 3), UNDO, ended_at=T0 + 60)
    document["integrity"]["retention"] = {
        "mode": "COMPLIANCE",
        "days": 2190,
        "retain_until": "2032-11-15T00:00:00.000Z",
        "source": "x",
    }
    return document


def row(rows: list[dict], clause: str) -> dict:
    return next(r for r in rows if r["clause"] == clause)


def test_a_yearly_clause_is_missing_when_the_last_drill_is_older_than_twelve_months(passed):
    rows = frameworks.assess([passed], "pci-dss", datetime(2028, 1, 31, tzinfo=UTC))  # the drill ran in November 2026

    assert row(rows, "12.10.2")["status"] == "partial"
    assert "no drill in the 12 months before 2028-01-31" in row(rows, "12.10.2")["missing"]
    assert row(frameworks.assess([passed], "pci-dss", datetime(2026, 12, 31, tzinfo=UTC)), "12.10.2")["status"] == "evidenced"


def test_an_unverified_restore_does_not_evidence_reconstitution(passed):
    failed = copy.deepcopy(passed)
    failed["restore_verified"] = False

    rows = frameworks.assess([failed], "nist", datetime(2026, 12, 31, tzinfo=UTC))

    assert row(rows, "CP-4(4)") == {
        **row(rows, "CP-4(4)"),
        "status": "missing",
        "missing": ["restore not verified"],
        "drills": [],
    }


def test_retention_is_evidenced_only_by_a_six_year_object_lock(passed):
    short = copy.deepcopy(passed)
    short["integrity"]["retention"] = {
        "mode": None,
        "days": None,
        "retain_until": None,
        "source": "no default Object Lock retention",
    }
    end = datetime(2026, 12, 31, tzinfo=UTC)

    assert row(frameworks.assess([passed], "hipaa", end), "45 CFR 164.316(b)(2)(i)")["status"] == "partial"  # unsigned here
    assert (
        "evidence not under a 6-year Object Lock retention"
        in row(frameworks.assess([short], "hipaa", end), "45 CFR 164.316(b)(2)(i)")["missing"]
    )


def test_an_empty_period_leaves_every_clause_missing():
    rows = frameworks.assess([], None, datetime(2026, 12, 31, tzinfo=UTC))

    assert {r["status"] for r in rows} == {"missing"}
    assert len(rows) == len(frameworks.CLAUSES)
    with pytest.raises(ExportFailed, match="unknown framework 'sox'"):
        frameworks.clauses_of("sox")
