"""Security a failover must not weaken: database ports open to the internet in either region's VPC.

A standby region is often built once and rarely looked at: a rule opened "for the migration" stays. The
check reads the security groups of the VPC behind each region's load balancer.
"""

from __future__ import annotations

import re
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

SECRET_IN_PLAIN_CONFIGURATION = rule(
    "SECRET_IN_PLAIN_CONFIGURATION",
    "security",
    "high",
    False,
    "A secret-looking variable (password, secret, token, key) is set in plain text in an app's configuration",
    "Move the value to Secrets Manager or SSM Parameter Store (SecureString) and reference it (ECS `secrets`, "
    "Lambda: read it at start); the standby's copy of the configuration carries the same plain value.",
)
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE)
# A value that names where the secret is (an ARN, a parameter path) is a reference, not the secret.
REFERENCE = re.compile(r"^(arn:aws[a-z-]*:(secretsmanager|ssm|kms):|/|\{\{resolve:)")


def _plain(name: str, value: str) -> bool:
    return bool(SECRET_NAME.search(name)) and bool(value) and not REFERENCE.match(value)


def _plain_secrets(survey: Survey) -> Iterator[Finding]:
    sides: tuple[Side, ...] = ("primary", "standby")
    for side in sides:
        balancer = survey.balancer(side)
        if balancer is None:
            continue
        groups = set(survey.target_groups(balancer))
        for group in sorted(groups):
            for described in survey.target_health(balancer.region, group):
                function = str(described.get("Target", {}).get("Id", ""))
                if not function.startswith("arn:aws") or ":lambda:" not in function:
                    continue
                variables = survey.function_configuration(balancer.region, function).get("Environment", {}).get("Variables", {})
                for name in sorted(n for n, v in variables.items() if _plain(n, str(v))):
                    yield SECRET_IN_PLAIN_CONFIGURATION.finding(
                        f"the {side}'s Lambda function {function} sets {name} in plain text in its environment variables",
                        "lambda:GetFunctionConfiguration",
                        function,
                        f"Environment.Variables.{name} (value not shown)",
                    )
        if not groups:
            continue
        services = survey.ecs_services(balancer.region)
        for service in services:
            if not any(lb.get("targetGroupArn") in groups for lb in service.get("loadBalancers", [])):
                continue
            definition = survey.task_definition(balancer.region, str(service["taskDefinition"]))
            for container in definition.get("containerDefinitions", []):
                for variable in container.get("environment", []):
                    name, value = str(variable.get("name", "")), str(variable.get("value", ""))
                    if _plain(name, value):
                        yield SECRET_IN_PLAIN_CONFIGURATION.finding(
                            f"the {side}'s ECS service {service.get('serviceName')} runs task definition "
                            f"{definition.get('taskDefinitionArn')} whose container {container.get('name')} sets {name} in "
                            "plain text (environment, not secrets)",
                            "ecs:DescribeTaskDefinition",
                            str(definition.get("taskDefinitionArn")),
                            f"containerDefinitions[{container.get('name')}].environment.{name} (value not shown)",
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


CHECKS = [Check("database-ports", _database_ports), Check("plain-secrets", _plain_secrets)]
