"""A drill against a stack with the classic defects ends FAIL, and the findings name the causes."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT
from ..reports import assert_valid_report
from .conftest import run_drill, running_lab, wait_for

pytestmark = pytest.mark.lab
STACK = ROOT / "tests" / "lab" / "stacks" / "defects-port-no-secondary.yaml"


def test_no_secondary_and_a_health_check_that_misses_the_listener_end_fail_before_anything_is_touched(tmp_path):
    scenario = yaml.safe_load((ROOT / "scenarios" / "fail-targets-deregister.yaml").read_text())
    scenario.pop("data")  # this stack has no database, so no RPO either
    scenario["objectives"].pop("rpo_seconds")
    scenario["alarms"] = [
        {"name": "primary-check-no-actions", "region": "us-east-1"},
        {"name": "standby-hosts-by-arn", "region": "us-west-2"},
    ]
    with running_lab(tmp_path / "lab", STACK) as lab:
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


WATCHES = ROOT / "tests" / "lab" / "stacks"


@pytest.mark.parametrize(
    ("stack", "code", "role", "other"),
    [
        ("primary-check-watches-standby.yaml", "PRIMARY_HEALTH_CHECK_WATCHES_STANDBY", "primary", "standby"),
        ("standby-check-watches-primary.yaml", "STANDBY_HEALTH_CHECK_WATCHES_PRIMARY", "standby", "primary"),
    ],
)
def test_a_health_check_that_requests_the_other_regions_endpoint_blocks_and_the_drill_injects_nothing(
    tmp_path, stack, code, role, other
):
    scenario = scenario_without_data()
    scenario["alarms"] = []
    scenario["objectives"].pop("alerting_seconds")
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario))
    with running_lab(tmp_path / "lab", WATCHES / stack) as lab:
        wait_for(lambda: lab.health_check_healthy(role) is True, 10, f"the {role} check (on the {other}'s ALB) is healthy")

        checked = drillkit(lab, "check", str(scenario_file), "--json")

        assert checked.returncode == 1, checked.stdout + checked.stderr
        found = {f["code"]: f for f in json.loads(checked.stdout)["findings"]}
        watches = found[code]
        assert watches["blocking"] is True and watches["evidence"]["resource"] == lab.region(role)["health_check_id"]
        assert f"requests {lab.region(other)['alb_dns_name']}, which is the" in watches["message"]
        assert [f["code"] for f in found.values() if f["blocking"]] == [code]

        report = run_drill(lab, scenario, tmp_path / "reports")

        assert report["verdict"] == "FAIL" and report["injected_at"] is None
        assert code in {f["code"] for f in report["findings"]}
        assert not [i for i in lab.ledger_items() if str(i["sk"]).startswith("UNDO#")]
        assert not lab.events_since(0, "target_health", load_balancer=alb_name(lab.region("primary")), healthy=False)


# -- network paths, listener certificates, backup copies ---------------------------------------------------
CERTIFICATES = ROOT / "tests" / "lab" / "stacks" / "certificate-defects.yaml"
NETWORK = ROOT / "tests" / "lab" / "stacks" / "network-defects.yaml"


def tls_handshake(lab, address: str, ca_pem: str) -> str:
    """A TLS handshake as a validating client makes it to the public name: 'ok' or the error it ended with."""
    context = ssl.create_default_context(cadata=ca_pem)
    try:
        with socket.create_connection((address, lab.info["ports"]["443"]), timeout=3) as raw:
            with context.wrap_socket(raw, server_hostname="app.drillkit.lab"):
                return "ok"
    except (OSError, ssl.SSLError) as error:
        return f"{type(error).__name__}: {error}"


def https_scenario(tmp_path: Path) -> tuple[dict, Path]:
    scenario = scenario_without_data()
    scenario["alarms"] = []
    scenario["objectives"].pop("alerting_seconds")
    scenario["target"].update(url_scheme="https", url_port=443)
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario))
    return scenario, scenario_file


def test_listeners_whose_certificate_cannot_serve_the_name_block_and_the_drill_injects_nothing(tmp_path):
    scenario, scenario_file = https_scenario(tmp_path)
    with running_lab(tmp_path / "lab", CERTIFICATES) as lab:
        primary, standby = lab.region("primary"), lab.region("standby")
        # The physics: the standby's pending certificate completes no handshake; the primary's is refused by a client
        # that validates the name, while Route 53's HTTPS checkers (which do not validate) find the primary healthy.
        assert tls_handshake(lab, standby["address"], lab.info["tls_ca_pem"]) != "ok"
        refused = tls_handshake(lab, primary["address"], lab.info["tls_ca_pem"])
        assert "Hostname mismatch, certificate is not valid for 'app.drillkit.lab'" in refused
        wait_for(lambda: lab.health_check_healthy() is True, 10, "the primary's HTTPS check is healthy")

        checked = drillkit(lab, "check", str(scenario_file), "--json")

        assert checked.returncode == 1, checked.stdout + checked.stderr
        found = {f["code"]: f for f in json.loads(checked.stdout)["findings"]}
        pending = found["LISTENER_CERTIFICATE_NOT_ISSUED"]
        assert pending["blocking"] is True and pending["evidence"]["call"] == "acm:DescribeCertificate"
        assert f"the standby's HTTPS:443 listener of {alb_name(standby)} (us-west-2)" in pending["message"]
        assert "whose status is PENDING_VALIDATION: the listener completes no TLS handshake" in pending["message"]
        wrong = found["LISTENER_CERTIFICATE_NAME_MISMATCH"]
        assert wrong["blocking"] is True and f"the primary's HTTPS:443 listener of {alb_name(primary)}" in wrong["message"]
        assert "for www.example.org, which does not cover the public name app.drillkit.lab" in wrong["message"]
        assert "STANDBY_NOT_SERVING" in found  # the symptom, next to its cause

        report = run_drill(lab, scenario, tmp_path / "reports")

        assert report["verdict"] == "FAIL" and report["injected_at"] is None and report["measurements"] == {}
        codes = {f["code"] for f in report["findings"]}
        assert {"LISTENER_CERTIFICATE_NOT_ISSUED", "LISTENER_CERTIFICATE_NAME_MISMATCH"} <= codes
        assert not [i for i in lab.ledger_items() if str(i["sk"]).startswith("UNDO#")]
        assert not lab.events_since(0, "target_health", load_balancer=alb_name(primary), healthy=False)
        assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]


def test_a_standby_function_without_egress_blocks_naming_the_cause_and_the_unrouted_peering_and_uncopied_backups(tmp_path):
    scenario = scenario_without_data()
    scenario["alarms"] = []
    scenario["objectives"].pop("alerting_seconds")
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario))
    with running_lab(tmp_path / "lab", NETWORK) as lab:
        primary, standby = lab.region("primary"), lab.region("standby")
        # The physics: the function's calls never leave its VPC; it times out and the standby's ALB answers 502.
        status, _ = lab.get(standby["address"], timeout=10)
        assert status == 502
        assert lab.get(primary["address"])[0] == 200

        checked = drillkit(lab, "check", str(scenario_file), "--json")

        assert checked.returncode == 1, checked.stdout + checked.stderr
        found = {f["code"]: f for f in json.loads(checked.stdout)["findings"]}
        assert [code for code, f in found.items() if f["blocking"]] == ["STANDBY_NOT_SERVING"]
        egress = found["FUNCTION_WITHOUT_EGRESS"]
        function = lab.client("elbv2", standby["region"]).describe_target_health(TargetGroupArn=standby["target_group_arn"])
        assert egress["evidence"]["resource"] == function["TargetHealthDescriptions"][0]["Target"]["Id"]
        assert f"runs in VPC {standby['vpc_id']} (us-west-2) in subnets without a NAT route" in egress["message"]
        routes = found["VPC_PEERING_NOT_ROUTED"]
        assert f"the standby's VPC {standby['vpc_id']} (us-west-2) has route table(s)" in routes["message"]
        peering = lab.info["peering_connection_id"]
        assert f"to the primary's CIDR 10.0.0.0/16 through peering connection {peering}" in routes["message"]
        backup = found["BACKUP_NOT_COPIED_TO_STANDBY"]
        assert "none copies recovery points to the standby region us-west-2: no rule has a copy action" in backup["message"]

        report = run_drill(lab, scenario, tmp_path / "reports")

        assert report["verdict"] == "FAIL" and report["injected_at"] is None and report["measurements"] == {}
        assert {"STANDBY_NOT_SERVING", "FUNCTION_WITHOUT_EGRESS"} <= {f["code"] for f in report["findings"]}
        assert not [i for i in lab.ledger_items() if str(i["sk"]).startswith("UNDO#")]
        assert not lab.events_since(0, "target_health", load_balancer=alb_name(primary), healthy=False)
