from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO_SCENARIO = ROOT / "scenarios" / "region-failover-health-check.yaml"


@pytest.fixture
def scenario_dict() -> dict:
    """The demo scenario without what only the lab provides (its alarm, its database for the heartbeat)."""
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    scenario.pop("alarms", None)
    scenario.pop("data", None)
    for name in ("alerting_seconds", "client_cutover_seconds", "rpo_seconds"):
        scenario["objectives"].pop(name, None)
    return scenario
