"""Probe: the authoritative answer for the failover record, asked of the hosted zone's own name servers.

The zone's name servers (GetHostedZone's DelegationSet) answer from Route 53's current view of
health, with no cache in between: this is the DNS cutover. The client view, through a caching
resolver, is the dns_client probe. Asking the name servers directly, without recursion, also keeps
the probe off Route 53's API budget (TestDNSAnswer, which it replaces, spends it every sample).
In the lab, the request's network.resolver is the zone's authoritative server on loopback.
"""

from __future__ import annotations

import socket
import threading

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from drillkit import aws, clock
from drillkit.errors import DrillError
from drillkit.model import DrillContext
from drillkit.probes import sides
from drillkit.readings import DNS, DnsReading

NAME = DNS
SOURCE = "authoritative"
DNS_PORT = 53
# A name server that does not answer within this is skipped for the next one (Route 53 gives four).
QUERY_TIMEOUT_SECONDS = 2.0


class NameServer:
    def __init__(self, name: str, address: str, port: int):
        self.name, self.address, self.port = name, address, port


# hosted zone id -> its name servers, looked up once per process (a delegation set does not change)
_name_servers: dict[str, list[NameServer]] = {}
_lock = threading.Lock()


def _address_of(name: str) -> str:
    return socket.gethostbyname(name.rstrip("."))


def name_servers(context: DrillContext) -> list[NameServer]:
    resolver = context.network.resolver
    if resolver is not None:
        return [NameServer(f"{resolver.host}:{resolver.port}", resolver.host, resolver.port)]
    zone_id = context.target.hosted_zone_id
    with _lock:
        known = _name_servers.get(zone_id)
    if known:
        return known
    with aws.aws_call("GetHostedZone", zone_id):
        zone = aws.target_client("route53").get_hosted_zone(Id=zone_id)
    names = list(zone.get("DelegationSet", {}).get("NameServers", []))
    servers = [NameServer(name, _address_of(name), DNS_PORT) for name in names]
    with _lock:
        _name_servers[zone_id] = servers
    return servers


def _ask(server: NameServer, record_name: str, record_type: str, timeout: float) -> tuple[list[str], str]:
    query = dns.message.make_query(record_name, dns.rdatatype.from_text(record_type))
    query.flags &= ~dns.flags.RD  # the zone's own answer: no recursion, no cache
    response = dns.query.udp(query, server.address, timeout=timeout, port=server.port)
    wanted = dns.rdatatype.from_text(record_type)
    values = sorted(
        rdata.to_text()
        for rrset in response.answer
        if rrset.rdtype == wanted and rrset.name == query.question[0].name
        for rdata in rrset
    )
    return values, dns.rcode.to_text(response.rcode())


def read(context: DrillContext) -> DnsReading:
    target = context.target
    t = clock.now()
    # One name server's silence costs at most this much before the next is asked (Route 53 gives four).
    timeout = min(QUERY_TIMEOUT_SECONDS, context.scenario.sampling.probe_timeout_seconds)
    try:
        servers = name_servers(context)
    except (DrillError, OSError) as error:
        error_text = f"name servers of {target.hosted_zone_id}: {error}"
        return DnsReading(t=t, source=SOURCE, error=error_text, latency=round(clock.now() - t, 4))
    problems = []
    for server in servers:
        try:
            values, rcode = _ask(server, target.record_name, target.record_type, timeout)
        except (dns.exception.DNSException, OSError) as error:
            problems.append(f"{server.name}: {type(error).__name__}: {error}")
            continue
        side = sides.side_of(context, values, timeout)
        latency = round(clock.now() - t, 4)
        return DnsReading(t=t, source=SOURCE, nameserver=server.name, answer=values, rcode=rcode, side=side, latency=latency)
    error_text = "; ".join(problems) or f"no name servers for {target.hosted_zone_id}"
    return DnsReading(t=t, source=SOURCE, error=error_text, latency=round(clock.now() - t, 4))
