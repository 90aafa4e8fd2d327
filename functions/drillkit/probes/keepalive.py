"""Probe: is a client whose connection was open before the fault still served by the primary?

New clients are what the HTTP probe sees. Clients already connected can fare differently: a
security-group change spares connections the VPC already tracks (they go on until they end or time
out), a network ACL cuts every packet, a deregistered target stops getting new requests. This probe
holds one persistent HTTP/1.1 connection to the primary's front door (the primary failover record's
address, not the public name, so DNS cutover does not move it) and sends a request on it at each
sample. What new clients meet at the same moment is the HTTP probe's reading of the same sample.

A connection cannot outlive the Lambda invocation that opened it, and the drill's steps run in
separate invocations. So the one step that spans the change holds it: Inject opens it just before the
fault (``hold``), samples every probe for a short window after the change (``follow``) and closes it.
Every other step holds no connection and this probe reads nothing there. The window ends as soon as
the answer is known (the held connection is cut, or it was served while new clients of the primary
failed), or with the observation (the fault is restored next), else after ``FOLLOW_SECONDS``: beyond
that the probe cannot say how long an existing client stays served (an ALB closes a connection idle
for its idle timeout, 60 s by default).

A held connection is never reopened after the fault: a reopened one would be a new client.
"""

from __future__ import annotations

import http.client
import ipaddress
from collections.abc import Callable
from typing import Any

import dns.exception
from pydantic import BaseModel

from drillkit import clock
from drillkit.model import DrillContext
from drillkit.probes import sides
from drillkit.probes.http_endpoint import _PinnedHTTPSConnection, _region_of
from drillkit.readings import KEEPALIVE, HttpReading, KeepAliveReading, Reading

NAME = KEEPALIVE
# A fixed time-out, not a share of the sampling interval: a stalled request on a held connection is
# an answer (the connection is cut), so it must not be mistaken for a slow cross-region round trip.
REQUEST_TIMEOUT_SECONDS = 1.5
FOLLOW_SECONDS = 10.0
FOLLOW_MAX_SECONDS = 60.0


class ExistingClients(BaseModel):
    """What the report says about clients connected before the fault."""

    measured: bool
    held_since: float | None = None
    served_before_fault: bool | None = None
    cut: bool | None = None  # True: the held connection stopped being served after the fault
    cut_at: float | None = None
    last_served_at: float | None = None  # the held connection's last successful request after the fault
    new_connections_failed_at: float | None = None  # first HTTP probe reading after the fault that failed on the primary
    readings_after_fault: int = 0
    summary: str


class _Held:
    def __init__(self, connection: http.client.HTTPConnection, address: str, opened_at: float) -> None:
        self.connection = connection
        self.address = address
        self.opened_at = opened_at
        self.broken: str | None = None  # why the connection ended; it is never reopened


_held: _Held | None = None


def _front_door(context: DrillContext) -> str | None:
    """The address of the primary's front door: the primary record's value, resolved if it is a name."""
    for value in context.target.primary.values:
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        try:
            addresses = sides.resolve(value.rstrip("."), "A", context.network, REQUEST_TIMEOUT_SECONDS)
        except (dns.exception.DNSException, OSError):
            continue
        if addresses:
            return addresses[0]
    return None


def _connection(context: DrillContext, address: str) -> http.client.HTTPConnection:
    target = context.scenario.target
    logical_port = target.url_port or (443 if target.url_scheme == "https" else 80)
    port = context.network.ports.get(logical_port, logical_port)
    if target.url_scheme == "https":
        name = context.target.record_name.rstrip(".")
        return _PinnedHTTPSConnection(address, name, port, REQUEST_TIMEOUT_SECONDS, context.network.ca_pem)
    return http.client.HTTPConnection(address, port, timeout=REQUEST_TIMEOUT_SECONDS)


def _request(context: DrillContext, connection: http.client.HTTPConnection) -> tuple[int, str | None, bool]:
    """(status, region, whether the server keeps the connection open) of one GET on the connection."""
    target = context.scenario.target
    headers = {"Host": context.target.record_name.rstrip("."), "User-Agent": "drillkit-keepalive-probe"}
    connection.request("GET", target.url_path, headers=headers)
    response = connection.getresponse()
    body = response.read(65536)
    return response.status, _region_of(response, body, target.region_header), not response.will_close


def _served(status: int) -> bool:
    return 200 <= status < 400


def release() -> None:
    global _held
    if _held is not None:
        _held.connection.close()
    _held = None


def hold(context: DrillContext) -> KeepAliveReading | None:
    """Open the connection just before the fault and prove it is served; None when it cannot be held.

    Tried twice: a connection that breaks before the fault is simply opened again.
    """
    global _held
    release()
    address = _front_door(context)
    if address is None:
        return None
    for _ in range(2):
        connection = _connection(context, address)
        opened_at = clock.now()
        try:
            status, region, kept_open = _request(context, connection)
        except (OSError, http.client.HTTPException):
            connection.close()
            continue
        if not (_served(status) and kept_open):
            connection.close()
            continue
        connection.auto_open = 0  # never reconnect silently: a new connection would be a new client
        _held = _Held(connection, address, opened_at)
        return KeepAliveReading(t=opened_at, held_since=opened_at, address=address, served=True, status=status, region=region)
    return None


