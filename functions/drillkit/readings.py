"""What a probe reads: one typed model per probe, told apart by ``probe`` (no I/O, no boto3).

Probes (probes/*.py, canary.write) return these; the sampler, steady state, the milestone tracker (measure.py),
the judging (outcome.py), the chart and the report read them; the evidence bucket stores them one JSON object a
line (``dump``) and gives them back parsed (``parse_samples``). A field that was not read is left out of the
stored line and reads back as its default, so lines written before a field existed read back too; a line of a
probe this version does not have is skipped (nothing in a drill's judgement reads it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from drillkit.model import Side

HEALTH_CHECK: Final = "health_check"
DNS: Final = "dns"
DNS_CLIENT: Final = "dns_client"
HTTP: Final = "http"
STANDBY: Final = "standby"
ALARMS: Final = "alarms"
KEEPALIVE: Final = "keepalive"
HEARTBEAT: Final = "heartbeat"
STORES: Final = "stores"
StoreKind = Literal["dynamodb-global-table", "s3-replication"]


class _Reading(BaseModel):
    # Stored readings carry keys of earlier versions now and then: they are ignored, never a reason to drop a line.
    model_config = ConfigDict(extra="ignore")
    t: float  # when the reading started (epoch seconds)
    error: str | None = None  # what could not be read; the reading says so rather than raising


class Watch(BaseModel):
    """What a Route 53 health check requests: protocol, port, path and endpoint (domain name or IP address)."""

    protocol: str | None = None
    port: int | None = None
    path: str | None = None
    endpoint: str | None = None


# [checker, checked at (epoch seconds), success]: compact, there are 8 to 16 per reading.
CheckerObservation = tuple[str, float | None, bool]


class HealthCheckReading(_Reading, Watch):
    """GetHealthCheckStatus and the check's configuration, read together (probes/health_check.py)."""

    probe: Literal["health_check"] = HEALTH_CHECK
    health_check_id: str | None = None
    healthy: bool | None = None  # the naive verdict of the last observations; measure.HealthRule replays Route 53's
    healthy_share: float | None = None
    checkers: int | None = None
    inverted: bool = False
    disabled: bool = False
    interval: int | None = None
    failure_threshold: int | None = None
    observations: list[CheckerObservation] | None = None  # None: not read (an error), the rule has nothing to replay
    failure_reports: list[str] = Field(default_factory=list)
    reused: bool = False  # a repeat of the last reading (Route 53 is asked at most every 2 s): same t


class _Answer(_Reading):
    answer: list[str] = Field(default_factory=list)
    side: Side | None = None
    latency: float | None = None


class DnsReading(_Answer):
    """The zone's own name servers' answer for the failover record (probes/dns_answer.py)."""

    probe: Literal["dns"] = DNS
    source: str = "authoritative"
    nameserver: str | None = None
    rcode: str | None = None


class DnsClientReading(_Answer):
    """The answer through a caching resolver (probes/dns_client.py)."""

    probe: Literal["dns_client"] = DNS_CLIENT
    source: str = "caching-resolver"
    cached: bool | None = None
    expires_at: float | None = None


class HttpReading(_Reading):
    """A GET through the public name, as a client makes it (probes/http_endpoint.py)."""

    probe: Literal["http"] = HTTP
    resolved_via: str | None = None
    ok: bool = False
    status: int | None = None
    side: Side | None = None
    region: str | None = None
    address: str | None = None
    latency: float | None = None


class StandbyAnswer(BaseModel):
    """The scenario's GET straight at one failover endpoint (probes/standby.request)."""

    ok: bool = False
    status: int | None = None
    reason: str | None = None
    address: str | None = None
    url: str | None = None
    error: str | None = None


class StandbyReading(_Reading, StandbyAnswer):
    """The standby's own endpoint answering the scenario's request (probes/standby.py)."""

    probe: Literal["standby"] = STANDBY
    set_identifier: str | None = None
    latency: float | None = None


