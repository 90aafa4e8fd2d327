"""`drillkit lab up --stack` refuses a bad stack spec by field, before anything starts."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from drillkit_lab.stackspec import DEFAULT_STACK

pytestmark = pytest.mark.lab


def test_an_invalid_stack_is_refused_naming_the_field_and_nothing_is_written(tmp_path):
    spec = yaml.safe_load(DEFAULT_STACK.read_text())
    spec["primary"]["alb"]["listener"]["port"] = 70000
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    work_dir = tmp_path / "lab"

    result = subprocess.run(
        [sys.executable, "-m", "drillkit_lab", "--work-dir", str(work_dir), "--stack", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "primary.alb.listener.port" in result.stderr
    assert f"lab stack {bad} is invalid" in result.stderr
    assert not (work_dir / "lab.json").exists()
