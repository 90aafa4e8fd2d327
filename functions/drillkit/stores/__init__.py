"""Heartbeats of the replicated stores other than Aurora: one module per store kind (dynamodb, s3).

Once per sample, for each store of the scenario's ``data.stores``: write one sequenced heartbeat in the primary
region, then read the standby region's copy once, each call bounded by the probe timeout and made once (no retry:
the next sample is the retry). The readings (drillkit.replication) go into samples.jsonl with the other probes';
outcome.py turns them into each store's recovery point. Restore removes every heartbeat (``remove``).
"""

from __future__ import annotations

from drillkit import clock
from drillkit.errors import DrillError
from drillkit.model import DrillContext
from drillkit.readings import STORES, StoreReading, StoresSample
from drillkit.spec import DynamoDbGlobalTable, S3Replication
from drillkit.stores import dynamodb, s3

NAME = STORES


def _sample_one(store: DynamoDbGlobalTable | S3Replication, drill_id: str, timeout: float) -> StoreReading:
    t = clock.now()
    reading = StoreReading(store=store.label, kind=store.kind, seq=int(t * 1000), written_at=t)
    try:
        if isinstance(store, S3Replication):
            reading.replication_status = s3.replication_status(store, drill_id, timeout)
            s3.write(store, drill_id, reading.seq, t, timeout)
        else:
            dynamodb.write(store, drill_id, reading.seq, t, timeout)
        reading.acked_at = clock.now()
    except DrillError as error:
        reading.write_error = str(error)
    reading.read_sent_at = clock.now()
    try:
        if isinstance(store, S3Replication):
            visible = s3.read_standby(store, drill_id, timeout)
        else:
            visible = dynamodb.read_standby(store, drill_id, timeout)
        reading.read_at = clock.now()
        if visible is not None:
            reading.visible_seq, reading.visible_written_at = visible
    except DrillError as error:
        reading.read_error = str(error)
    return reading


def sample(context: DrillContext) -> StoresSample | None:
    """The probe: every store's heartbeat write and standby read of this sample; None without stores."""
    stores = context.scenario.data.stores
    if not stores:
        return None
    t = clock.now()
    timeout = context.scenario.sampling.probe_timeout_seconds
    readings = [_sample_one(store, context.drill_id, timeout) for store in stores]
    return StoresSample(t=t, readings=readings)


def steady_problems(sample: StoresSample) -> list[str]:
    """A heartbeat the primary does not acknowledge: the drill could not measure that store's recovery point."""
    return [
        f"the heartbeat of store {reading.store} cannot be written in the primary region: {reading.write_error}"
        for reading in sample.readings
        if reading.write_error
    ]


def remove(context: DrillContext) -> list[str]:
    """Delete every store's heartbeat (items, object versions, replicas); the problems, each naming its resource."""
    problems: list[str] = []
    for store in context.scenario.data.stores:
        if isinstance(store, S3Replication):
            problems += s3.remove(store, context.drill_id)
        else:
            problems += dynamodb.remove(store, context.drill_id)
    return problems
