"""Route 53 throttles its API per account and per operation, in the lab as in AWS: a drill must stay under the rates."""

from __future__ import annotations

import json

import pytest
import yaml

from ..conftest import DEMO_SCENARIO
from .conftest import run_drill

pytestmark = pytest.mark.lab


def test_a_drill_that_samples_every_half_second_for_long_is_not_throttled(lab, tmp_path):
    # Given the demo scenario at 0.5 s with a steady state of 8 s: 16 samples, more than GetHealthCheckStatus's
    # bucket (4, refilled at 1 a second) would serve if every sample asked Route 53 for the status.
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    scenario["sampling"]["steady_state_samples"] = 16
    started = lab.ground_truth[-1]["t"] if lab.ground_truth else 0.0

    # When the drill runs
    report = run_drill(lab, scenario, tmp_path)

    # Then Route 53 never refused one of drillkit's calls, and no reading of the health check failed
    throttled = [e for e in lab.events_since(started, "route53_throttled") if e["caller"] == "drillkit"]
    assert throttled == [], throttled[:3]
    folder = next(tmp_path.iterdir())
    readings = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines() if line.strip()]
    health = [r for r in readings if r.get("probe") == "health_check"]
    assert len(health) >= 16 and [r for r in health if r.get("error")] == []
    # And Route 53 was asked at most once per 2 s (once more right after the injection, which may have changed the
    # check); each reading carries the instant it was asked.
    injected = next(e["t"] for e in report["timeline"] if e["event"] == "fault_injected")
    asked_at = sorted({r["t"] for r in health if r["t"] < injected}) + sorted({r["t"] for r in health if r["t"] >= injected})
    gaps = [(earlier, later) for earlier, later in zip(asked_at, asked_at[1:], strict=False) if later - earlier < 1.9]
    assert all(earlier < injected <= later for earlier, later in gaps), (injected, asked_at)
    assert report["verdict"] == "PASS"
