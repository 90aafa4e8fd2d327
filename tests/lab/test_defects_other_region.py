"""A health check that requests the other region's endpoint: blocking, named, and nothing injected (apart from
test_defects.py so that another worker can run it).

Both copy-paste defects are on one lab (tests/lab/stacks/checks-watch-the-other-region.yaml): the primary record's
check requests the standby's ALB, the standby record's check the primary's. One `drillkit check` and one drill read
them; each defect is judged on its own.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from ..conftest import ROOT
from .conftest import RunningLab, run_drill, running_lab, wait_for
from .test_defects import alb_name, drillkit, scenario_without_data

pytestmark = pytest.mark.lab

STACK = ROOT / "tests" / "lab" / "stacks" / "checks-watch-the-other-region.yaml"
DEFECTS = {  # the finding, the record whose check has the defect, the region that check requests
    "PRIMARY_HEALTH_CHECK_WATCHES_STANDBY": ("primary", "standby"),
    "STANDBY_HEALTH_CHECK_WATCHES_PRIMARY": ("standby", "primary"),
}


def healthy(lab: RunningLab, role: str) -> Callable[[], bool]:
    return lambda: lab.health_check_healthy(role) is True


@dataclass
class Refused:
    lab: RunningLab
    checked: subprocess.CompletedProcess
    report: dict[str, Any]


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Refused]:
    """`drillkit check` and a drill of the scenario, on the lab whose two checks each watch the other region."""
    tmp_path = tmp_path_factory.mktemp("other-region")
    scenario = scenario_without_data()
    scenario["alarms"] = []
    scenario["objectives"].pop("alerting_seconds")
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario))
    with running_lab(tmp_path / "lab", STACK) as lab:
        for role, other in DEFECTS.values():
            wait_for(healthy(lab, role), 10, f"the {role} check (on the {other}'s ALB) is healthy")
        checked = drillkit(lab, "check", str(scenario_file), "--json")
        report = run_drill(lab, scenario, tmp_path / "reports")
        yield Refused(lab, checked, report)


def test_check_blocks_on_exactly_the_health_checks_that_request_the_other_region(refused):
    assert refused.checked.returncode == 1, refused.checked.stdout + refused.checked.stderr
    found = json.loads(refused.checked.stdout)["findings"]
    assert sorted(f["code"] for f in found if f["blocking"]) == sorted(DEFECTS)


@pytest.mark.parametrize("code", list(DEFECTS))
def test_a_health_check_that_requests_the_other_regions_endpoint_blocks_and_the_drill_injects_nothing(refused, code):
    role, other = DEFECTS[code]
    lab = refused.lab
    found = {f["code"]: f for f in json.loads(refused.checked.stdout)["findings"]}
    watches = found[code]
    assert watches["blocking"] is True and watches["evidence"]["resource"] == lab.region(role)["health_check_id"]
    assert f"requests {lab.region(other)['alb_dns_name']}, which is the" in watches["message"]

    assert refused.report["verdict"] == "FAIL" and refused.report["injected_at"] is None
    assert code in {f["code"] for f in refused.report["findings"]}
    assert not [i for i in lab.ledger_items() if str(i["sk"]).startswith("UNDO#")]
    assert not lab.events_since(0, "target_health", load_balancer=alb_name(lab.region("primary")), healthy=False)
