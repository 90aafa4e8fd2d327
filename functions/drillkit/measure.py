"""Turn samples into milestones, measurements and a verdict (no I/O, no boto3).

A milestone is the time of the first reading that shows it; the true instant lies
between the previous reading of the same probe (or the injection request, whichever
is later) and that one. That window is the measurement's uncertainty: about the
sampling interval, more when a reading came late.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from drillkit.spec import Objectives

MILESTONES = ("detection", "dns_cutover", "recovery")
Verdict = Literal["PASS", "FAIL", "ERROR", "ABORTED"]


class Streak(BaseModel):
    start: float | None = None
    before_start: float | None = None  # the previous reading of the same probe
    count: int = 0

    def feed(self, t: float, hit: bool, previous: float | None) -> None:
        if hit:
            if self.count == 0:
                self.start, self.before_start = t, previous
            self.count += 1
        else:
            self.start, self.before_start, self.count = None, None, 0


class MilestoneTracker(BaseModel):
    """Incremental, serialisable: the observe loop carries it from one batch to the next."""

    t_inject: float
    hold_samples: int
    detection: float | None = None
    dns_cutover: float | None = None
    recovery: float | None = None
    dns_streak: Streak = Streak()
    http_streak: Streak = Streak()
    last_reading: dict[str, float] = {}
    # For each milestone, the last reading before it that did not show it yet: the true
    # instant lies between that reading and the milestone's own.
    not_before: dict[str, float] = {}
    samples_seen: int = 0
    t_before_inject: float | None = None

    def feed(self, sample: dict[str, Any]) -> list[str]:
        """Account one probe reading; return the milestones it completed."""
        t = sample["t"]
        probe = sample["probe"]
        if t < self.t_inject:
            self.last_reading[probe] = max(t, self.last_reading.get(probe, t))
            return []
        previous = self.last_reading.get(probe)
        self.last_reading[probe] = t
        self.samples_seen += 1
        reached: list[str] = []
        if probe == "health_check" and self.detection is None and sample.get("healthy") is False:
            self.detection = t
            self._bound("detection", previous)
            reached.append("detection")
        elif probe == "dns" and self.dns_cutover is None:
            self.dns_streak.feed(t, sample.get("side") == "standby", previous)
            if self.dns_streak.count >= self.hold_samples:
                self.dns_cutover = self.dns_streak.start
                self._bound("dns_cutover", self.dns_streak.before_start)
                reached.append("dns_cutover")
        elif probe == "http" and self.recovery is None:
            self.http_streak.feed(t, bool(sample.get("ok")) and sample.get("side") == "standby", previous)
            if self.http_streak.count >= self.hold_samples:
                self.recovery = self.http_streak.start
                self._bound("recovery", self.http_streak.before_start)
                reached.append("recovery")
        return reached

    def _bound(self, name: str, previous: float | None) -> None:
        # Nothing the fault caused can predate the injection request.
        floor = self.t_before_inject if self.t_before_inject is not None else self.t_inject
        self.not_before[name] = max(previous if previous is not None else floor, floor)

    def uncertainty(self, name: str, interval: float) -> float:
        reached = getattr(self, name)
        if reached is None:
            return interval
        return max(0.0, reached - self.not_before.get(name, reached - interval))

    def milestones(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in MILESTONES}

    @property
    def complete(self) -> bool:
        return all(getattr(self, name) is not None for name in MILESTONES)


def measurements(tracker: MilestoneTracker, objectives: Objectives, interval: float) -> dict[str, dict[str, Any]]:
    """Seconds from the acknowledged injection to each milestone, with its uncertainty window."""
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
            "uncertainty_seconds": round(tracker.uncertainty(name, interval), 3),
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
