"""The DNS probe asks the hosted zone's own name servers (GetHostedZone's delegation set), without recursion."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import QTYPE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from drillkit import drill
from drillkit.probes import dns_answer, dns_client

from .conftest import RECORD, STANDBY_ADDRESS, recorded

pytestmark = pytest.mark.loopback  # the probe asks a stand-in DNS server on 127.0.0.1


class AuthoritativeStandIn(BaseResolver):
    """Answers the failover record with the standby's address, and keeps every question it was asked."""

    def __init__(self) -> None:
        self.questions: list[tuple[str, str, bool]] = []

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        self.questions.append((str(request.q.qname), QTYPE[request.q.qtype], bool(request.header.rd)))
        reply = request.reply()
        reply.add_answer(RR(str(request.q.qname), QTYPE.A, rdata=A(STANDBY_ADDRESS), ttl=60))
        return reply


@pytest.fixture
def name_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AuthoritativeStandIn, list[str]]]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    resolver = AuthoritativeStandIn()
    server = DNSServer(resolver, port=port, address="127.0.0.1", logger=DNSLogger(log="-recv,-send,-request,-reply"))
    server.start_thread()
    looked_up: list[str] = []

    def address_of(name: str) -> str:
        looked_up.append(name)
        return "127.0.0.1"  # every name server of the zone is the stand-in

    monkeypatch.setattr(dns_answer, "_address_of", address_of)
    monkeypatch.setattr(dns_answer, "DNS_PORT", port)
    dns_answer._name_servers.clear()
    try:
        yield resolver, looked_up
    finally:
        server.stop()
        dns_answer._name_servers.clear()


def test_the_probe_asks_the_zones_name_servers_for_the_authoritative_answer(account, request_for, name_server):
    resolver, looked_up = name_server
    context = recorded(drill.preflight(request_for(), execution_id=None, execution_name="drill-ns-0001")).context
    delegation = account.route53.get_hosted_zone(Id=account.zone_id)["DelegationSet"]["NameServers"]

    sample = dns_answer.read(context)
    dns_answer.read(context)

    # The name servers come from the zone's delegation set, looked up once
    assert looked_up == delegation
    # The question went to the first of them, for the record itself, without recursion (no cache on the way)
    assert resolver.questions == [(RECORD, "A", False)] * 2
    assert sample.source == "authoritative" and sample.nameserver == delegation[0]
    assert sample.answer == [STANDBY_ADDRESS] and sample.side == "standby" and sample.rcode == "NOERROR"
    # The client view is another probe, labelled as such
    assert dns_client.SOURCE == "caching-resolver"
