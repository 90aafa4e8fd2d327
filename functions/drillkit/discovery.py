"""Resolve a scenario's target to the Route 53 resources behind it (read-only)."""

from __future__ import annotations

from typing import Any

from drillkit import aws
from drillkit.errors import TargetNotFound
from drillkit.model import FailoverEndpoint, ResolvedTarget
from drillkit.spec import Target


def find_hosted_zone(zone_name: str) -> str:
    route53 = aws.client("route53")
    with aws.aws_call("ListHostedZonesByName", zone_name):
        zones = route53.list_hosted_zones_by_name(DNSName=zone_name, MaxItems="10")["HostedZones"]
    public = [z for z in zones if z["Name"] == zone_name and not z.get("Config", {}).get("PrivateZone")]
    if not public:
        raise TargetNotFound(f"target.hosted_zone: no public hosted zone named {zone_name}")
    return public[0]["Id"].split("/")[-1]


def failover_records(zone_id: str, name: str, record_type: str) -> list[dict[str, Any]]:
    route53 = aws.client("route53")
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
        side=side,  # type: ignore[arg-type]
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
    if "SECONDARY" not in by_role:
        raise TargetNotFound(f"target.record_name: no SECONDARY failover record for {where}; there is nothing to fail over to")
    return ResolvedTarget(
        hosted_zone_id=zone_id,
        record_name=target.record_name,
        record_type=target.record_type,
        primary=_endpoint(by_role["PRIMARY"], "primary"),
        standby=_endpoint(by_role["SECONDARY"], "standby"),
    )
