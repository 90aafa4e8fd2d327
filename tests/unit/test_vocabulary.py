"""One vocabulary: every milestone and objective has its words in the catalogue; one parser of an error's cause."""

from __future__ import annotations

import json

import pytest

from drillkit import cli, client, measure
from drillkit.errors import CaughtError, error_message
from drillkit.evidence import chart
from drillkit.milestones import CATALOGUE, LABELS, label


def test_every_milestone_a_drill_can_expect_has_a_catalogue_entry_with_its_not_reached_words():
    expected = measure.expected_milestones(has_alarms=True)

    assert set(expected) == set(measure.MILESTONES)
    for name in expected:
        milestone = CATALOGUE[name]
        assert milestone.not_reached and milestone.not_reached_remedy, name
        assert milestone.not_reached_code == f"{name.upper()}_NOT_REACHED"


def test_every_objective_with_a_target_has_a_label_a_metric_and_a_remedy_when_missed():
    objectives = measure.objective_targets(measure.Objectives())

    assert set(objectives) == set(CATALOGUE)
    assert CATALOGUE["rpo"].not_reached is None  # measured, never waited for
    assert len({o.label for o in CATALOGUE.values()}) == len(CATALOGUE)
    assert len({o.metric_name for o in CATALOGUE.values()}) == len(CATALOGUE)
    assert all(o.metric_name.endswith("Seconds") and o.missed_remedy for o in CATALOGUE.values())


def test_the_cli_and_the_chart_say_what_the_report_says():
    assert cli.LABELS == LABELS
    assert chart.MILESTONE_EVENTS["dns_cutover"] == CATALOGUE["dns_cutover"].marker
    assert label("dns_cutover") == "DNS cutover (authoritative)"
    assert label("from_a_newer_drillkit") == "from_a_newer_drillkit"


@pytest.mark.parametrize(
    ("cause", "message"),
    [
        (json.dumps({"errorType": "NotSteady", "errorMessage": "not steady after 60s"}), "not steady after 60s"),
        (json.dumps({"errorType": "Sandbox.Timedout"}), json.dumps({"errorType": "Sandbox.Timedout"})),
        ("rejected by bob: change freeze", "rejected by bob: change freeze"),
        ("[1, 2]", "[1, 2]"),
        ("", ""),
        (None, ""),
    ],
)
def test_a_lambda_errors_cause_gives_its_message_and_any_other_cause_is_the_message(cause, message):
    assert error_message(cause) == message
    assert CaughtError.model_validate({"Error": "E", "Cause": cause}).message == message
    assert client.execution_error({"status": "FAILED", "error": "E", "cause": cause}) == ("E", message)


def test_an_execution_without_an_error_is_named_by_its_status():
    assert client.execution_error({"status": "TIMED_OUT"}) == ("TIMED_OUT", "")
