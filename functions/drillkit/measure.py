"""Turn samples into milestones, measurements and a verdict (no I/O, no boto3).

A milestone is the time of the first reading that shows it; the true instant lies
between the previous reading of the same probe (or the injection request, whichever
is later) and that one. That window is the measurement's uncertainty: about the
sampling interval, more when a reading came late.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field

from drillkit.readings import (
    AlarmsReading,
    DnsClientReading,
    DnsReading,
    HealthCheckReading,
    HeartbeatReading,
    HttpReading,
    Reading,
    SurvivingHeartbeat,
)
from drillkit.spec import Objectives, Scenario

# In the order they normally happen; "rpo" is a measurement but not a milestone.
MILESTONES = ("detection", "alerting", "dns_cutover", "client_cutover", "recovery")
ALWAYS_EXPECTED = ("detection", "dns_cutover", "client_cutover", "recovery")
HEALTHY_SHARE = 0.18
Verdict = Literal["PASS", "FAIL", "ERROR", "ABORTED"]
# "configuration-applied": the reading shows a setting drillkit changed (an inverted health check), not
# something Route 53 observed; it dates the change, it does not measure a detection and is not judged.
MeasurementKind = Literal["measured", "configuration-applied"]


class CheckerVerdict(BaseModel):
    """One Route 53 checker, replayed from its raw observations."""

    healthy: bool
    run_ok: bool
    run_start: float
    last: float


class HealthRule(BaseModel):
    """Route 53's rule over GetHealthCheckStatus readings taken one after another.

    A checker changes its verdict only after FailureThreshold observations in a row disagree
    with it; the endpoint is healthy while more than 18% of the verdicts are healthy; Disabled
    counts as healthy and Inverted flips the result. Observations are periodic, so a run's length
    is counted from its first and last checked times, which also covers readings that a sample
    missed. A checker seen for the first time is taken at its word (its history is unknown).

    Between two drill states (separate Lambda invocations) the readings pause for a moment and
    a checker may make observations nobody read. When a checker is next seen failing after such
    a gap, the observations it made unseen after the fault was requested (``fault_since``) are
    counted as failures like the one seen: the fault is in place from then on. Without that, a
    run would look one or two observations shorter than Route 53 counts it.
    """

    checkers: dict[str, CheckerVerdict] = Field(default_factory=dict)

    def feed(self, sample: HealthCheckReading, fault_since: float | None = None) -> bool | None:
        if sample.healthy is None or sample.observations is None:
            return sample.healthy
        interval = float(sample.interval or 30)
        threshold = int(sample.failure_threshold or 3)
        for checker, checked, ok in sorted(sample.observations, key=lambda o: o[1] or 0):
            if checked is None:
                continue
            state = self.checkers.get(checker)
            if state is None:
                self.checkers[checker] = CheckerVerdict(healthy=ok, run_ok=ok, run_start=checked, last=checked)
                continue
            if checked <= state.last:
                continue
            if ok != state.run_ok:
                state.run_ok, state.run_start = ok, checked
                # A failing check can complete late (a timeout), so a gap under two intervals hides nothing.
                unseen = math.floor((checked - state.last) / interval + 0.1) - 1
                if not ok and fault_since is not None and unseen > 0:
                    since_fault = [
                        state.last + k * interval for k in range(1, unseen + 1) if state.last + k * interval >= fault_since
                    ]
                    state.run_start = since_fault[0] if since_fault else checked
            state.last = checked
            in_a_row = 1 + math.floor((state.last - state.run_start) / interval + 0.25)
            if state.run_ok != state.healthy and in_a_row >= threshold:
                state.healthy = state.run_ok
        if not self.checkers:
            return None
        share = sum(1 for c in self.checkers.values() if c.healthy) / len(self.checkers)
        raw = True if sample.disabled else share > HEALTHY_SHARE
        return raw != sample.inverted


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
    expected: tuple[str, ...] = ALWAYS_EXPECTED
    detection: float | None = None
    detection_kind: MeasurementKind = "measured"
    alerting: float | None = None
    alerting_alarm: str | None = None
    dns_cutover: float | None = None
    client_cutover: float | None = None
    recovery: float | None = None
    health_rule: HealthRule = HealthRule()
    dns_streak: Streak = Streak()
    client_streak: Streak = Streak()
    http_streak: Streak = Streak()
    last_reading: dict[str, float] = {}
    # For each milestone, the last reading before it that did not show it yet: the true
    # instant lies between that reading and the milestone's own.
    not_before: dict[str, float] = {}
    samples_seen: int = 0
    t_before_inject: float | None = None

    def feed(self, sample: Reading) -> list[str]:
        """Account one probe reading; return the milestones it completed."""
        if isinstance(sample, HealthCheckReading) and sample.reused:
            return []  # a repeat of an earlier reading (health status is read at most every 2 s): nothing new
        t = sample.t
        probe = sample.probe
        # The rule needs every reading, before the injection too: a checker's run starts there.
        fault_since = self.t_before_inject if self.t_before_inject is not None else self.t_inject
        healthy = self.health_rule.feed(sample, fault_since) if isinstance(sample, HealthCheckReading) else None
        if t < self.t_inject:
            self.last_reading[probe] = max(t, self.last_reading.get(probe, t))
            return []
        previous = self.last_reading.get(probe)
        self.last_reading[probe] = t
        self.samples_seen += 1
        reached: list[str] = []
        if isinstance(sample, HealthCheckReading) and self.detection is None and healthy is False:
            self.detection = t
            # Inverted flips the verdict without any checker seeing a failure: the unhealthy reading is the
            # configuration drillkit applied, read back (GetHealthCheckStatus reports the checkers' raw results).
            if sample.inverted:
                self.detection_kind = "configuration-applied"
            self._bound("detection", previous)
            reached.append("detection")
        elif isinstance(sample, AlarmsReading) and self.alerting is None and sample.in_alarm:
            self.alerting, self.alerting_alarm = t, sample.in_alarm[0]
            self._bound("alerting", previous)
            reached.append("alerting")
        elif isinstance(sample, DnsReading) and self.dns_cutover is None:
            if self._held(self.dns_streak, t, sample.side == "standby", previous, "dns_cutover"):
                reached.append("dns_cutover")
        elif isinstance(sample, DnsClientReading) and self.client_cutover is None:
            if self._held(self.client_streak, t, sample.side == "standby", previous, "client_cutover"):
                reached.append("client_cutover")
        elif isinstance(sample, HttpReading) and self.recovery is None:
            served = sample.ok and sample.side == "standby"
            if self._held(self.http_streak, t, served, previous, "recovery"):
                reached.append("recovery")
        return reached

    def _held(self, streak: Streak, t: float, hit: bool, previous: float | None, name: str) -> bool:
        """A cutover counts from its first reading once it has held for ``hold_samples`` readings."""
        streak.feed(t, hit, previous)
        if streak.count < self.hold_samples:
            return False
        setattr(self, name, streak.start)
        self._bound(name, streak.before_start)
        return True

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
        return {name: getattr(self, name) for name in self.expected}

    @property
    def complete(self) -> bool:
        return all(getattr(self, name) is not None for name in self.expected)


def expected_milestones(has_alarms: bool) -> tuple[str, ...]:
    return tuple(name for name in MILESTONES if name in ALWAYS_EXPECTED or (name == "alerting" and has_alarms))


def rpo(heartbeats: list[HeartbeatReading], surviving: SurvivingHeartbeat | None, t_inject: float) -> dict[str, Any]:
    """The data-loss window from the heartbeat canary.

    The last heartbeat the primary acknowledged before the failure (the first failed write after
    the injection; without one, the last before the surviving store was read) against the newest
    heartbeat readable in the store that serves after failover. Heartbeats are compared by the
    instant they were written, which both sides carry.
    """
    ordered = sorted(heartbeats, key=lambda h: h.t)
    failed = [h.t for h in ordered if not h.ok and h.t >= t_inject]
    cutoff = failed[0] if failed else (surviving.t if surviving is not None else math.inf)
    acked = [h for h in ordered if h.ok and h.t < cutoff]
    result: dict[str, Any] = {
        "last_acknowledged_at": acked[-1].t if acked else None,
        "first_failed_write_at": failed[0] if failed else None,
        "newest_surviving_at": surviving.written_at if surviving else None,
        "serving_store": surviving.cluster_arn if surviving else None,
        "serving_store_reason": surviving.why if surviving else None,
        "heartbeats_acknowledged": len(acked),
        "seconds": None,
    }
    if not acked or surviving is None or surviving.error:
        return result
    newest = surviving.written_at
    if newest is None:
        result["seconds"] = round(acked[-1].t - acked[0].t, 3)  # nothing of this drill survived
        result["nothing_survived"] = True
        return result
    result["seconds"] = round(max(0.0, acked[-1].t - newest), 3)
    return result


def _cluster_name(arn_or_id: str) -> str:
    return arn_or_id.rsplit(":", 1)[-1] if arn_or_id.startswith("arn:") else arn_or_id


def rpo_not_applicable_because(scenario: Scenario, fault_resource_id: str | None) -> str | None:
    """None when the RPO is judged: the fault moves or takes away the writer the heartbeat writes to.

    Data can only be lost where the writer changes hands: an Aurora global failover or switchover of the
    heartbeat's cluster, or a regional stop of that cluster (which stands for losing it: what the standby's
    store holds then is what a real outage would leave). Any other fault leaves the heartbeat's writer in
    place, and the canary reading its own writer back measures nothing about loss: the RPO is not applicable.
    """
    heartbeat = scenario.data.heartbeat
    if heartbeat is None:
        return "the scenario has no heartbeat canary"
    fault = scenario.fault
    writer = _cluster_name(heartbeat.primary_cluster_arn)
    if fault.type != "stop-cluster":
        return f"the {fault.type} fault does not move the database writer ({writer} stayed the heartbeat's writer)"
    cluster = _cluster_name(fault_resource_id or fault.cluster)
    if cluster != writer:
        return f"the fault acts on cluster {cluster}, not on the heartbeat's writer {writer}"
    return None


def rpo_not_applicable(measured_rpo: dict[str, Any], target: float | None, interval: float, reason: str) -> dict[str, Any]:
    """The RPO objective where no writer moved: not judged, never "met"; the canary's reading kept as context."""
    return {
        "seconds": None,
        "uncertainty_seconds": round(interval, 3),
        "target_seconds": target,
        "passed": None,
        "kind": "not_applicable",
        "reason": reason,
        "detail": measured_rpo,
    }


