"""The network between the drill's clients and a region's front door: a round-trip time.

Regions are tens to hundreds of milliseconds apart (a Lambda in one region calling an ALB in
another). The lab's front doors run on loopback, where a round trip takes microseconds, so they
wait out the region's round trips before answering. The kernel completes the TCP handshake, so
its round trip (and TLS's) is added to the first response on a connection instead: the client's
connect returns at once and its read waits for all of it. The total a client waits for its first
response is what it would wait in AWS; a connect timeout alone is not exercised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

# The handler attribute that marks a connection as past its handshake (one handler per connection).
_ANSWERED = "_lab_network_answered"


@dataclass(frozen=True)
class NetworkLatency:
    rtt_seconds: float = 0.0
    # Round trips before the first request can be sent: 1 for TCP, 2 with TLS 1.3 on top.
    handshake_round_trips: int = 1

    def before_response(self, handler: Any) -> None:
        """Wait the round trips a response costs on this connection: the request's, and the handshake's on the first."""
        if self.rtt_seconds <= 0:
            return
        first = not getattr(handler, _ANSWERED, False)
        setattr(handler, _ANSWERED, True)
        time.sleep(self.rtt_seconds * (1 + (self.handshake_round_trips if first else 0)))


def _table_of(ec2: Any, subnet_id: str) -> Any | None:
    """The route table a subnet uses: its explicit association, else its VPC's main table."""
    subnet = ec2.get_subnet(subnet_id)
    tables = [t for t in list(ec2.route_tables.values()) if t.vpc_id == subnet.vpc_id]
    explicit = next((t for t in tables if subnet_id in t._associations.values()), None)
    return explicit or next((t for t in tables if t.main_association_id is not None), None)


def subnet_has_egress(ec2: Any, subnet_id: str) -> bool:
    """A function's interface in this subnet reaches the internet (and AWS's public endpoints) only through a
    NAT gateway (or a NAT instance, a transit gateway): it has no public address, so an internet gateway
    route does not carry its traffic."""
    table = _table_of(ec2, subnet_id)
    if table is None:
        return False
    for route in table.routes:
        if route.destination_cidr_block != "0.0.0.0/0":
            continue
        return bool(route.nat_gateway or route.instance or route.transit_gateway or route.interface)
    return False


def function_has_egress(ec2: Any, vpc_config: dict[str, Any] | None) -> bool:
    """A function outside a VPC has Lambda's own egress; inside one, every subnet it may run in must have it, or the
    VPC an endpoint (the lab's app calls its region's AWS APIs, which an endpoint serves privately)."""
    subnets = list((vpc_config or {}).get("SubnetIds") or [])
    if not subnets:
        return True
    vpc_id = ec2.get_subnet(subnets[0]).vpc_id
    if any(e.vpc_id == vpc_id for e in list(ec2.vpc_end_points.values())):
        return True
    return all(subnet_has_egress(ec2, s) for s in subnets)
