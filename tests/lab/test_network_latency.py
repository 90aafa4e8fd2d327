"""Regions a network latency apart: a probe reading takes what a cross-region request takes.

Given a standby 300 ms (round trip) away from the drill, whose first response on a new
connection therefore arrives after 0.6 s, and a fast scenario (0.5 s interval)
When a drill moves traffic to the standby
Then the drill sees the standby serve (recovery reached), every HTTP reading carries its latency,
and the slow readings do not slow the sampling cadence of the others.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime

import pytest
import yaml

from ..conftest import ROOT
from .conftest import run_drill, running_lab

pytestmark = pytest.mark.lab
STACK = ROOT / "tests" / "lab" / "stacks" / "standby-far-away.yaml"
STANDBY_RTT = 0.3
INTERVAL = 0.5


def test_a_standby_slower_than_the_interval_is_still_seen_serving(tmp_path):
    scenario = yaml.safe_load((ROOT / "scenarios" / "region-failover-health-check.yaml").read_text())
    for unused in ("data", "alarms"):  # this stack has no database and no alarms
        scenario.pop(unused)
    scenario["objectives"] = {"recovery_seconds": 10}
    scenario["sampling"] = {
        "interval_seconds": INTERVAL,
        "hold_samples": 4,  # observation lasts a few slow readings
        "steady_state_samples": 3,
        "observe_timeout_seconds": 12,
        "restore_timeout_seconds": 30,
    }
    with running_lab(tmp_path / "lab", STACK) as lab:
        report = run_drill(lab, scenario, tmp_path / "reports")
        samples_file = tmp_path / "reports" / report["drill_id"] / "samples.jsonl"
        samples = [json.loads(line) for line in samples_file.read_text().splitlines() if line.strip()]

    assert report["measurements"]["recovery"]["seconds"] is not None, report["measurements"]
    assert report["verdict"] == "PASS" and report["restore_verified"] is True
    http = [s for s in samples if s["probe"] == "http"]
    assert all("latency" in s for s in http)
    served_by_standby = [s for s in http if s.get("ok") and s.get("side") == "standby"]
    assert served_by_standby
    # A new connection to the standby: the handshake's round trip and the request's.
    assert min(s["latency"] for s in served_by_standby) >= 2 * STANDBY_RTT
    # The primary is next door (no latency knob): typically a few ms, though one reading can be slowed by a busy machine.
    assert statistics.median(s["latency"] for s in http if s.get("ok") and s.get("side") == "primary") < STANDBY_RTT
    # While the standby's HTTP readings took longer than the interval, the DNS readings kept it.
    injected = datetime.fromisoformat(report["injected_at"].replace("Z", "+00:00")).timestamp()
    dns = sorted(s["t"] for s in samples if s["probe"] == "dns" and injected <= s["t"] <= served_by_standby[-1]["t"])
    # Gaps within one loop (between two states' loops there is a state transition).
    gaps = [later - earlier for earlier, later in zip(dns, dns[1:], strict=False) if later - earlier < 3 * INTERVAL]
    assert len(gaps) >= 4 and statistics.median(gaps) < INTERVAL * 1.1, gaps
