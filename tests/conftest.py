from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO_SCENARIO = ROOT / "scenarios" / "region-failover-health-check.yaml"


@pytest.fixture
def scenario_dict() -> dict:
    return yaml.safe_load(DEMO_SCENARIO.read_text())
