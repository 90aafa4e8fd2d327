"""Resolve a scenario's target to the Route 53 resources behind it (read-only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from drillkit import aws
from drillkit.errors import AwsCallFailed, TargetNotFound
from drillkit.model import FailoverEndpoint, ResolvedTarget
from drillkit.spec import Target


def find_hosted_zone(zone_name: str) -> str:
    route53 = aws.target_client("route53")
    with aws.aws_call("ListHostedZonesByName", zone_name):
        zones = route53.list_hosted_zones_by_name(DNSName=zone_name, MaxItems="10")["HostedZones"]
    public = [z for z in zones if z["Name"] == zone_name and not z.get("Config", {}).get("PrivateZone")]
    if not public:
        raise TargetNotFound(f"target.hosted_zone: no public hosted zone named {zone_name}")
    return public[0]["Id"].split("/")[-1]


def failover_records(zone_id: str, name: str, record_type: str) -> list[dict[str, Any]]:
    route53 = aws.target_client("route53")
    records: list[dict[str, Any]] = []
    request = {"HostedZoneId": zone_id, "StartRecordName": name, "StartRecordType": record_type}
    with aws.aws_call("ListResourceRecordSets", zone_id):
        while True:
            page = route53.list_resource_record_sets(**request)
            for record in page["ResourceRecordSets"]:
                if record["Name"].lower() == name.lower() and record["Type"] == record_type:
                    records.append(record)
            if not page.get("IsTruncated") or page.get("NextRecordName", "").lower() != name.lower():
                return records
            request.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])
            if "NextRecordIdentifier" in page:
                request["StartRecordIdentifier"] = page["NextRecordIdentifier"]


def _endpoint(record: dict[str, Any], side: str) -> FailoverEndpoint:
    if "AliasTarget" in record:
        values: tuple[str, ...] = (record["AliasTarget"]["DNSName"],)
    else:
        values = tuple(r["Value"] for r in record.get("ResourceRecords", []))
    return FailoverEndpoint(
        side=side,
        set_identifier=record.get("SetIdentifier", ""),
        values=values,
        health_check_id=record.get("HealthCheckId"),
        ttl=record.get("TTL"),
    )


def resolve_target(target: Target) -> ResolvedTarget:
    zone_id = find_hosted_zone(target.hosted_zone)
    records = failover_records(zone_id, target.record_name, target.record_type)
    by_role = {r.get("Failover"): r for r in records if r.get("Failover")}
    where = f"{target.record_name} {target.record_type} in {target.hosted_zone}"
    if not records:
        raise TargetNotFound(f"target.record_name: no record {where}")
    if "PRIMARY" not in by_role:
        raise TargetNotFound(f"target.record_name: no PRIMARY failover record for {where}")
    # A missing SECONDARY is a readiness finding (the drill ends FAIL, reported), not an error here.
    return ResolvedTarget(
        hosted_zone_id=zone_id,
        record_name=target.record_name,
        record_type=target.record_type,
        primary=_endpoint(by_role["PRIMARY"], "primary"),
        standby=_endpoint(by_role["SECONDARY"], "standby") if "SECONDARY" in by_role else None,
    )


# -- the primary's load balancer ----------------------------------------------------------
ELB_DNS_NAME = re.compile(
    r"^(?:dualstack\.)?(?P<host>[^.]+)\.(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d)\.elb\.amazonaws\.com\.?$"
)


@dataclass(frozen=True)
class LoadBalancer:
    arn: str
    name: str
    region: str
    dns_name: str
    vpc_id: str
    security_groups: tuple[str, ...]
    subnets: tuple[str, ...]


def _region_of_arn(arn: str) -> str:
    return arn.split(":")[3]


def _describe_load_balancer(region: str, **selector: Any) -> dict[str, Any] | None:
    elbv2 = aws.target_client("elbv2", region)
    what = next(iter(selector.values()))[0]
    try:
        with aws.aws_call("DescribeLoadBalancers", what):
            found = elbv2.describe_load_balancers(**selector)["LoadBalancers"]
    except AwsCallFailed as error:
        if error.code == "LoadBalancerNotFound":
            return None
        raise
    return found[0] if found else None


def _by_dns_name(region: str, dns_name: str) -> dict[str, Any] | None:
    elbv2 = aws.target_client("elbv2", region)
    wanted = dns_name.rstrip(".").lower().removeprefix("dualstack.")
    with aws.aws_call("DescribeLoadBalancers", dns_name):
        for page in elbv2.get_paginator("describe_load_balancers").paginate():
            for balancer in page["LoadBalancers"]:
                if balancer["DNSName"].rstrip(".").lower() == wanted:
                    return balancer
    return None


def primary_load_balancer(load_balancer: str | None, region: str | None, target: ResolvedTarget) -> LoadBalancer:
    """The ALB a fault acts on: named by the scenario, or the one the PRIMARY record points at."""
    found: dict[str, Any] | None
    if load_balancer:
        where = _region_of_arn(load_balancer) if load_balancer.startswith("arn:") else str(region)
        key = "LoadBalancerArns" if load_balancer.startswith("arn:") else "Names"
        found = _describe_load_balancer(where, **{key: [load_balancer]})
        if found is None:
            raise TargetNotFound(f"fault.load_balancer: no load balancer {load_balancer} in {where}")
    else:
        names = [v for v in target.primary.values if ELB_DNS_NAME.match(v)]
        if not names:
            raise TargetNotFound(
                f"fault.load_balancer: the PRIMARY record of {target.record_name} points at {', '.join(target.primary.values)}, "
                "not at a load balancer; name the primary ALB in fault.load_balancer (and fault.region)"
            )
        match = ELB_DNS_NAME.match(names[0])
        assert match is not None
        found = _by_dns_name(match["region"], names[0])
        if found is None:
            raise TargetNotFound(f"fault.load_balancer: no load balancer answers to {names[0]} in {match['region']}")
    return _application(found)


def load_balancer_at(dns_name: str) -> LoadBalancer | None:
    """The ALB whose DNS name this is, or None when the name is not a load balancer's."""
    match = ELB_DNS_NAME.match(dns_name)
    if not match:
        return None
    found = _by_dns_name(match["region"], dns_name)
    return _application(found) if found else None


