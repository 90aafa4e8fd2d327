"""Probe: the answer a client gets through a caching resolver (client-observed cutover).

Route 53 changes its authoritative answer at once; clients keep the old one until its TTL runs
out in their resolver's cache. In AWS the system resolver (the VPC resolver) is such a cache and
this probe asks it. In the lab, where the request names the lab's authoritative server, the probe
is the cache: it keeps each answer until its TTL runs out. The drill's states run in separate
Lambda invocations, so each sample carries the cached answer's expiry and the next state seeds
the cache from the last sample (``seed``): the cache outlives the invocation, as a resolver's does.
"""

from __future__ import annotations

import threading

import dns.exception
import dns.resolver

from drillkit import clock
from drillkit.model import DrillContext
from drillkit.probes import sides
from drillkit.readings import DNS_CLIENT, DnsClientReading, Reading

NAME = DNS_CLIENT
SOURCE = "caching-resolver"  # the client's view; the authoritative one is the dns probe's
# drill id -> (answer values, expires at)
_cache: dict[str, tuple[list[str], float]] = {}
_lock = threading.Lock()


def needs_seed(context: DrillContext) -> bool:
    """True in a fresh invocation of the lab's cache: only then are the stored samples worth reading."""
    with _lock:
        return context.network.resolver is not None and context.drill_id not in _cache


def seed(context: DrillContext, samples: list[Reading]) -> None:
    """Carry the cache over from an earlier invocation: the newest unexpired answer stays cached."""
    if context.network.resolver is None:
        return
    readings = [s for s in samples if isinstance(s, DnsClientReading) and s.expires_at]
    if readings:
        newest = max(readings, key=lambda s: s.t)
        with _lock:
            if context.drill_id not in _cache:
                _cache[context.drill_id] = (list(newest.answer), float(newest.expires_at or 0.0))


def _ask(context: DrillContext, record_type: str, timeout: float) -> tuple[list[str], float, bool]:
    """(values, expires at, answered from the cache)."""
    network = context.network
    if network.resolver is None:
        answer = dns.resolver.Resolver().resolve(context.target.record_name, record_type, lifetime=timeout)
        return sorted(r.to_text() for r in answer), float(answer.expiration), False
    now = clock.now()
    with _lock:
        cached = _cache.get(context.drill_id)
    if cached and now < cached[1]:
        return cached[0], cached[1], True
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [network.resolver.host]
    resolver.port = network.resolver.port
    answer = resolver.resolve(context.target.record_name, record_type, lifetime=timeout)
    values = sorted(r.to_text() for r in answer)
    # The shortest TTL along the CNAME chain: a resolver asks again once the first link expires.
    expires_at = float(answer.expiration)
    with _lock:
        _cache[context.drill_id] = (values, expires_at)
    return values, expires_at, False


def addresses(context: DrillContext, timeout: float) -> list[str]:
    """The public name's addresses as a client gets them: through a cache that honours the TTL.

    In AWS the system resolver (the Lambda's, a VPC's) is that cache; in the lab this module's cache stands
    for it, so a client keeps reaching the old region until its cached answer expires, as in AWS.
    """
    record_type = "AAAA" if context.target.record_type == "AAAA" else "A"
    if context.network.resolver is None:
        return sides.resolve(context.target.record_name.rstrip("."), record_type, context.network, timeout)
    return _ask(context, record_type, timeout)[0]


def read(context: DrillContext) -> DnsClientReading:
    record_type = "AAAA" if context.target.record_type == "AAAA" else "A"
    timeout = context.scenario.sampling.probe_timeout_seconds
    t = clock.now()
    try:
        values, expires_at, cached = _ask(context, record_type, timeout)
    except (dns.exception.DNSException, OSError) as error:
        return DnsClientReading(t=t, source=SOURCE, error=f"{type(error).__name__}: {error}", latency=round(clock.now() - t, 4))
    latency = round(clock.now() - t, 4)
    return DnsClientReading(
        t=t,
        source=SOURCE,
        answer=values,
        cached=cached,
        expires_at=round(expires_at, 3),
        side=sides.side_of(context, values, timeout),
        latency=latency,
    )
