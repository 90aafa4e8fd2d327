"""Readiness of the network paths, listener certificates and backup copies, against stacks the lab provisions in moto.

Each stack is built by the lab's own provisioning (lab/provision.py, boto3 calls only) from a stack spec with one
knob turned, so the test reads exactly what a drill's preflight would describe in AWS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from drillkit import aws, readiness
from drillkit.findings import Finding
from drillkit.model import FailoverEndpoint, ResolvedTarget
from drillkit.readiness import backups, network, security
from drillkit.readiness.survey import Survey
from drillkit.spec import parse_request
from drillkit_lab.extensions import install_lambda_vpc_id
from drillkit_lab.provision import Provisioner
from drillkit_lab.stackspec import load_stack, parse_stack
from drillkit_lab.tls import LabCertificates

from ..conftest import ROOT

PUBLIC_NAME = "app.drillkit.lab."


@pytest.fixture(autouse=True, scope="module")
def _lambda_answers_its_subnets_vpc() -> None:
    install_lambda_vpc_id()  # as in the lab: Lambda's VpcConfig.VpcId is the subnets' VPC (moto's is a placeholder)


def stack(tmp_path: Path, name: str = "readiness", **knobs: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "primary": {"region": "us-east-1", "address": "127.10.0.1"},
        "standby": {"region": "us-west-2", "address": "127.20.0.1"},
    }
    for dotted, value in knobs.items():
        node = spec
        *parents, leaf = dotted.split("__")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return Provisioner(parse_stack(spec), boto3.Session(), LabCertificates([PUBLIC_NAME], tmp_path)).create()


def target_of(info: dict[str, Any]) -> ResolvedTarget:
    def endpoint(role: str, failover: str) -> FailoverEndpoint:
        region = info["regions"][role]
        return FailoverEndpoint(
            side=role, set_identifier=f"{role}-{region['region']}", values=(region["alb_dns_name"],), health_check_id=None
        )

    return ResolvedTarget(
        hosted_zone_id=info["hosted_zone_id"],
        record_name=PUBLIC_NAME,
        record_type="A",
        primary=endpoint("primary", "PRIMARY"),
        standby=endpoint("standby", "SECONDARY"),
    )


def findings_of(area: Any, info: dict[str, Any], request: dict[str, Any]) -> list[Finding]:
    parsed = parse_request(request)
    survey = Survey(scenario=parsed.scenario, target=target_of(info), network=parsed.network)
    return [f for check in area.CHECKS for f in readiness.run_check(check, survey)]


# -- VPC peering ------------------------------------------------------------------------------------------
def test_a_peering_left_pending_acceptance_is_named_with_its_status(aws_env, request_for, tmp_path):
    spec = load_stack(ROOT / "tests" / "lab" / "stacks" / "peering-not-accepted.yaml")
    info = Provisioner(spec, boto3.Session(), LabCertificates([PUBLIC_NAME], tmp_path)).create()

    [finding] = findings_of(network, info, request_for())

    assert finding.code == "VPC_PEERING_NOT_ACTIVE" and finding.area == "network" and not finding.blocking
    assert f"peering connection {info['peering_connection_id']} between the primary's VPC" in finding.message
    assert "is pending-acceptance" in finding.message and "carries no traffic" in finding.message
    assert finding.evidence.call == "ec2:DescribeVpcPeeringConnections"
    assert finding.evidence.resource == info["peering_connection_id"]


def test_an_accepted_peering_without_the_standbys_routes_is_named_with_the_route_tables(aws_env, request_for, tmp_path):
    info = stack(tmp_path, peering={"routed": False})
    standby = info["regions"]["standby"]
    tables = boto3.client("ec2", "us-west-2").describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [standby["vpc_id"]]}])

    [finding] = findings_of(network, info, request_for())

    assert finding.code == "VPC_PEERING_NOT_ROUTED" and not finding.blocking
    assert f"the standby's VPC {standby['vpc_id']} (us-west-2) has route table(s)" in finding.message
    assert f"to the primary's CIDR 10.0.0.0/16 through peering connection {info['peering_connection_id']}" in finding.message
    assert finding.evidence.resource == ", ".join(t["RouteTableId"] for t in tables["RouteTables"])


def test_an_accepted_and_routed_peering_is_not_reported(aws_env, request_for, tmp_path):
    info = stack(tmp_path, peering={})

    assert info["peering_connection_id"] and findings_of(network, info, request_for()) == []


# -- functions in a VPC -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("egress", "route"), [("none", "none"), ("internet_gateway", "internet gateway")])
def test_a_function_in_a_vpc_without_a_nat_route_is_named_with_its_subnets_routes(aws_env, request_for, tmp_path, egress, route):
    info = stack(tmp_path, standby__app={"kind": "lambda", "vpc_egress": egress})
    function = boto3.client("elbv2", "us-west-2").describe_target_health(
        TargetGroupArn=info["regions"]["standby"]["target_group_arn"]
    )["TargetHealthDescriptions"][0]["Target"]["Id"]

    [finding] = findings_of(network, info, request_for())

    assert finding.code == "FUNCTION_WITHOUT_EGRESS" and finding.evidence.resource == function
    assert f"the standby's Lambda function {function} runs in VPC {info['regions']['standby']['vpc_id']}" in finding.message
    assert f": 0.0.0.0/0 -> {route}" in finding.message and "the VPC has no endpoints" in finding.message


def test_a_function_behind_a_nat_gateway_or_with_vpc_endpoints_is_not_reported(aws_env, request_for, tmp_path):
    assert findings_of(network, stack(tmp_path, standby__app={"kind": "lambda", "vpc_egress": "nat"}), request_for()) == []

    info = stack(tmp_path, "endpoints", standby__app={"kind": "lambda", "vpc_egress": "none"})
    boto3.client("ec2", "us-west-2").create_vpc_endpoint(
        VpcId=info["regions"]["standby"]["vpc_id"],
        ServiceName="com.amazonaws.us-west-2.secretsmanager",
        VpcEndpointType="Interface",
    )
    assert findings_of(network, info, request_for()) == []


# -- listener certificates --------------------------------------------------------------------------------
def https(certificate: str = "issued", name: str | None = None) -> dict[str, Any]:
    listener: dict[str, Any] = {"protocol": "HTTPS", "port": 443, "certificate": certificate}
    if name:
        listener["certificate_name"] = name
    return {"listener": listener, "ingress": [{"port": 443}]}


def test_a_standby_https_listener_whose_certificate_is_pending_blocks(aws_env, request_for, tmp_path):
    info = stack(tmp_path, standby__alb=https("pending"))

    [finding] = findings_of(security, info, request_for())

    assert finding.code == "LISTENER_CERTIFICATE_NOT_ISSUED" and finding.blocking and finding.severity == "critical"
    assert "the standby's HTTPS:443 listener of readiness-standby-alb (us-west-2) presents ACM certificate" in finding.message
    assert "whose status is PENDING_VALIDATION: the listener completes no TLS handshake" in finding.message
    assert finding.evidence.call == "acm:DescribeCertificate" and finding.evidence.answered == "Status PENDING_VALIDATION"


class ExpiredCertificates(Survey):
    """ACM's answer once an issued certificate has passed its NotAfter (moto refuses to import an expired one)."""

    def certificate(self, region: str, arn: str) -> dict[str, Any]:
        return {**super().certificate(region, arn), "Status": "EXPIRED"}


