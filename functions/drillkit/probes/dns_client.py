"""Probe: the answer a client gets through a caching resolver (client-observed cutover).

Route 53 changes its authoritative answer at once; clients keep the old one until its TTL runs
out in their resolver's cache. In AWS the system resolver (the VPC resolver) is such a cache. In
the lab, where the request names the lab's authoritative server, this probe keeps its own cache
that honours each answer's TTL, as a resolver would.
"""

from __future__ import annotations

import threading
from typing import Any

import dns.exception
import dns.resolver

from drillkit import clock
from drillkit.model import DrillContext
from drillkit.probes import sides

NAME = "dns_client"
_caches: dict[str, dns.resolver.Cache] = {}
_lock = threading.Lock()


def _resolver(context: DrillContext) -> dns.resolver.Resolver:
    network = context.network
    if network.resolver is None:
        return dns.resolver.Resolver()  # the system's resolver caches, honouring TTL
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [network.resolver.host]
    resolver.port = network.resolver.port
    with _lock:
        resolver.cache = _caches.setdefault(context.drill_id, dns.resolver.Cache(cleaning_interval=60))
    return resolver


def read(context: DrillContext) -> dict[str, Any]:
    target = context.target
    record_type = "AAAA" if target.record_type == "AAAA" else "A"
    timeout = max(0.2, min(5.0, context.scenario.sampling.interval_seconds * 0.8))
    t = clock.now()
    try:
        answer = _resolver(context).resolve(target.record_name, record_type, lifetime=timeout)
    except (dns.exception.DNSException, OSError) as error:
        return {"t": t, "probe": NAME, "answer": [], "side": None, "error": f"{type(error).__name__}: {error}"}
    values = sorted(rdata.to_text() for rdata in answer)
    expires = getattr(answer, "expiration", None)
    return {
        "t": t,
        "probe": NAME,
        "answer": values,
        "ttl_left": round(max(0.0, expires - clock.now()), 3) if expires else None,
        "side": sides.side_of(context, values, timeout),
    }
