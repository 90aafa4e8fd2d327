"""Network paths the standby needs in a failover: the regions' VPC peering accepted and routed, and the
functions behind either load balancer able to leave their VPC.

A peering connection carries traffic only once the accepter has accepted it (status ``active``) and each
side's route tables send the other side's CIDR to it. A Lambda function attached to a VPC gets network
interfaces without public addresses: it reaches the internet (and AWS's public service endpoints) only
through a NAT gateway route, or a service through a VPC endpoint; a route to an internet gateway does not
help it. Each is read-only: one describe per VPC and region, shared with the other checks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from drillkit.discovery import LoadBalancer
from drillkit.findings import Finding, rule
from drillkit.model import Side
from drillkit.readiness.survey import Check, Survey

VPC_PEERING_NOT_ACTIVE = rule(
    "VPC_PEERING_NOT_ACTIVE",
    "network",
    "high",
    False,
    "The peering connection between the regions' VPCs is not active: it carries no traffic",
    "Accept the peering connection in the accepter's region (ec2:AcceptVpcPeeringConnection; a request expires "
    "after 7 days, then request it again); until then nothing crosses between the regions' VPCs.",
)
VPC_PEERING_NOT_ROUTED = rule(
    "VPC_PEERING_NOT_ROUTED",
    "network",
    "high",
    False,
    "A route table of a region's VPC has no route to the other region's CIDR through the peering connection",
    "Add a route to the other VPC's CIDR with the peering connection as its target (ec2:CreateRoute "
    "VpcPeeringConnectionId) in every route table the region's subnets use; without it the peering carries nothing "
    "from those subnets.",
)
FUNCTION_WITHOUT_EGRESS = rule(
    "FUNCTION_WITHOUT_EGRESS",
    "network",
    "high",
    False,
    "A Lambda function in a VPC runs in subnets without a route to a NAT gateway and without VPC endpoints",
    "Route the function's subnets' 0.0.0.0/0 to a NAT gateway in a public subnet, or create VPC endpoints for the "
    "services it calls (an internet gateway route does not give a function access: its interfaces have no public "
    "address).",
)
SIDES: tuple[Side, ...] = ("primary", "standby")
ACTIVE = "active"
GONE = frozenset({"deleted", "deleting", "rejected", "failed", "expired"})  # no longer meant to carry traffic
# Targets that carry a private interface's traffic out of the VPC (a NAT gateway, a NAT instance, a transit gateway).
EGRESS_TARGETS = ("NatGatewayId", "InstanceId", "TransitGatewayId", "NetworkInterfaceId")


def _vpcs(survey: Survey) -> dict[Side, LoadBalancer]:
    found = {side: survey.balancer(side) for side in SIDES}
    return {side: b for side, b in found.items() if b is not None and b.vpc_id}


def _between(survey: Survey, primary: LoadBalancer, standby: LoadBalancer) -> list[dict[str, Any]]:
    """Peering connections joining the two VPCs, in either direction (read in the primary's region)."""
    vpcs = {primary.vpc_id, standby.vpc_id}
    return [
        p
        for p in survey.peering_connections(primary.region)
        if {p.get("RequesterVpcInfo", {}).get("VpcId"), p.get("AccepterVpcInfo", {}).get("VpcId")} == vpcs
    ]


def _peering_active(survey: Survey) -> Iterator[Finding]:
    vpcs = _vpcs(survey)
    if set(vpcs) != set(SIDES):
        return
    for peering in _between(survey, vpcs["primary"], vpcs["standby"]):
        status = peering.get("Status", {})
        if status.get("Code") in GONE or status.get("Code") == ACTIVE:
            continue
        yield VPC_PEERING_NOT_ACTIVE.finding(
            f"peering connection {peering['VpcPeeringConnectionId']} between the primary's VPC {vpcs['primary'].vpc_id} "
            f"({vpcs['primary'].region}) and the standby's VPC {vpcs['standby'].vpc_id} ({vpcs['standby'].region}) is "
            f"{status.get('Code')} ({status.get('Message', '')}): it carries no traffic between the regions",
            "ec2:DescribeVpcPeeringConnections",
            str(peering["VpcPeeringConnectionId"]),
            f"Status.Code {status.get('Code')}",
        )


def _covers(destination: str | None, cidr: str) -> bool:
    if not destination:
        return False
    try:
        return ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network(destination))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False


def _in_use(table: dict[str, Any]) -> bool:
    """The main table (used by every subnet without its own) or a table associated with a subnet."""
    return any(a.get("Main") or a.get("SubnetId") for a in table.get("Associations", []))