def read(context: DrillContext) -> KeepAliveReading | None:
    """One request on the held connection; None when none is held."""
    held = _held
    if held is None:
        return None
    t = clock.now()
    reading = KeepAliveReading(t=t, held_since=held.opened_at, address=held.address, served=False)
    if held.broken is None:
        try:
            reading.status, reading.region, kept_open = _request(context, held.connection)
            reading.served = _served(reading.status)
            if not kept_open:
                held.broken = f"the server closed the connection after HTTP {reading.status}"
        except (OSError, http.client.HTTPException) as error:
            # A time-out leaves the connection unusable (the answer may still come): it is over.
            held.broken = f"{type(error).__name__}: {error}"
            held.connection.close()
            reading.error = held.broken
    else:
        reading.error = f"connection lost earlier: {held.broken}"
    return reading


def _new_clients_failed(reading: Reading) -> bool:
    """An HTTP probe reading in which a new client of the primary was not served."""
    return isinstance(reading, HttpReading) and reading.side == "primary" and not reading.ok


def _held_reading(readings: list[Reading]) -> KeepAliveReading | None:
    return next((r for r in readings if isinstance(r, KeepAliveReading)), None)


def follow(
    context: DrillContext,
    t_inject: float,
    first_readings: list[Reading],
    sample: Callable[[], list[Reading]],
    drain: Callable[[], list[Reading]] = list,
    observed: Callable[[list[Reading]], bool] = lambda _: False,
) -> list[Reading]:
    """After the reading that followed the change, sample every probe once per interval while the held
    connection can still tell something new; return those readings and close the connection.

    Ends when the held connection is cut, or once it was served while new clients of the primary failed
    (the HTTP probe, same sample) for ``hold_samples`` readings in a row, or when the window is over, or
    when the observation is over: ``observed`` gets each new batch of readings and says whether observation
    would end now (the fault is restored next, so the held connection can tell nothing more about it).
    """
    sampling = context.scenario.sampling
    window = min(FOLLOW_MAX_SECONDS, max(FOLLOW_SECONDS, (sampling.hold_samples + 1) * sampling.interval_seconds))
    deadline = t_inject + window
    collected: list[Reading] = []
    readings, spared, next_tick = first_readings, 0, clock.now()
    mine = _held_reading(readings)
    over = observed([])
    try:
        while True:
            if (mine is None and _held is None) or (mine is not None and not mine.served):
                break  # nothing held, or the answer is known: cut (a held connection's reading may still be in flight)
            # Spared: the held connection is shown served (not merely in flight) while new clients failed
            spared = spared + 1 if mine is not None and any(_new_clients_failed(r) for r in readings) else 0
            if spared >= sampling.hold_samples or over:
                break  # the answer is known: spared while new clients are refused; or the fault ends now
            next_tick += sampling.interval_seconds
            if next_tick >= deadline:
                break
            clock.sleep_until(next_tick)
            readings = sample()
            collected.extend(readings)
            over = observed(readings)
            # A slow reading still in flight (the sampler keeps the cadence) leaves the last one standing.
            mine = _held_reading(readings) or mine
    finally:
        collected.extend(drain())  # before the connection is closed under a reading still in flight
        release()
    return collected


def existing_clients(samples: list[Reading], t_inject: float | None) -> dict[str, Any] | None:
    """The report's account of the held connection; None when the drill held none (older drills)."""
    readings = sorted((r for r in samples if isinstance(r, KeepAliveReading)), key=lambda r: r.t)
    if not readings or t_inject is None:
        return None
    before = [r for r in readings if r.t < t_inject]
    after = [r for r in readings if r.t >= t_inject]
    first_failure = next((r for r in after if not r.served), None)
    cut_at = first_failure.t if first_failure else None
    served_after = [r.t for r in after if r.served]
    new_failed = min((r.t for r in samples if r.t >= t_inject and _new_clients_failed(r)), default=None)
    if not after:
        summary = "a connection was held before the fault but not read after it"
    elif first_failure is not None:
        why = first_failure.error or f"HTTP {first_failure.status}"
        summary = (
            f"existing clients were cut: a connection opened before the fault failed "
            f"{first_failure.t - t_inject:.1f}s after it ({why})"
        )
    elif new_failed is not None:
        summary = (
            f"existing clients were not cut: a connection opened before the fault was still served "
            f"{served_after[-1] - t_inject:.1f}s after it, while new clients of the primary failed"
        )
    else:
        summary = (
            f"existing clients were not cut within {after[-1].t - t_inject:.1f}s of the fault; "
            "no new client of the primary was seen refused meanwhile"
        )
    return ExistingClients(
        measured=bool(after),
        held_since=readings[0].held_since,
        served_before_fault=bool(before) and all(r.served for r in before),
        cut=None if not after else cut_at is not None,
        cut_at=cut_at,
        last_served_at=served_after[-1] if served_after else None,
        new_connections_failed_at=new_failed,
        readings_after_fault=len(after),
        summary=summary,
    ).model_dump()
