"""Recovery points of the replicated stores (DynamoDB global tables, S3 replication), from their heartbeat readings.

Pure: no AWS call, no clock. drillkit.stores writes one heartbeat per store and sample in the primary region and
reads, in the same sample, the newest heartbeat of the drill visible in the standby region's copy; these models are
what it saves with the samples, and ``recovery_point`` turns them into each store's achieved recovery point.

The recovery point of a store at an instant T is the gap between the newest heartbeat the primary acknowledged by T
and the newest heartbeat a standby read had seen by T: what a reader in the standby region would miss if the
primary were lost at T. T is the instant the drill moved the application's writers to the standby (the
authoritative DNS cutover): only then can a fault cut the store's writes, and only then is the RPO judged. Without
a cutover the same gap at the end of the drill is shown as the replication lag observed, not judged.
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel, Field

from drillkit.readings import STORES, Reading, StoreKind, StoreReading, StoresSample

PROBE = STORES
# A cutover more than this many intervals after the last heartbeat the primary acknowledged fell in a sampling pause.
PAUSED = 1.5


class StoreRecoveryPoint(BaseModel):
    """One store's achieved recovery point (judged) or observed replication lag (not judged), as the report lists it."""

    store: str
    kind: StoreKind
    judged: bool = Field(description="True when the drill moved the writers (DNS cutover) and the RPO is judged.")
    at: float | None = Field(description="The instant the recovery point was taken: the cutover, else the last read.")
    at_reason: str
    seconds: float | None = Field(description="Achieved recovery point: data a loss of the primary at `at` would lose.")
    uncertainty_seconds: float
    target_seconds: float | None = None
    passed: bool | None = None
    not_replicated: bool = Field(description="No heartbeat of the drill ever appeared in the standby's copy.")
    heartbeats_acknowledged: int
    heartbeats_seen_in_standby: int
    last_acknowledged_at: float | None = None
    newest_visible_at: float | None = None
    replication_lag_max_seconds: float | None = Field(default=None, description="Observed: write to first read seeing it.")
    replication_lag_median_seconds: float | None = None
    replication_status: dict[str, int] = Field(default_factory=dict, description="S3: the source's ReplicationStatus counts.")
    errors: list[str] = Field(default_factory=list, description="The first write and read errors, for the report.")


def readings_of(samples: list[Reading]) -> dict[str, list[StoreReading]]:
    """Every store's readings from the stored samples, in the order they were started."""
    found: dict[str, list[StoreReading]] = {}
    for sample in samples:
        if not isinstance(sample, StoresSample):
            continue
        for reading in sample.readings:
            found.setdefault(reading.store, []).append(reading)
    for readings in found.values():
        readings.sort(key=lambda r: r.written_at)
    return found


def _first_seen(write: StoreReading, seen: list[tuple[float, int | None, float]], interval: float) -> tuple[float, float] | None:
    """How long until a standby read first saw ``write`` (or a newer heartbeat), and how closely that is known: it
    became visible after the read before (which did not see it) and by the read that did, so the lag is at most the
    first figure and at least the first minus the second. None when no read saw it, or when the read before is more
    than two intervals earlier (sampling paused: it cannot be dated that closely)."""
    after = [(read_at, visible, sent_at) for read_at, visible, sent_at in seen if read_at >= write.written_at]
    first = next((i for i, (_, visible, _) in enumerate(after) if visible is not None and visible >= write.seq), None)
    if first is None:
        return None
    previous_at, previous_sent_at = (after[first - 1][0], after[first - 1][2]) if first > 0 else (write.written_at,) * 2
    if after[first][0] - previous_at > 2 * interval:
        return None
    # The read before saw the standby somewhere within its call: from when it was sent (a slow call under load).
    bracket = after[first][0] - max(previous_sent_at, write.written_at)
    return round(after[first][0] - write.written_at, 3), round(bracket, 3)


def _seen(readings: list[StoreReading]) -> list[tuple[float, int | None, float]]:
    """Each standby read: when it answered, the newest heartbeat it saw, and when it was sent."""
    seen = [
        (r.read_at, r.visible_seq, r.read_sent_at if r.read_sent_at is not None else r.read_at)
        for r in readings
        if r.read_at is not None
    ]
    return sorted(seen, key=lambda read: read[0])


def _lags(readings: list[StoreReading], interval: float) -> list[float]:
    """For each acknowledged heartbeat, how long until a standby read first saw it (or a newer one)."""
    seen = _seen(readings)
    lags = [_first_seen(write, seen, interval) for write in readings if write.acked_at is not None]
    return [lag[0] for lag in lags if lag is not None]


