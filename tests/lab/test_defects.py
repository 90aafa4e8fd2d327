"""A drill against a stack with the classic defects ends FAIL, and the findings name the causes."""

from __future__ import annotations

import pytest
import yaml

from ..conftest import ROOT
from ..reports import assert_valid_report
from .conftest import run_drill, running_lab

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
        # Nothing was injected, nothing changed, and the environment is free again.
        assert not [i for i in lab.ledger_items() if str(i["sk"]).startswith("UNDO#")]
        targets_after = lab.client("elbv2").describe_target_health(TargetGroupArn=lab.region("primary")["target_group_arn"])
        assert [t["Target"] for t in targets_after["TargetHealthDescriptions"]] == [
            t["Target"] for t in targets_before["TargetHealthDescriptions"]
        ]
        assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]
