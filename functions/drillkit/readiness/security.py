"""Security a failover must not weaken: database ports open to the internet in either region's VPC.

A standby region is often built once and rarely looked at: a rule opened "for the migration" stays. The
check reads the security groups of the VPC behind each region's load balancer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drillkit.findings import Finding, rule
from drillkit.model import Side
from drillkit.readiness.survey import Check, Survey

# Engine default ports: MySQL/Aurora MySQL, PostgreSQL/Aurora PostgreSQL, SQL Server, Oracle, Redis, MongoDB.
DATABASE_PORTS = {3306: "MySQL", 5432: "PostgreSQL", 1433: "SQL Server", 1521: "Oracle", 6379: "Redis", 27017: "MongoDB"}
ANYWHERE = {"0.0.0.0/0", "::/0"}

DATABASE_PORT_OPEN_TO_INTERNET = rule(
    "DATABASE_PORT_OPEN_TO_INTERNET",
    "security",
    "high",
    False,
    "A security group in a region's VPC allows a database port from anywhere (0.0.0.0/0 or ::/0)",
    "Remove the rule; allow the database port only from the application's security group (a source group, not a CIDR).",
)


def _open_ports(permission: dict[str, Any]) -> list[int]:
    sources = {r.get("CidrIp") for r in permission.get("IpRanges", [])} | {
        r.get("CidrIpv6") for r in permission.get("Ipv6Ranges", [])
    }
    if not sources & ANYWHERE:
        return []
    protocol = str(permission.get("IpProtocol", ""))
    if protocol == "-1":
        return sorted(DATABASE_PORTS)
    if protocol not in ("tcp", "6"):
        return []
    low, high = int(permission.get("FromPort", 0)), int(permission.get("ToPort", 65535))
    return [port for port in sorted(DATABASE_PORTS) if low <= port <= high]


def _database_ports(survey: Survey) -> Iterator[Finding]:
    seen: set[tuple[str, str]] = set()
    sides: tuple[Side, ...] = ("primary", "standby")
    for side in sides:
        balancer = survey.balancer(side)
        if balancer is None or not balancer.vpc_id or (balancer.region, balancer.vpc_id) in seen:
            continue
        seen.add((balancer.region, balancer.vpc_id))
        for group in survey.security_groups(balancer.region, balancer.vpc_id):
            for permission in group.get("IpPermissions", []):
                ports = f"{permission.get('FromPort')}-{permission.get('ToPort')}"
                rule_text = f"IpProtocol {permission.get('IpProtocol')} ports {ports}"
                for port in _open_ports(permission):
                    yield DATABASE_PORT_OPEN_TO_INTERNET.finding(
                        f"security group {group['GroupId']} ({group.get('GroupName', '')}) in {side} VPC {balancer.vpc_id} "
                        f"({balancer.region}) allows port {port} ({DATABASE_PORTS[port]}) from anywhere",
                        "ec2:DescribeSecurityGroups",
                        group["GroupId"],
                        rule_text,
                    )


CHECKS = [Check("database-ports", _database_ports)]