def _application(found: dict[str, Any]) -> LoadBalancer:
    if found.get("Type", "application") != "application":
        raise TargetNotFound(f"fault.load_balancer: {found['LoadBalancerName']} is a {found['Type']} load balancer, not an ALB")
    return LoadBalancer(
        arn=found["LoadBalancerArn"],
        name=found["LoadBalancerName"],
        region=_region_of_arn(found["LoadBalancerArn"]),
        dns_name=found["DNSName"],
        vpc_id=found.get("VpcId", ""),
        security_groups=tuple(found.get("SecurityGroups", [])),
        subnets=tuple(zone["SubnetId"] for zone in found.get("AvailabilityZones", []) if zone.get("SubnetId")),
    )


def forwarded_target_groups(balancer: LoadBalancer) -> list[str]:
    """Target groups the ALB's listeners forward to by default, in listener order."""
    elbv2 = aws.target_client("elbv2", balancer.region)
    groups: list[str] = []
    with aws.aws_call("DescribeListeners", balancer.arn):
        listeners = elbv2.describe_listeners(LoadBalancerArn=balancer.arn)["Listeners"]
    for listener in listeners:
        for action in listener.get("DefaultActions", []):
            arns = [action.get("TargetGroupArn")]
            arns += [g["TargetGroupArn"] for g in action.get("ForwardConfig", {}).get("TargetGroups", [])]
            groups += [a for a in arns if a and a not in groups]
    return groups


def listeners(balancer: LoadBalancer) -> list[tuple[str, int]]:
    """(protocol, port) of every listener of the ALB."""
    elbv2 = aws.target_client("elbv2", balancer.region)
    with aws.aws_call("DescribeListeners", balancer.arn):
        found = elbv2.describe_listeners(LoadBalancerArn=balancer.arn)["Listeners"]
    return [(str(item.get("Protocol", "")), int(item.get("Port", 0))) for item in found]
