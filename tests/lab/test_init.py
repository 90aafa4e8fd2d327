"""`drillkit init` against the running lab writes a scenario whose dry run is ready to drill."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from drillkit.cli import app
from drillkit.spec import parse_scenario

from .conftest import RunningLab

pytestmark = pytest.mark.lab


def test_init_against_the_lab_writes_a_scenario_whose_dry_run_is_ready_to_drill(lab: RunningLab, tmp_path):
    lab_file = str(lab.work_dir / "lab.json")
    out = tmp_path / "lab-drill.yaml"

    # Given the lab's stack, when init reads it from the zone and the record name
    written = CliRunner().invoke(app, ["init", "drillkit.lab.", "app.drillkit.lab.", "-o", str(out), "--lab-file", lab_file])

    # Then the scenario names what the lab holds: the primary's health check, both ALBs, the global cluster, the alarms
    assert written.exit_code == 0, written.output
    text = out.read_text()
    scenario = parse_scenario(yaml.safe_load(text))
    primary_check = lab.info["regions"]["primary"]["health_check_id"]
    assert f"health check {primary_check}: HTTP, every 1 s, failure threshold 3" in text
    assert scenario.target.url_scheme == "http" and scenario.target.url_port is None  # the ALBs listen on HTTP 80
    assert scenario.objectives.detection_seconds == 4.5  # 1 s x 3, one more for the stagger, a 0.5 s sample
    assert "primary-health-check-failed" in [alarm.name for alarm in scenario.alarms]
    # And its dry run reads the stack as preflight would and finds it ready
    dry = CliRunner().invoke(app, ["run", str(out), "--dry-run", "--lab-file", lab_file])
    assert dry.exit_code == 0, dry.output
    assert "Plan: ready to drill." in dry.output