def _unrouted(survey: Survey, balancer: LoadBalancer, peering_id: str, peer_cidr: str) -> list[str]:
    tables = [t for t in survey.route_tables(balancer.region, balancer.vpc_id) if _in_use(t)]
    return [
        str(t["RouteTableId"])
        for t in tables
        if not any(
            r.get("VpcPeeringConnectionId") == peering_id and _covers(r.get("DestinationCidrBlock"), peer_cidr)
            for r in t.get("Routes", [])
        )
    ]


def _peering_routed(survey: Survey) -> Iterator[Finding]:
    vpcs = _vpcs(survey)
    if set(vpcs) != set(SIDES):
        return
    for peering in _between(survey, vpcs["primary"], vpcs["standby"]):
        if peering.get("Status", {}).get("Code") != ACTIVE:
            continue
        peering_id = str(peering["VpcPeeringConnectionId"])
        infos = (peering.get("RequesterVpcInfo", {}), peering.get("AccepterVpcInfo", {}))
        cidr_of = {i.get("VpcId"): str(i.get("CidrBlock", "")) for i in infos}
        pairs: tuple[tuple[Side, Side], ...] = (("standby", "primary"), ("primary", "standby"))
        for side, other in pairs:
            balancer, peer_cidr = vpcs[side], cidr_of.get(vpcs[other].vpc_id, "")
            missing = _unrouted(survey, balancer, peering_id, peer_cidr) if peer_cidr else []
            if not missing:
                continue
            yield VPC_PEERING_NOT_ROUTED.finding(
                f"the {side}'s VPC {balancer.vpc_id} ({balancer.region}) has route table(s) {', '.join(missing)} without a "
                f"route to the {other}'s CIDR {peer_cidr} through peering connection {peering_id}: its subnets cannot "
                f"reach the {other} region over the peering",
                "ec2:DescribeRouteTables",
                ", ".join(missing),
                f"no route {peer_cidr} -> {peering_id}",
            )


def _table_of(tables: list[dict[str, Any]], subnet_id: str) -> dict[str, Any] | None:
    """The route table a subnet uses: its own association, else the VPC's main table."""
    own = [t for t in tables if any(a.get("SubnetId") == subnet_id for a in t.get("Associations", []))]
    main = [t for t in tables if any(a.get("Main") for a in t.get("Associations", []))]
    found = own or main
    return found[0] if found else None


def _default_route(table: dict[str, Any] | None) -> str:
    """What carries the subnet's 0.0.0.0/0: 'egress' (NAT, instance, transit gateway), 'internet gateway', 'none'."""
    for route in (table or {}).get("Routes", []):
        if route.get("DestinationCidrBlock") != "0.0.0.0/0" or route.get("State") == "blackhole":
            continue
        if any(route.get(k) for k in EGRESS_TARGETS):
            return "egress"
        if str(route.get("GatewayId", "")).startswith("igw-"):
            return "internet gateway"
    return "none"


def _functions(survey: Survey, side: Side) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(region, function ARN, its configuration) for each Lambda target of the side's load balancer."""
    balancer = survey.balancer(side)
    if balancer is None:
        return
    for group in survey.target_groups(balancer):
        for described in survey.target_health(balancer.region, group):
            function = str(described.get("Target", {}).get("Id", ""))
            if function.startswith("arn:aws") and ":lambda:" in function:
                yield balancer.region, function, survey.function_configuration(balancer.region, function)


def _function_egress(survey: Survey) -> Iterator[Finding]:
    for side in SIDES:
        for region, function, configuration in _functions(survey, side):
            vpc = configuration.get("VpcConfig") or {}
            subnets, vpc_id = list(vpc.get("SubnetIds") or []), str(vpc.get("VpcId") or "")
            if not subnets or not vpc_id:
                continue  # not in a VPC: Lambda's own network reaches the internet
            tables = survey.route_tables(region, vpc_id)
            routes = {subnet: _default_route(_table_of(tables, subnet)) for subnet in subnets}
            stuck = {s: r for s, r in routes.items() if r != "egress"}
            if not stuck or survey.vpc_endpoints(region, vpc_id):
                continue  # with endpoints it reaches those services: what it calls is not known here
            said = ", ".join(f"{s}: 0.0.0.0/0 -> {r}" for s, r in stuck.items())
            yield FUNCTION_WITHOUT_EGRESS.finding(
                f"the {side}'s Lambda function {function} runs in VPC {vpc_id} ({region}) in subnets without a NAT route "
                f"({said}) and the VPC has no endpoints: every call it makes outside the VPC (AWS APIs, the internet) "
                "never connects, and the function runs into its timeout",
                "ec2:DescribeRouteTables, ec2:DescribeVpcEndpoints",
                function,
                said,
            )


CHECKS = [
    Check("vpc-peering-active", _peering_active),
    Check("vpc-peering-routes", _peering_routed),
    Check("function-egress", _function_egress),
]
