"""A calculated health check on the PRIMARY record: Route 53 has no status to give for it, so readiness blocks the drill."""

from __future__ import annotations

import pytest
import yaml
from botocore.exceptions import ClientError

from ..conftest import ROOT
from ..reports import assert_valid_report
from .conftest import run_drill, running_lab

pytestmark = pytest.mark.lab
STACK = ROOT / "tests" / "lab" / "stacks" / "calculated-primary.yaml"


def test_a_calculated_check_has_no_status_and_the_drill_is_blocked_by_name(tmp_path):
    scenario = yaml.safe_load((ROOT / "scenarios" / "fail-targets-deregister.yaml").read_text())
    scenario.pop("data")  # no database in this stack
    scenario["objectives"].pop("rpo_seconds")
    scenario["objectives"].pop("alerting_seconds")
    scenario.pop("alarms")
    with running_lab(tmp_path / "lab", STACK) as lab:
        check_id = lab.region("primary")["health_check_id"]
        route53 = lab.client("route53")
        config = route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"]
        assert config["Type"] == "CALCULATED"
        # Route 53 answers from the calculated check (its child is healthy), but will not report its status.
        assert lab.dns_answer() == [lab.region("primary")["dns_answer"]]
        with pytest.raises(ClientError) as refused:
            route53.get_health_check_status(HealthCheckId=check_id)
        assert refused.value.response["Error"]["Code"] == "InvalidInput"

        report = run_drill(lab, scenario, tmp_path / "reports")

        assert_valid_report(report)
        assert report["verdict"] == "FAIL" and report["injected_at"] is None
        findings = {f["code"]: f for f in report["findings"]}
        unreadable = findings["HEALTH_CHECK_STATUS_UNREADABLE"]
        assert check_id in unreadable["message"] and "CALCULATED" in unreadable["message"]
        assert not [i for i in lab.ledger_items() if str(i["sk"]).startswith("UNDO#")]
