"""Which side of the failover pair an answer points at.

Plain A/AAAA records name addresses and CNAME records name hosts, so the answer matches a
record's values directly. Alias records (A alias to an ALB) answer with the load balancer's
addresses, which the record does not list: those are found by resolving the alias target,
cached briefly because a load balancer's addresses change rarely.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import dns.exception
import dns.resolver

from drillkit.model import DrillContext, Side
from drillkit.spec import Network

ALIAS_CACHE_SECONDS = 5.0
_cache: dict[tuple[str, str | None], tuple[float, frozenset[str]]] = {}
_lock = threading.Lock()


def resolve(name: str, record_type: str, network: Network, timeout: float) -> list[str]:
    """Addresses of a name, from the lab's resolver when the request names one, else the system's."""
    if network.resolver is None:
        family = socket.AF_INET6 if record_type == "AAAA" else socket.AF_INET
        infos = socket.getaddrinfo(name.rstrip("."), None, family, socket.SOCK_STREAM)
        return sorted({str(info[4][0]) for info in infos})
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [network.resolver.host]
    resolver.port = network.resolver.port
    resolver.cache = None
    answer = resolver.resolve(name, "AAAA" if record_type == "AAAA" else "A", lifetime=timeout)
    return [rdata.to_text() for rdata in answer]


def is_address(value: str) -> bool:
    """A literal IP address (a record value that needs no resolving)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _addresses_of(name: str, network: Network, timeout: float) -> frozenset[str]:
    key = (name.rstrip(".").lower(), network.resolver.host if network.resolver else None)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached and now - cached[0] < ALIAS_CACHE_SECONDS:
        return cached[1]
    try:
        addresses = frozenset(resolve(name, "A", network, timeout))
    except (dns.exception.DNSException, OSError):
        addresses = frozenset()
    with _lock:
        _cache[key] = (now, addresses)
    return addresses


def side_of(context: DrillContext, values: list[str], timeout: float = 1.0) -> Side | None:
    side = context.target.side_of(values)
    if side is not None or not values:
        return side
    answer = {v.rstrip(".").lower() for v in values}
    if not all(is_address(v) for v in answer):
        return None
    for endpoint in context.target.endpoints():
        addresses: set[str] = set()
        for value in endpoint.values:
            addresses |= {value} if is_address(value) else set(_addresses_of(value, context.network, timeout))
        if answer <= addresses:
            return endpoint.side
    return None
