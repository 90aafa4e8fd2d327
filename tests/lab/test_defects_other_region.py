"""A health check that requests the other region's endpoint: blocking, named, and nothing injected (one lab per
stack, apart from test_defects.py so that another worker can run it)."""

from __future__ import annotations

import json

import pytest
import yaml

from ..conftest import ROOT
from .conftest import run_drill, running_lab, wait_for
from .test_defects import alb_name, drillkit, scenario_without_data

pytestmark = pytest.mark.lab

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
