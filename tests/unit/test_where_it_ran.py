"""Every report says where the drill ran: lab evidence can never pass for evidence about an AWS environment."""

from __future__ import annotations

from drillkit.evidence import report, summary, where
from drillkit.evidence.export import Period, render_summary, summarise

from ..reports import T0, UNDO, assert_valid_report, drill_context, finished_state, record_of, samples_after_injection


def _document(scenario_dict):
    context = drill_context(scenario_dict)
    return report.build(record_of(context, finished_state(context)), samples_after_injection(1, 2, 3), UNDO, ended_at=T0 + 60)


def test_a_drill_in_aws_names_the_account_regions_and_stack_in_every_rendering(scenario_dict, monkeypatch):
    # Given the report function of the stack drillkit-prod, in AWS (no lab marker)
    monkeypatch.delenv(where.LOCAL_LAB_VARIABLE, raising=False)
    monkeypatch.setenv(where.STACK_NAME_VARIABLE, "drillkit-prod")

    document = _document(scenario_dict)

    # Then report.json, the HTML and the Markdown say which account, region and deployment
    assert_valid_report(document)
    assert document["schema_version"] == "1.4"
    assert document["deployment"] == {
        "kind": "aws",
        "account": "123456789012",
        "regions": ["us-east-1"],
        "stack_name": "drillkit-prod",
        "label": "AWS account 123456789012, us-east-1, drillkit stack drillkit-prod",
    }
    assert "AWS account 123456789012, us-east-1, drillkit stack drillkit-prod" in report.render_html(document, [])
    assert "**Where it ran:** AWS account 123456789012" in summary.render(document).decode()


def test_a_drill_in_the_local_lab_says_so_and_that_it_is_not_evidence_about_aws(scenario_dict, monkeypatch):
    monkeypatch.setenv(where.LOCAL_LAB_VARIABLE, "true")
    monkeypatch.setenv(where.STACK_NAME_VARIABLE, "drillkit-lab")

    document = _document(scenario_dict)

    assert_valid_report(document)
    assert document["deployment"]["kind"] == "local-lab"
    assert document["deployment"]["label"].startswith("local lab: a simulated stack on one machine, not evidence")
    assert 'class="lab">local lab' in report.render_html(document, [])
    assert "**Where it ran:** local lab" in summary.render(document).decode()


def test_the_export_summary_names_where_each_drill_ran(scenario_dict, monkeypatch):
    monkeypatch.setenv(where.LOCAL_LAB_VARIABLE, "1")
    document = _document(scenario_dict)
    period = Period.parse("2026-01-01", "2026-12-31")

    exported = summarise([document], None, period, "2026-12-31T00:00:00Z")

    assert exported["drills"][0]["deployment"]["kind"] == "local-lab"
    assert "| local lab: a simulated stack on one machine" in render_summary(exported).decode()


def test_a_1_3_report_without_where_it_ran_is_refused_by_the_schema(scenario_dict):
    from ..reports import schema_errors

    document = _document(scenario_dict)
    del document["deployment"]

    assert any("deployment" in problem for problem in schema_errors(document))


def test_the_regions_are_drillkits_then_those_the_scenario_names(scenario_dict, monkeypatch):
    monkeypatch.delenv(where.LOCAL_LAB_VARIABLE, raising=False)
    scenario_dict = {
        **scenario_dict,
        "alarms": [{"name": "primary-5xx", "region": "eu-west-1"}],
        "data": {
            "heartbeat": {
                "primary_cluster_arn": "arn:aws:rds:eu-west-1:123456789012:cluster:app-primary",
                "standby_cluster_arn": "arn:aws:rds:eu-central-1:123456789012:cluster:app-standby",
                "secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:drillkit-heartbeat",
            }
        },
    }

    document = _document(scenario_dict)

    assert document["deployment"]["regions"] == ["us-east-1", "eu-west-1", "eu-central-1"]