def test_an_expired_listener_certificate_blocks_and_says_clients_refuse_it(aws_env, request_for, tmp_path):
    info = stack(tmp_path, standby__alb=https())
    request = parse_request(request_for())
    survey = ExpiredCertificates(scenario=request.scenario, target=target_of(info), network=request.network)

    [finding] = [f for check in security.CHECKS for f in readiness.run_check(check, survey)]

    assert finding.code == "LISTENER_CERTIFICATE_NOT_ISSUED" and finding.blocking
    assert "whose status is EXPIRED: validating clients refuse the expired certificate" in finding.message


def test_a_certificate_that_does_not_cover_the_public_name_blocks_and_a_wildcard_that_does_passes(aws_env, request_for, tmp_path):
    info = stack(tmp_path, primary__alb=https(name="www.example.org"), standby__alb=https(name="*.drillkit.lab"))

    [finding] = findings_of(security, info, request_for())

    assert finding.code == "LISTENER_CERTIFICATE_NAME_MISMATCH" and finding.blocking
    assert "the primary's HTTPS:443 listener" in finding.message
    assert "for www.example.org, which does not cover the public name app.drillkit.lab" in finding.message


def test_an_sni_certificate_that_covers_the_name_is_the_one_presented(aws_env, request_for, tmp_path):
    info = stack(tmp_path, standby__alb=https(name="www.example.org"))
    elbv2, acm = boto3.client("elbv2", "us-west-2"), boto3.client("acm", "us-west-2")
    [listener] = elbv2.describe_listeners(LoadBalancerArn=info["regions"]["standby"]["alb_arn"])["Listeners"]
    issued = LabCertificates([PUBLIC_NAME], tmp_path / "sni").issue([PUBLIC_NAME])
    arn = acm.import_certificate(Certificate=issued.certificate_pem, PrivateKey=issued.key_pem)["CertificateArn"]
    elbv2.add_listener_certificates(ListenerArn=listener["ListenerArn"], Certificates=[{"CertificateArn": arn}])

    assert findings_of(security, info, request_for()) == []


