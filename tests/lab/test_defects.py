"""A drill against a stack with the classic defects ends FAIL, and the findings name the causes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT
from ..reports import assert_valid_report
from .conftest import RunningLab, run_drill, running_lab, wait_for

pytestmark = pytest.mark.lab
STACK = ROOT / "tests" / "lab" / "stacks" / "defects-port-no-secondary.yaml"


@pytest.fixture(scope="module")
def port_no_secondary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    """One lab of the stack for its knobs' physics and for the drill it refuses (which touches nothing)."""
    with running_lab(tmp_path_factory.mktemp("port-no-secondary"), STACK) as lab:
        yield lab


def test_knobs_health_check_on_a_port_the_alb_does_not_serve_no_secondary_and_a_standby_that_never_gets_healthy(
    port_no_secondary,
):
    # The stack's knobs behave as their AWS counterparts do (as in tests/lab/test_lab_faithfulness.py: no drill code).
    lab = port_no_secondary
    standby = lab.region("standby")
    wait_for(lambda: lab.health_check_healthy() is False, 5, "HTTPS:443 check against an HTTP:80 ALB fails")
    assert all(o["StatusReport"]["Status"].startswith("Failure") for o in lab.observations("primary"))
    # Without a SECONDARY record Route 53 can only answer the primary, healthy or not.
    records = lab.client("route53").list_resource_record_sets(HostedZoneId=lab.info["hosted_zone_id"])["ResourceRecordSets"]
    assert [r.get("Failover") for r in records if r["Name"] == lab.info["public_name"]] == ["PRIMARY"]
    assert lab.dns_answer() == [lab.region("primary")["dns_answer"]]
    # The standby's targets answer 500 on their health path: never healthy, and the ALB fails open to them.
    assert wait_for(lambda: lab.events_since(0, "target_health", healthy=False), 10, "standby targets unhealthy")
    assert not lab.events_since(0, "target_health", load_balancer=alb_name(standby), healthy=True)
    assert lab.get(standby["address"])[0] == 500
    # Alarms: one fires without telling anyone, one names its ALB by ARN and never sees data, one works.
    wait_for(lambda: lab.events_since(0, "alarm", name="primary-check-no-actions", state="ALARM"), 5, "no-actions alarm fires")
    wait_for(lambda: lab.events_since(0, "alarm", name="standby-hosts", state="ALARM"), 10, "the well-made alarm fires")
    assert lab.events_since(0, "notification", alarm="primary-check-no-actions") == []
    assert lab.events_since(0, "notification", alarm="standby-hosts")
    cloudwatch = lab.client("cloudwatch", "us-west-2")
    by_arn = cloudwatch.describe_alarms(AlarmNames=["standby-hosts-by-arn"])["MetricAlarms"][0]
    assert by_arn["StateValue"] == "INSUFFICIENT_DATA"
    assert lab.events_since(0, "alarm", name="standby-hosts-by-arn", state="ALARM") == []


def test_no_secondary_and_a_health_check_that_misses_the_listener_end_fail_before_anything_is_touched(
    port_no_secondary, tmp_path
):
    scenario = yaml.safe_load((ROOT / "scenarios" / "fail-targets-deregister.yaml").read_text())
    scenario.pop("data")  # this stack has no database, so no RPO either
    scenario["objectives"].pop("rpo_seconds")
    scenario["alarms"] = [
        {"name": "primary-check-no-actions", "region": "us-east-1"},
        {"name": "standby-hosts-by-arn", "region": "us-west-2"},
    ]
    lab = port_no_secondary
    wait_for(lambda: lab.health_check_healthy() is False, 10, "the HTTPS:443 check against an HTTP:80 ALB fails")
    targets_before = lab.client("elbv2").describe_target_health(TargetGroupArn=lab.region("primary")["target_group_arn"])

    report = run_drill(lab, scenario, tmp_path / "reports")

    assert_valid_report(report)
    assert report["verdict"] == "FAIL"
    assert report["injected_at"] is None and report["measurements"] == {}
    findings = {f["code"]: f["message"] for f in report["findings"]}
    assert "no SECONDARY failover record for app.drillkit.lab. A" in findings["NO_SECONDARY_RECORD"]
    mismatch = findings["HEALTH_CHECK_LISTENER_MISMATCH"]
    assert "probes HTTPS:443" in mismatch and "listens on HTTP:80" in mismatch and "can never pass" in mismatch
    assert "has no alarm actions" in findings["ALARM_WITHOUT_ACTIONS"]
    assert "dimension LoadBalancer=arn:aws:elasticloadbalancing:us-west-2:" in findings["ALARM_DIMENSION_IS_ARN"]
    # The cause, not the symptom: what Route 53's checkers reported, what the check requests, and what
    # drillkit's own request to the check's endpoint answered.
    cause = findings["PRIMARY_HEALTH_CHECK_UNHEALTHY"]
    assert f"it requests HTTPS:443 /health on {lab.region('primary')['alb_dns_name']}" in cause, cause
    assert "Route 53's checkers report: Failure: Connection refused. The endpoint is not listening on the port." in cause
    assert "drillkit's own request: HTTPS" in cause and "ConnectionRefusedError" in cause
    # Nothing was injected, nothing changed, and the environment is free again.
    assert not [i for i in lab.ledger_items() if str(i["sk"]).startswith("UNDO#")]
    targets_after = lab.client("elbv2").describe_target_health(TargetGroupArn=lab.region("primary")["target_group_arn"])
    assert [t["Target"] for t in targets_after["TargetHealthDescriptions"]] == [
        t["Target"] for t in targets_before["TargetHealthDescriptions"]
    ]
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]


