"""Security a failover must not weaken: database ports open to the internet in either region's VPC, secrets in
plain configuration, HTTPS listeners whose certificate cannot serve the public name.

A standby region is often built once and rarely looked at: a rule opened "for the migration" stays, a
certificate requested there was never validated or lapsed. The checks read the security groups of the VPC
behind each region's load balancer, the configuration of what serves behind it, and its HTTPS listeners'
ACM certificates.
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
LISTENER_CERTIFICATE_NOT_ISSUED = rule(
    "LISTENER_CERTIFICATE_NOT_ISSUED",
    "security",
    "critical",
    True,
    "An HTTPS listener's ACM certificate is not ISSUED (pending validation, expired, revoked): it completes no TLS handshake",
    "Complete the certificate's validation (its DNS validation CNAME in the zone) or request a new one and put it on "
    "the listener (elasticloadbalancing:ModifyListener); ACM renews a DNS-validated certificate only while the "
    "validation record stays in place.",
)
LISTENER_CERTIFICATE_NAME_MISMATCH = rule(
    "LISTENER_CERTIFICATE_NAME_MISMATCH",
    "security",
    "critical",
    True,
    "No certificate of an HTTPS listener covers the public record name: clients refuse the TLS connection",
    "Put a certificate whose domain name or subject alternative names cover the public name (exactly, or a wildcard "
    "one label deep) on the listener (elasticloadbalancing:AddListenerCertificates or ModifyListener).",
)
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


def covers(pattern: str, name: str) -> bool:
    """A certificate name covers a host name: equal (case-insensitive), or a wildcard for exactly one left-most label."""
    pattern, name = pattern.rstrip(".").lower(), name.rstrip(".").lower()
    if pattern == name:
        return True
    if pattern.startswith("*."):
        label, _, rest = name.partition(".")
        return bool(label) and rest == pattern[2:]
    return False


def _certificate_names(certificate: dict[str, Any]) -> list[str]:
    names = [str(certificate.get("DomainName", ""))] + [str(n) for n in certificate.get("SubjectAlternativeNames", [])]
    return sorted({n for n in names if n})


def _listener_certificate(survey: Survey, region: str, listener: dict[str, Any], name: str) -> tuple[str, dict[str, Any]] | None:
    """The certificate the listener presents for ``name``: an ISSUED one that covers it (SNI), else one that covers it,
    else the default one (what a client gets when no certificate matches)."""
    attached = survey.listener_certificates(region, str(listener["ListenerArn"]))
    described = [(str(c["CertificateArn"]), survey.certificate(region, str(c["CertificateArn"]))) for c in attached]
    matching = [(arn, c) for arn, c in described if any(covers(n, name) for n in _certificate_names(c))]
    issued = [(arn, c) for arn, c in matching if c.get("Status") == "ISSUED"]
    default = [(str(c["CertificateArn"]), dict(d)) for c, (_, d) in zip(attached, described, strict=True) if c.get("IsDefault")]
    chosen = issued or matching or default or described
    return chosen[0] if chosen else None


def _listener_certificates(survey: Survey) -> Iterator[Finding]:
    name = survey.target.record_name.rstrip(".")
    sides: tuple[Side, ...] = ("primary", "standby")
    for side in sides:
        balancer = survey.balancer(side)
        if balancer is None:
            continue
        for listener in survey.listeners(balancer):
            if listener.get("Protocol") != "HTTPS":
                continue
            where = f"the {side}'s HTTPS:{listener.get('Port')} listener of {balancer.name} ({balancer.region})"
            presented = _listener_certificate(survey, balancer.region, listener, name)
            if presented is None:
                continue
            arn, certificate = presented
            status, names = str(certificate.get("Status", "")), _certificate_names(certificate)
            if status != "ISSUED":
                effect = (
                    "validating clients refuse the expired certificate"
                    if status == "EXPIRED"
                    else "the listener completes no TLS handshake"
                )
                yield LISTENER_CERTIFICATE_NOT_ISSUED.finding(
                    f"{where} presents ACM certificate {arn} ({', '.join(names)}) whose status is {status}: {effect}, so "
                    f"clients of {name} over HTTPS get no answer from the {side}",
                    "acm:DescribeCertificate",
                    arn,
                    f"Status {status}",
                )
            elif not any(covers(n, name) for n in names):
                yield LISTENER_CERTIFICATE_NAME_MISMATCH.finding(
                    f"{where} presents ACM certificate {arn} for {', '.join(names)}, which does not cover the public "
                    f"name {name}: clients that validate the certificate refuse the connection",
                    "acm:DescribeCertificate",
                    arn,
                    f"DomainName/SubjectAlternativeNames {', '.join(names)}",
                )


CHECKS = [
    Check("database-ports", _database_ports),
    Check("plain-secrets", _plain_secrets),
    Check("listener-certificates", _listener_certificates),
]
