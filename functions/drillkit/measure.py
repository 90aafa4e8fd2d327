"""Turn samples into milestones, measurements and a verdict (no I/O, no boto3).

A milestone is the time of the first sample that shows it; the true instant lies
between the previous sample and that one, so every duration carries the sampling
interval (plus the injection call's own latency) as its uncertainty.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from drillkit.spec import Objectives

MILESTONES = ("detection", "dns_cutover", "recovery")
Verdict = Literal["PASS", "FAIL", "ERROR", "ABORTED"]


class Streak(BaseModel):
    start: float | None = None
    count: int = 0

    def feed(self, t: float, hit: bool) -> None:
        if hit:
            if self.count == 0:
                self.start = t
            self.count += 1
        else:
            self.start, self.count = None, 0


class MilestoneTracker(BaseModel):
    """Incremental, serialisable: the observe loop carries it from one batch to the next."""

    t_inject: float
    hold_samples: int
    detection: float | None = None
    dns_cutover: float | None = None
    recovery: float | None = None
    dns_streak: Streak = Streak()
    http_streak: Streak = Streak()
    samples_seen: int = 0

    def feed(self, sample: dict[str, Any]) -> list[str]:
        """Account one probe reading; return the milestones it completed."""
        t = sample["t"]
        if t < self.t_inject:
            return []
        self.samples_seen += 1
        reached: list[str] = []
        probe = sample["probe"]
        if probe == "health_check" and self.detection is None and sample.get("healthy") is False:
            self.detection = t
            reached.append("detection")
        elif probe == "dns" and self.dns_cutover is None:
            self.dns_streak.feed(t, sample.get("side") == "standby")
            if self.dns_streak.count >= self.hold_samples:
                self.dns_cutover = self.dns_streak.start
                reached.append("dns_cutover")
        elif probe == "http" and self.recovery is None:
            self.http_streak.feed(t, bool(sample.get("ok")) and sample.get("side") == "standby")
            if self.http_streak.count >= self.hold_samples:
                self.recovery = self.http_streak.start
                reached.append("recovery")
        return reached

    def milestones(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in MILESTONES}

    @property
    def complete(self) -> bool:
        return all(getattr(self, name) is not None for name in MILESTONES)


def measurements(
    tracker: MilestoneTracker, objectives: Objectives, interval: float, inject_latency: float
) -> dict[str, dict[str, Any]]:
    uncertainty = round(interval + inject_latency, 3)
    targets = {
        "detection": objectives.detection_seconds,
        "dns_cutover": objectives.dns_cutover_seconds,
        "recovery": objectives.recovery_seconds,
    }
    result = {}
    for name in MILESTONES:
        reached = getattr(tracker, name)
        seconds = None if reached is None else round(reached - tracker.t_inject, 3)
        target = targets[name]
        if target is None:
            passed = None
        else:
            passed = seconds is not None and seconds <= target
        result[name] = {
            "seconds": seconds,
            "uncertainty_seconds": uncertainty,
            "target_seconds": target,
            "passed": passed,
        }
    return result


def verdict(measured: dict[str, dict[str, Any]], restore_verified: bool, error: bool, aborted: bool = False) -> Verdict:
    if aborted:
        return "ABORTED"
    if error:
        return "ERROR"
    if not restore_verified:
        return "FAIL"
    if any(m["passed"] is False for m in measured.values()):
        return "FAIL"
    return "PASS"
