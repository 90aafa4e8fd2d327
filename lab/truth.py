"""When things really happened, from the lab's ground-truth log: what drillkit's measurements are judged against.

The tests of measurement (tests/lab/test_scenarios.py) and the benchmark of its error (benchmarks/ratios.py)
read the same moments through these functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drillkit_lab.physics.groundtruth import read


def events_since(log: Path, t: float, event: str, **match: Any) -> list[dict[str, Any]]:
    found = [e for e in read(log) if e["event"] == event and e["t"] >= t]
    return [e for e in found if all(e.get(k) == v for k, v in match.items())]


def detection_at(log: Path, lab_info: dict[str, Any], since: float) -> float | None:
    """The primary's health check turned unhealthy (Route 53's own verdict, not a sample of it)."""
    check = lab_info["regions"]["primary"]["health_check_id"]
    return next((e["t"] for e in events_since(log, since, "health_check", id=check, healthy=False)), None)


def dns_cutover_at(log: Path, lab_info: dict[str, Any], since: float) -> float | None:
    """The authoritative DNS server first answered the standby."""
    standby = lab_info["regions"]["standby"]["dns_answer"]
    values = {standby, standby.rstrip(".")}
    return next((e["t"] for e in events_since(log, since, "dns_answer") if e["value"] in values), None)