@pytest.mark.parametrize(
    ("pattern", "name", "covered"),
    [
        ("app.drillkit.lab", "APP.drillkit.lab.", True),
        ("*.drillkit.lab", "app.drillkit.lab", True),
        ("*.drillkit.lab", "drillkit.lab", False),
        ("*.drillkit.lab", "a.app.drillkit.lab", False),
        ("www.drillkit.lab", "app.drillkit.lab", False),
    ],
)
def test_a_certificate_name_covers_the_host_exactly_or_one_label_deep(pattern, name, covered):
    assert security.covers(pattern, name) is covered


# -- backups ----------------------------------------------------------------------------------------------
def test_a_backup_plan_without_a_copy_to_the_standby_region_is_named(aws_env, request_for, tmp_path):
    info = stack(tmp_path, backup={"copy_to_standby": False})

    [finding] = findings_of(backups, info, request_for())

    assert finding.code == "BACKUP_NOT_COPIED_TO_STANDBY" and finding.area == "data" and not finding.blocking
    assert "of the 1 AWS Backup plan(s) in the primary region us-east-1 (readiness-daily), none copies" in finding.message
    assert "to the standby region us-west-2: no rule has a copy action" in finding.message
    assert finding.evidence.call == "backup:GetBackupPlan" and info["backup_plan_id"] in finding.evidence.resource


def test_a_copy_to_a_vault_that_does_not_exist_is_named_and_one_to_the_standbys_vault_passes(aws_env, request_for, tmp_path):
    info = stack(tmp_path, backup={"copy_to_standby": True})
    assert findings_of(backups, info, request_for()) == []

    boto3.client("backup", "us-west-2").delete_backup_vault(BackupVaultName="readiness-standby")
    [finding] = findings_of(backups, info, request_for())
    assert "which is not a vault of us-west-2 (backup:ListBackupVaults)" in finding.message


def test_a_refused_certificate_read_is_an_advisory_finding_naming_the_call(aws_env, request_for, tmp_path):
    info = stack(tmp_path, standby__alb=https())
    request = parse_request(request_for())
    survey = Survey(scenario=request.scenario, target=target_of(info), network=request.network)
    [check] = [c for c in security.CHECKS if c.name == "listener-certificates"]
    with Stubber(aws.target_client("acm", "us-west-2")) as stub:
        stub.add_client_error("describe_certificate", service_error_code="AccessDeniedException", http_status_code=400)

        [finding] = readiness.run_check(check, survey)

    assert finding.code == "ACCESS_DENIED" and not finding.blocking
    assert finding.evidence.call == "DescribeCertificate" and "AccessDeniedException" in finding.message


@pytest.mark.parametrize("egress", ["nat", "internet_gateway", "none"])
def test_the_labs_function_physics_and_readiness_agree_on_which_subnets_give_egress(aws_env, request_for, tmp_path, egress):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    from drillkit_lab.physics.network import function_has_egress

    info = stack(tmp_path, standby__app={"kind": "lambda", "vpc_egress": egress})
    [target] = boto3.client("elbv2", "us-west-2").describe_target_health(
        TargetGroupArn=info["regions"]["standby"]["target_group_arn"]
    )["TargetHealthDescriptions"]
    configuration = boto3.client("lambda", "us-west-2").get_function_configuration(FunctionName=target["Target"]["Id"])

    served = function_has_egress(ec2_backends[DEFAULT_ACCOUNT_ID]["us-west-2"], configuration["VpcConfig"])

    assert served is (egress == "nat")
    assert served is not any(f.code == "FUNCTION_WITHOUT_EGRESS" for f in findings_of(network, info, request_for()))
