"""Guardrails in the lab: each shows its refusal (or its plan) and that nothing changed."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from drillkit.cli import app

from ..conftest import DEMO_SCENARIO, ROOT
from ..reports import assert_valid_report
from .conftest import DRILL_POLL, RunningLab, run_drill, snapshot, wait_for

pytestmark = pytest.mark.lab


def acls(lab: RunningLab) -> list:
    region = lab.region("primary")
    found = lab.client("ec2", region["region"]).describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [region["vpc_id"]]}])
    return sorted(
        (acl["NetworkAclId"], tuple(sorted(x["SubnetId"] for x in acl.get("Associations", [])))) for acl in found["NetworkAcls"]
    )


def test_a_dry_run_prints_what_would_change_and_how_it_is_restored_and_changes_nothing(lab):
    before = (acls(lab), len(lab.executions()), len(lab.ledger_items()))
    scenario = ROOT / "scenarios" / "block-primary-alb-network-acl.yaml"

    result = CliRunner().invoke(app, ["run", str(scenario), "--dry-run", "--lab-file", str(lab.work_dir / "lab.json")])

    assert result.exit_code == 0, result.output
    assert "nothing is changed" in result.output
    assert "would change: associate the subnets of ALB" in result.output
    assert "restore associates each subnet with its original ACL" in result.output
    assert "Plan: ready to drill." in result.output
    assert (acls(lab), len(lab.executions()), len(lab.ledger_items())) == before


def test_a_stop_condition_that_fires_during_the_drill_ends_observation_restores_and_reports_aborted(lab, tmp_path):
    scenario = yaml.safe_load((ROOT / "scenarios" / "fail-targets-deregister.yaml").read_text())
    scenario["stop_conditions"] = [{"name": "primary-health-check-failed", "region": "us-east-1"}]
    group = lab.region("primary")["target_group_arn"]
    elbv2 = lab.client("elbv2")
    targets_before = sorted(
        t["Target"]["Id"] for t in elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    )

    report = run_drill(lab, scenario, tmp_path)

    assert_valid_report(report)
    assert report["verdict"] == "ABORTED"
    [stopped] = [f for f in report["findings"] if f["code"] == "STOP_CONDITION"]
    assert "us-east-1/primary-health-check-failed went into ALARM" in stopped["message"]
    assert report["restore_verified"] is True
    targets_after = sorted(
        t["Target"]["Id"] for t in elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    )
    assert targets_after == targets_before
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]


def test_a_stop_condition_already_in_alarm_refuses_the_drill_before_anything_is_touched(lab, tmp_path):
    cloudwatch = lab.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="test-stop-condition",
        Namespace="Test",
        MetricName="Nothing",
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    try:
        # The lab evaluates a new alarm once (no data), then not again for an hour: ALARM stays.
        wait_for(lambda: lab.events_since(0, "alarm", name="test-stop-condition"), 10, "the first evaluation")
        cloudwatch.set_alarm_state(AlarmName="test-stop-condition", StateValue="ALARM", StateReason="a test says so")
        scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
        scenario["stop_conditions"] = [{"name": "test-stop-condition", "region": "us-east-1"}]
        path = tmp_path / "stopped.yaml"
        path.write_text(yaml.safe_dump(scenario))
        inverted = lab.primary_inverted()

        result = CliRunner().invoke(app, ["run", str(path), "--wait", "--lab-file", str(lab.work_dir / "lab.json")])

        assert result.exit_code == 2, result.output
        assert "stop_conditions.0.name: alarm test-stop-condition (us-east-1) is in ALARM" in " ".join(result.output.split())
        assert lab.primary_inverted() is inverted
        assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
    finally:
        cloudwatch.delete_alarms(AlarmNames=["test-stop-condition"])


def test_a_target_without_the_allow_tag_is_refused_before_anything_is_touched(lab):
    group = lab.region("primary")["target_group_arn"]
    elbv2 = lab.client("elbv2")
    elbv2.remove_tags(ResourceArns=[group], TagKeys=["drillkit:allow"])
    try:
        before = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        scenario = ROOT / "scenarios" / "fail-targets-deregister.yaml"

        result = CliRunner().invoke(app, ["run", str(scenario), "--wait", "--lab-file", str(lab.work_dir / "lab.json")])

        assert result.exit_code == 2, result.output
        assert "does not carry the tag drillkit:allow=true" in " ".join(result.output.split())
        assert f"{group}(primarytargets)" in "".join(result.output.split())  # named, however the terminal wraps it
        after = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        assert [t["Target"] for t in after] == [t["Target"] for t in before]
        assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
    finally:
        elbv2.add_tags(ResourceArns=[group], Tags=[{"Key": "drillkit:allow", "Value": "true"}])


@pytest.fixture
def protected_primary(lab: RunningLab):
    """The primary health check (what the demo drill changes) tagged drillkit:protected=true, for one test."""
    route53 = lab.client("route53")
    check_id = lab.region("primary")["health_check_id"]
    route53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=check_id, AddTags=[{"Key": "drillkit:protected", "Value": "true"}]
    )
    yield check_id
    route53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check_id, RemoveTagKeys=["drillkit:protected"])


def _start_protected_drill(lab: RunningLab) -> tuple[str, str]:
    from drillkit import client
    from drillkit.spec import parse_scenario

    request = client.drill_request(lab.deployment, parse_scenario(yaml.safe_load(DEMO_SCENARIO.read_text())), "requester")
    execution_arn = client.start(lab.deployment, request)
    wait_for(
        lambda: lab.drill_phase(request["drill_id"]) == "awaiting_approval", 30, "the drill awaiting approval", every=DRILL_POLL
    )
    return request["drill_id"], execution_arn


def _answer(lab: RunningLab, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--lab-file", str(lab.work_dir / "lab.json")])


def _finish(lab: RunningLab, drill_id: str, execution_arn: str, reports: Any) -> dict:
    from drillkit import client

    execution = client.follow(lab.deployment, drill_id, execution_arn, lambda *_: None, timeout_seconds=120)
    assert execution["status"] == "SUCCEEDED", client.execution_error(execution)
    folder = client.download_report(lab.deployment, drill_id, reports)
    return json.loads((folder / "report.json").read_text())


def test_a_protected_environment_waits_for_approval_and_a_rejection_ends_aborted_with_nothing_touched(
    lab, protected_primary, tmp_path
):
    before = snapshot(lab)
    drill_id, execution_arn = _start_protected_drill(lab)
    time.sleep(1.0)  # waiting is all it does
    assert snapshot(lab) == before

    result = _answer(lab, "reject", drill_id, "--reason", "change freeze until Monday", "--by", "the-owner")

    assert result.exit_code == 0, result.output
    assert "rejected" in result.output
    report = _finish(lab, drill_id, execution_arn, tmp_path)
    assert_valid_report(report)
    assert report["verdict"] == "ABORTED"
    assert report["injected_at"] is None
    [declined] = [f for f in report["findings"] if f["code"] == "APPROVAL_REJECTED"]
    assert "rejected by the-owner: change freeze until Monday" in declined["message"]
    assert snapshot(lab) == before
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
    assert _answer(lab, "approve", drill_id).exit_code == 2  # answered already: the record says so


def test_an_approved_drill_goes_on_and_the_report_names_the_approver(lab, protected_primary, tmp_path):
    drill_id, execution_arn = _start_protected_drill(lab)

    own = _answer(lab, "approve", drill_id, "--by", "requester")
    assert own.exit_code == 2 and "cannot also approve it" in own.output  # no approving one's own drill
    result = _answer(lab, "approve", drill_id, "--by", "the-owner")

    assert result.exit_code == 0, result.output
    report = _finish(lab, drill_id, execution_arn, tmp_path)
    assert_valid_report(report)
    assert report["verdict"] == "PASS", report["findings"]
    assert report["people"]["approved_by"] == "the-owner"
    assert any(e["event"] == "approval_granted" for e in report["timeline"])
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]


def test_a_second_drill_on_the_same_environment_is_refused_naming_the_drill_that_holds_it(lab, protected_primary, tmp_path):
    holder, execution_arn = _start_protected_drill(lab)  # waits for approval, holding the environment's lock
    before = snapshot(lab)

    second = CliRunner().invoke(
        app, ["run", str(DEMO_SCENARIO), "--wait", "--lab-file", str(lab.work_dir / "lab.json"), "--reports-dir", str(tmp_path)]
    )

    assert second.exit_code == 2, second.output
    assert f"locked by drill {holder}" in " ".join(second.output.split())
    assert snapshot(lab) == before
    assert _answer(lab, "reject", holder, "--reason", "test over", "--by", "the-owner").exit_code == 0
    assert _finish(lab, holder, execution_arn, tmp_path)["verdict"] == "ABORTED"
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]


def test_observation_ends_at_its_deadline_restores_and_fails_when_the_failover_has_not_come_by_then(lab, tmp_path):
    scenario = yaml.safe_load((ROOT / "scenarios" / "fail-targets-deregister.yaml").read_text())
    # Route 53 needs about 3 s (1 s interval, threshold 3) to see the primary's targets gone: 1.5 s is too short.
    scenario["sampling"]["observe_timeout_seconds"] = 1.5
    scenario["sampling"]["probe_timeout_seconds"] = 1  # shorter than the observation, as validation requires
    before = snapshot(lab)

    report = run_drill(lab, scenario, tmp_path)

    assert_valid_report(report)
    assert report["verdict"] == "FAIL"
    [missed] = [f for f in report["findings"] if f["code"] == "DETECTION_NOT_REACHED"]
    assert "within 1.5s of injection" in missed["message"]
    assert report["measurements"]["detection"]["seconds"] is None
    assert report["restore_verified"] is True
    assert snapshot(lab) == before
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]


LAB_ACCOUNT_ROLE = "arn:aws:iam::123456789012:role/drillkit-target-lab"


def test_a_drill_reaches_its_stack_through_the_environment_role_and_passes(lab, tmp_path):
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    scenario["target"].update(role_arn=LAB_ACCOUNT_ROLE, external_id="lab-external-id")
    before = snapshot(lab)

    report = run_drill(lab, scenario, tmp_path)

    assert_valid_report(report)
    assert report["verdict"] == "PASS", report["findings"]
    assert snapshot(lab) == before
    # drillkit reached the stack as the role, in a session named after the drill, with the ExternalId (STS's own record).
    with urllib.request.urlopen(lab.deployment.endpoint_url + "/_lab/assumed-roles", timeout=10) as response:
        assumed = json.loads(response.read())["assumed_roles"]
    sessions = {(a["role_arn"], a["session_name"], a["external_id"]) for a in assumed}
    assert (LAB_ACCOUNT_ROLE, f"drillkit-{report['drill_id']}", "lab-external-id") in sessions


def test_a_role_in_another_account_sees_another_account_and_the_dry_run_says_what_is_missing(lab, tmp_path):
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    scenario["target"]["role_arn"] = "arn:aws:iam::111122223333:role/drillkit-target-elsewhere"
    path = tmp_path / "elsewhere.yaml"
    path.write_text(yaml.safe_dump(scenario))
    before = (snapshot(lab), len(lab.ledger_items()))

    result = CliRunner().invoke(app, ["run", str(path), "--dry-run", "--lab-file", str(lab.work_dir / "lab.json")])

    assert result.exit_code == 2, result.output
    assert "target.hosted_zone" in result.output  # the zone is in the lab's account, not in 111122223333
    assert (snapshot(lab), len(lab.ledger_items())) == before