def measurements(tracker: MilestoneTracker, objectives: Objectives, interval: float) -> dict[str, dict[str, Any]]:
    """Seconds from the acknowledged injection to each milestone, with its uncertainty window."""
    targets = objective_targets(objectives)
    result = {}
    for name in tracker.expected:
        reached = getattr(tracker, name)
        seconds = None if reached is None else round(reached - tracker.t_inject, 3)
        target = targets[name]
        kind: MeasurementKind = tracker.detection_kind if name == "detection" else "measured"
        if target is None or kind != "measured":
            passed = None
        else:
            passed = seconds is not None and seconds <= target
        result[name] = {
            "seconds": seconds,
            "uncertainty_seconds": round(tracker.uncertainty(name, interval), 3),
            "target_seconds": target,
            "passed": passed,
            "kind": kind,
        }
    return result


def objective_targets(objectives: Objectives) -> dict[str, float | None]:
    return {
        "detection": objectives.detection_seconds,
        "alerting": objectives.alerting_seconds,
        "dns_cutover": objectives.dns_cutover_seconds,
        "client_cutover": objectives.client_cutover_seconds,
        "recovery": objectives.recovery_seconds,
        "rpo": objectives.rpo_seconds,
    }


def rpo_measurement(measured_rpo: dict[str, Any], target: float | None, interval: float) -> dict[str, Any]:
    seconds = measured_rpo.get("seconds")
    # One heartbeat per interval: the true window can be up to one interval wider or narrower, or as wide as the
    # gap between the last acknowledged heartbeat and the first failed one when sampling paused there (a busy
    # machine, a state change): the failure came somewhere in that gap.
    acked, failed = measured_rpo.get("last_acknowledged_at"), measured_rpo.get("first_failed_write_at")
    gap = failed - acked if acked is not None and failed is not None else 0.0
    return {
        "seconds": seconds,
        "uncertainty_seconds": round(max(interval, gap), 3),
        "target_seconds": target,
        "passed": None if target is None else (seconds is not None and seconds <= target),
        "detail": measured_rpo,
    }


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
