"""An authoritative DNS server on loopback answering from the Route 53 physics."""

from __future__ import annotations

import socket
from typing import Any

from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from drillkit_lab.physics.network import Serving
from drillkit_lab.physics.route53 import Route53Physics

RDATA = {"A": A, "AAAA": AAAA, "CNAME": CNAME}


class FailoverResolver(BaseResolver):
    def __init__(self, physics: Route53Physics):
        self.physics = physics

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        rcode, values, ttl = self.physics.answer(qname, qtype)
        if rcode == "NOERROR" and not values and qtype in ("A", "AAAA"):
            # No record of that type: try a CNAME at the name, as a resolver would see it.
            cname_rcode, cname_values, cname_ttl = self.physics.answer(qname, "CNAME")
            if cname_values:
                rcode, values, ttl, qtype = cname_rcode, cname_values, cname_ttl, "CNAME"
        reply.header.rcode = getattr(RCODE, rcode)
        for value in values:
            reply.add_answer(RR(qname, getattr(QTYPE, qtype), rdata=RDATA[qtype](value), ttl=ttl))
        if qtype == "CNAME" and QTYPE[request.q.qtype] == "A":
            # Chase the CNAME to the load balancer's address, as a recursive resolver would.
            for target in values:
                _, addresses, target_ttl = self.physics.answer(target, "A")
                for address in addresses:
                    reply.add_answer(RR(target, QTYPE.A, rdata=A(address), ttl=target_ttl))
        return reply


def free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class LabDNSServer:
    def __init__(self, physics: Route53Physics, host: str = "127.0.0.1", port: int | None = None):
        self.host = host
        self.port = port or free_udp_port(host)
        quiet = DNSLogger(log="-recv,-send,-request,-reply,-truncated,-error,-data", prefix=False)
        self.server = DNSServer(FailoverResolver(physics), port=self.port, address=host, logger=quiet)
        self._serving: Serving | None = None

    def start(self) -> None:
        # Not dnslib's start_thread: its serve_forever polls for a shutdown every 0.5 s (each lab stop waited that long).
        self._serving = Serving(self.server.server, "dns")

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