class AlarmsReading(_Reading):
    """The state of the alarms the scenario names (probes/alarms.py)."""

    probe: Literal["alarms"] = ALARMS
    states: dict[str, str | None] = Field(default_factory=dict)  # "region/name" -> StateValue
    in_alarm: list[str] = Field(default_factory=list)
    stop_in_alarm: list[str] = Field(default_factory=list)


class KeepAliveReading(_Reading):
    """A request on the connection held since before the fault (probes/keepalive.py)."""

    probe: Literal["keepalive"] = KEEPALIVE
    held_since: float
    address: str
    served: bool  # the held connection got a 2xx/3xx answer from the primary
    status: int | None = None
    region: str | None = None


class HeartbeatReading(_Reading):
    """One heartbeat row written to the primary writer (canary.write)."""

    probe: Literal["heartbeat"] = HEARTBEAT
    seq: int | None = None
    ok: bool = False
    acked_at: float | None = None


class SurvivingHeartbeat(BaseModel):
    """The newest heartbeat of the drill readable in the store that serves after failover (canary.newest_surviving)."""

    model_config = ConfigDict(extra="ignore")
    t: float
    cluster_arn: str | None = None
    why: str | None = None
    seq: int | None = None
    written_at: float | None = None
    error: str | None = None


class StoreReading(BaseModel):
    """One store's heartbeat in one sample: the write in the primary region and the read of the standby's copy."""

    model_config = ConfigDict(extra="ignore")
    store: str
    kind: StoreKind
    seq: int = Field(description="Milliseconds since the epoch when the heartbeat was written; the sequence.")
    written_at: float
    acked_at: float | None = None  # None: the primary did not acknowledge the write
    write_error: str | None = None
    replication_status: str | None = Field(
        default=None, description="S3 only: the source object's ReplicationStatus as HeadObject read it before this write."
    )
    read_sent_at: float | None = None  # when the standby read was sent
    read_at: float | None = None  # when the standby's answer came back
    visible_seq: int | None = None  # the newest heartbeat of this drill in the standby; None: none there
    visible_written_at: float | None = None
    read_error: str | None = None


class StoresSample(_Reading):
    """The sample drillkit.stores adds to samples.jsonl: every store's reading, started at ``t``."""

    probe: Literal["stores"] = STORES
    readings: list[StoreReading]


Reading = Annotated[
    HealthCheckReading
    | DnsReading
    | DnsClientReading
    | HttpReading
    | StandbyReading
    | AlarmsReading
    | KeepAliveReading
    | HeartbeatReading
    | StoresSample,
    Field(discriminator="probe"),
]
PROBE_NAMES = (HEALTH_CHECK, DNS, DNS_CLIENT, HTTP, STANDBY, ALARMS, KEEPALIVE, HEARTBEAT, STORES)
_READING: TypeAdapter[Reading] = TypeAdapter(Reading)


def parse(raw: dict[str, Any]) -> Reading:
    """One reading from its JSON object; a bad one raises ValidationError naming the field."""
    return _READING.validate_python(raw)


def parse_samples(lines: Iterable[str]) -> list[Reading]:
    """The readings of a samples file (JSON lines), in time order; lines of probes this version lacks are skipped."""
    readings: list[Reading] = []
    for line in lines:
        if not line.strip():
            continue
        raw = json.loads(line)
        if raw.get("probe") not in PROBE_NAMES:
            continue
        readings.append(parse(raw))
    return sorted(readings, key=lambda reading: reading.t)


def dump(reading: Reading) -> dict[str, Any]:
    """The reading as it is stored: JSON, a field that was not read left out."""
    return reading.model_dump(mode="json", exclude_none=True)


def dump_lines(readings: Iterable[Reading]) -> str:
    return "".join(json.dumps(dump(reading), separators=(",", ":")) + "\n" for reading in readings)