# -- standby readiness (blocking) and the advisory catalogue ---------------------------------------------
STANDBY_BROKEN = ROOT / "tests" / "lab" / "stacks" / "standby-never-healthy.yaml"
ADVISORY = ROOT / "tests" / "lab" / "stacks" / "advisory-defects.yaml"
DRILLKIT = Path(sys.executable).parent / "drillkit"


def alb_name(region: dict) -> str:
    return region["alb_arn"].split("/")[-2]


def scenario_without_data() -> dict:
    scenario = yaml.safe_load((ROOT / "scenarios" / "fail-targets-deregister.yaml").read_text())
    scenario.pop("data")
    scenario["objectives"].pop("rpo_seconds")
    return scenario


def drillkit(lab, *args: str) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, against the running lab."""
    command = [str(DRILLKIT), *args, "--lab-file", str(lab.work_dir / "lab.json")]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "400"})


def test_a_standby_whose_targets_never_get_healthy_blocks_the_dry_run_and_the_drill_injects_nothing(tmp_path):
    scenario = scenario_without_data()
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario))
    with running_lab(tmp_path / "lab", STANDBY_BROKEN) as lab:
        standby = lab.region("standby")
        elbv2 = lab.client("elbv2", standby["region"])

        def standby_unhealthy() -> bool:
            described = elbv2.describe_target_health(TargetGroupArn=standby["target_group_arn"])["TargetHealthDescriptions"]
            return bool(described) and all(t["TargetHealth"]["State"] == "unhealthy" for t in described)

        wait_for(standby_unhealthy, 15, "the standby's targets fail their health checks")
        targets_before = lab.client("elbv2").describe_target_health(TargetGroupArn=lab.region("primary")["target_group_arn"])

        # Given a healthy primary and a SECONDARY record, when the dry run reads the stack, then it says blocked,
        # naming the standby's target group and load balancer and what its endpoint answered.
        dry = drillkit(lab, "run", str(scenario_file), "--dry-run")
        assert dry.returncode == 1, dry.stdout + dry.stderr
        assert "the drill would end FAIL before injecting" in dry.stdout
        assert "STANDBY_TARGETS_UNHEALTHY (blocks the drill)" in dry.stdout
        assert standby["target_group_arn"] in dry.stdout and "unhealthy" in dry.stdout
        assert "STANDBY_NOT_SERVING (blocks the drill)" in dry.stdout and "HTTP 500" in dry.stdout
        checked = drillkit(lab, "check", str(scenario_file), "--json")
        assert checked.returncode == 1, checked.stdout + checked.stderr
        found = {f["code"]: f for f in json.loads(checked.stdout)["findings"]}
        assert found["STANDBY_TARGETS_UNHEALTHY"]["blocking"] is True
        assert found["STANDBY_TARGETS_UNHEALTHY"]["evidence"]["call"] == "elasticloadbalancing:DescribeTargetHealth"
        assert found["STANDBY_TARGETS_UNHEALTHY"]["evidence"]["resource"] == standby["target_group_arn"]
        assert alb_name(standby) in found["STANDBY_TARGETS_UNHEALTHY"]["message"]
        assert "Target.ResponseCodeMismatch" in found["STANDBY_TARGETS_UNHEALTHY"]["message"]
        assert "PRIMARY_HEALTH_CHECK_UNHEALTHY" not in found  # the primary is fine: only the standby is named

        # When the drill runs, then it ends FAIL in preflight: nothing injected, targets untouched, lock free.
        report = run_drill(lab, scenario, tmp_path / "reports")

        assert_valid_report(report)
        assert report["verdict"] == "FAIL"
        assert report["injected_at"] is None and report["measurements"] == {}
        codes = {f["code"]: f for f in report["findings"]}
        assert standby["target_group_arn"] in codes["STANDBY_TARGETS_UNHEALTHY"]["evidence"]
        assert "answered GET http://app.drillkit.lab:80/ with HTTP 500" in codes["STANDBY_NOT_SERVING"]["message"]
        assert not [i for i in lab.ledger_items() if str(i["sk"]).startswith("UNDO#")]
        targets_after = lab.client("elbv2").describe_target_health(TargetGroupArn=lab.region("primary")["target_group_arn"])
        assert [t["Target"] for t in targets_after["TargetHealthDescriptions"]] == [
            t["Target"] for t in targets_before["TargetHealthDescriptions"]
        ]
        assert not [
            e
            for e in lab.ground_truth
            if e["event"] == "target_health"
            and e.get("load_balancer") == alb_name(lab.region("primary"))
            and e.get("healthy") is False
        ]
        assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]


def test_advisory_defects_are_named_by_drillkit_check_without_a_drill_and_do_not_block(tmp_path):
    with running_lab(tmp_path / "lab", ADVISORY) as lab:
        primary, standby = lab.region("primary"), lab.region("standby")
        scenario = scenario_without_data()
        scenario["alarms"] = []
        scenario["objectives"].pop("alerting_seconds")
        scenario["data"] = {
            "heartbeat": {
                "primary_cluster_arn": primary["db_cluster_arn"],
                "standby_cluster_arn": standby["db_cluster_arn"],
                "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:drillkit-heartbeat",
            }
        }
        scenario_file = tmp_path / "scenario.yaml"
        scenario_file.write_text(yaml.safe_dump(scenario))

        checked = drillkit(lab, "check", str(scenario_file), "--json")

        assert checked.returncode == 0, checked.stdout + checked.stderr
        result = json.loads(checked.stdout)
        assert result["blocked"] is False
        found = {f["code"]: f for f in result["findings"]}
        assert set(found) == {
            "NO_ALARM_ON_PRIMARY",
            "DATABASE_NOT_GLOBAL",
            "DATABASE_PORT_OPEN_TO_INTERNET",
            "AUTOMATION_RULE_WITHOUT_TARGETS",
            "SECRET_IN_PLAIN_CONFIGURATION",
        }
        secret = found["SECRET_IN_PLAIN_CONFIGURATION"]
        assert f"the standby's ECS service {standby['ecs_service']} runs task definition" in secret["message"]
        assert "sets DB_PASSWORD in plain text" in secret["message"] and "lab-only-password" not in checked.stdout
        assert secret["evidence"]["call"] == "ecs:DescribeTaskDefinition"
        # The rule without targets is named by its ARN; the one with a target is not reported.
        without = found["AUTOMATION_RULE_WITHOUT_TARGETS"]
        [rule] = [r for r in lab.info["automation_rules"] if not r["targets"]]
        assert rule["name"] == "failover-runbook" and without["evidence"]["resource"] == rule["arn"]
        assert "EventBridge rule failover-runbook (us-east-1) matches aws.cloudwatch events" in without["message"]
        assert primary["health_check_id"] in found["NO_ALARM_ON_PRIMARY"]["message"]
        assert "data not replicated" in found["DATABASE_NOT_GLOBAL"]["message"]
        assert standby["db_cluster_arn"] in found["DATABASE_NOT_GLOBAL"]["evidence"]["resource"]
        assert "port 5432 (PostgreSQL) from anywhere" in found["DATABASE_PORT_OPEN_TO_INTERNET"]["message"]
        assert found["DATABASE_PORT_OPEN_TO_INTERNET"]["evidence"]["call"] == "ec2:DescribeSecurityGroups"
        assert all(not f["blocking"] for f in found.values())
        # Read-only: no drill record, no lock, no execution.
        assert lab.ledger_items() == [] and lab.executions() == []