def _lag_at(readings: list[StoreReading], at: float, interval: float) -> tuple[float, float] | None:
    """The replication lag at ``at`` and how closely it is known: of the last heartbeat acknowledged by then, dated by
    the first read that saw it, else (sampling paused before ``at``, or no read dated it) of the first heartbeat
    written after ``at``."""
    seen = _seen(readings)
    before = [r for r in readings if r.acked_at is not None and r.acked_at <= at]
    if before and at - before[-1].written_at <= PAUSED * interval:
        if (lag := _first_seen(before[-1], seen, interval)) is not None:
            return lag
    after = next((r for r in readings if r.acked_at is not None and r.written_at >= at), None)
    return _first_seen(after, seen, interval) if after is not None else None


def _instant(reading: StoreReading) -> float:
    """When a standby read saw what it answered: within the call, taken as its middle."""
    assert reading.read_at is not None
    return (reading.read_sent_at + reading.read_at) / 2 if reading.read_sent_at is not None else reading.read_at


def _nearest_read(reads: list[StoreReading], at: float) -> StoreReading:
    """The standby read closest to ``at``, before or after it: the best view of what the standby held then."""
    return min(reads, key=lambda r: abs(_instant(r) - at))


def recovery_point(
    store: str,
    kind: StoreKind,
    readings: list[StoreReading],
    cut_at: float | None,
    target: float | None,
    interval: float,
) -> StoreRecoveryPoint:
    """The store's recovery point at the cutover (judged) or at its last read (observed lag, not judged).

    What the standby held at that instant is read by the standby read nearest to it; the uncertainty is the
    sampling interval, or the distance to that read (plus half its duration) where sampling paused around it, or
    the span between the standby reads that date the lag at the cutover where they were further apart.
    """
    reads = sorted((r for r in readings if r.read_at is not None), key=_instant)
    judged = cut_at is not None
    at = cut_at if cut_at is not None else (_instant(reads[-1]) if reads else None)
    nearest = _nearest_read(reads, at) if reads and at is not None else None
    uncertainty = interval
    if nearest is not None and at is not None:
        seen_until = _instant(nearest)
        half_call = (nearest.read_at or 0) - seen_until
        uncertainty = max(interval, abs(seen_until - at) + half_call)
    acked = [r for r in readings if r.acked_at is not None and (at is None or r.acked_at <= at)]
    visible = [r for r in reads if r.visible_written_at is not None and nearest is not None and _instant(r) <= _instant(nearest)]
    ever_visible = any(r.visible_seq is not None for r in reads)
    newest_visible = max((r.visible_written_at for r in visible if r.visible_written_at is not None), default=None)
    last_acked = acked[-1].written_at if acked else None
    seconds: float | None = None
    if last_acked is not None and newest_visible is not None:
        seconds = round(max(0.0, last_acked - newest_visible), 3)
    elif last_acked is not None and reads:
        seconds = round(last_acked - acked[0].written_at, 3)  # nothing of the drill in the standby yet: all of it lost
    not_replicated = bool(acked) and bool(reads) and not ever_visible
    at_reason = "DNS cutover: the writers moved to the standby" if judged else "last standby read (no DNS cutover)"
    if judged and at is not None and (lag := _lag_at(readings, at, interval)) is not None:
        # What a writer that never pauses loses at the cutover is the replication lag there. The gap between the
        # newest heartbeats is not: it also counts the time no heartbeat was written (sampling pauses between
        # steps), so it serves only where no heartbeat near the cutover ever reached the standby (replication broken).
        # The lag is known only between the two standby reads around the heartbeat's arrival: a read late by load
        # widens that, and the uncertainty says so.
        seconds, bracket = lag
        uncertainty = max(uncertainty, bracket)
        at_reason = "DNS cutover: the writers moved to the standby; the replication lag of the heartbeat nearest it"
    passed: bool | None = None
    if judged and (target is not None or not_replicated):
        passed = not not_replicated and seconds is not None and (target is None or seconds <= target)
    lags = _lags(readings, interval)
    statuses: dict[str, int] = {}
    for reading in readings:
        if reading.replication_status:
            statuses[reading.replication_status] = statuses.get(reading.replication_status, 0) + 1
    errors = [f"write: {r.write_error}" for r in readings if r.write_error][:1] + [
        f"read: {r.read_error}" for r in readings if r.read_error
    ][:1]
    return StoreRecoveryPoint(
        store=store,
        kind=kind,
        judged=judged,
        at=at,
        at_reason=at_reason,
        seconds=seconds,
        uncertainty_seconds=round(uncertainty, 3),
        target_seconds=target,
        passed=passed,
        not_replicated=not_replicated,
        heartbeats_acknowledged=len(acked),
        heartbeats_seen_in_standby=len({r.visible_seq for r in reads if r.visible_seq is not None}),
        last_acknowledged_at=last_acked,
        newest_visible_at=newest_visible,
        replication_lag_max_seconds=max(lags) if lags else None,
        replication_lag_median_seconds=round(statistics.median(lags), 3) if lags else None,
        replication_status=statuses,
        errors=errors,
    )
