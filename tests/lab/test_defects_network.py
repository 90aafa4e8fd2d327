"""Network paths, listener certificates and backup copies: the defects named, and nothing injected where they block
(one lab per stack, apart from test_defects.py so that another worker can run it)."""

from __future__ import annotations

import json
import socket
import ssl
import time
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT
from .conftest import run_drill, running_lab, wait_for
from .test_defects import alb_name, drillkit, scenario_without_data

pytestmark = pytest.mark.lab

# -- network paths, listener certificates, backup copies ---------------------------------------------------
CERTIFICATES = ROOT / "tests" / "lab" / "stacks" / "certificate-defects.yaml"
NETWORK = ROOT / "tests" / "lab" / "stacks" / "network-defects.yaml"


def tls_handshake(lab, address: str, ca_pem: str) -> str:
    """A TLS handshake as a validating client makes it to the public name: 'ok' or the error it ended with."""
    context = ssl.create_default_context(cadata=ca_pem)
    try:
        with socket.create_connection((address, lab.info["ports"]["443"]), timeout=3) as raw:
            with context.wrap_socket(raw, server_hostname="app.drillkit.lab"):
                return "ok"
    except (OSError, ssl.SSLError) as error:
        return f"{type(error).__name__}: {error}"


def https_scenario(tmp_path: Path) -> tuple[dict, Path]:
    scenario = scenario_without_data()
    scenario["alarms"] = []
    scenario["objectives"].pop("alerting_seconds")
    scenario["target"].update(url_scheme="https", url_port=443)
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario))
    return scenario, scenario_file


def test_listeners_whose_certificate_cannot_serve_the_name_block_and_the_drill_injects_nothing(tmp_path):
    scenario, scenario_file = https_scenario(tmp_path)
    with running_lab(tmp_path / "lab", CERTIFICATES) as lab:
        primary, standby = lab.region("primary"), lab.region("standby")
        # The physics: the standby's pending certificate completes no handshake; the primary's is refused by a client
        # that validates the name, while Route 53's HTTPS checkers (which do not validate) find the primary healthy.
        assert tls_handshake(lab, standby["address"], lab.info["tls_ca_pem"]) != "ok"
        refused = tls_handshake(lab, primary["address"], lab.info["tls_ca_pem"])
        assert "Hostname mismatch, certificate is not valid for 'app.drillkit.lab'" in refused
        wait_for(lambda: lab.health_check_healthy() is True, 10, "the primary's HTTPS check is healthy")

        checked = drillkit(lab, "check", str(scenario_file), "--json")

        assert checked.returncode == 1, checked.stdout + checked.stderr
        found = {f["code"]: f for f in json.loads(checked.stdout)["findings"]}
        pending = found["LISTENER_CERTIFICATE_NOT_ISSUED"]
        assert pending["blocking"] is True and pending["evidence"]["call"] == "acm:DescribeCertificate"
        assert f"the standby's HTTPS:443 listener of {alb_name(standby)} (us-west-2)" in pending["message"]
        assert "whose status is PENDING_VALIDATION: the listener completes no TLS handshake" in pending["message"]
        wrong = found["LISTENER_CERTIFICATE_NAME_MISMATCH"]
        assert wrong["blocking"] is True and f"the primary's HTTPS:443 listener of {alb_name(primary)}" in wrong["message"]
        assert "for www.example.org, which does not cover the public name app.drillkit.lab" in wrong["message"]
        assert "STANDBY_NOT_SERVING" in found  # the symptom, next to its cause

        report = run_drill(lab, scenario, tmp_path / "reports")

        assert report["verdict"] == "FAIL" and report["injected_at"] is None and report["measurements"] == {}
        codes = {f["code"] for f in report["findings"]}
        assert {"LISTENER_CERTIFICATE_NOT_ISSUED", "LISTENER_CERTIFICATE_NAME_MISMATCH"} <= codes
        assert not [i for i in lab.ledger_items() if str(i["sk"]).startswith("UNDO#")]
        assert not lab.events_since(0, "target_health", load_balancer=alb_name(primary), healthy=False)
        assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]


def give_egress(lab, role: str) -> None:
    """What the remedy of FUNCTION_WITHOUT_EGRESS says: a NAT gateway in a public subnet, the function's 0.0.0.0/0 to it."""
    region = lab.region(role)
    ec2 = lab.client("ec2", region["region"])
    function = str(
        lab.client("elbv2", region["region"]).describe_target_health(TargetGroupArn=region["target_group_arn"])[
            "TargetHealthDescriptions"
        ][0]["Target"]["Id"]
    )
    subnets = lab.client("lambda", region["region"]).get_function_configuration(FunctionName=function)["VpcConfig"]["SubnetIds"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": subnets}])["RouteTables"]
    public = ec2.create_subnet(VpcId=region["vpc_id"], CidrBlock="10.1.200.0/24")["Subnet"]["SubnetId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"])
    for table in {t["RouteTableId"] for t in tables}:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat["NatGateway"]["NatGatewayId"])


def test_a_standby_without_egress_and_over_a_pending_unrouted_peering_blocks_naming_each_cause_and_uncopied_backups(tmp_path):
    scenario = scenario_without_data()
    scenario["alarms"] = []
    scenario["objectives"].pop("alerting_seconds")
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario))
    with running_lab(tmp_path / "lab", NETWORK) as lab:
        primary, standby = lab.region("primary"), lab.region("standby")
        # The physics: the function's calls never leave its VPC; it times out and the standby's ALB answers 502.
        status, _ = lab.get(standby["address"], timeout=10)
        assert status == 502
        assert lab.get(primary["address"])[0] == 200

        checked = drillkit(lab, "check", str(scenario_file), "--json")

        assert checked.returncode == 1, checked.stdout + checked.stderr
        found = {f["code"]: f for f in json.loads(checked.stdout)["findings"]}
        assert [code for code, f in found.items() if f["blocking"]] == ["STANDBY_NOT_SERVING"]
        egress = found["FUNCTION_WITHOUT_EGRESS"]
        function = lab.client("elbv2", standby["region"]).describe_target_health(TargetGroupArn=standby["target_group_arn"])
        assert egress["evidence"]["resource"] == function["TargetHealthDescriptions"][0]["Target"]["Id"]
        assert f"runs in VPC {standby['vpc_id']} (us-west-2) in subnets without a NAT route" in egress["message"]
        backup = found["BACKUP_NOT_COPIED_TO_STANDBY"]
        assert "none copies recovery points to the standby region us-west-2: no rule has a copy action" in backup["message"]
        peering = lab.info["peering_connection_id"]
        pending = found["VPC_PEERING_NOT_ACTIVE"]
        assert f"peering connection {peering} between the primary's VPC {primary['vpc_id']}" in pending["message"]
        assert "is pending-acceptance" in pending["message"] and pending["evidence"]["resource"] == peering

        # Given egress (the first cause mended) and the peering accepted while the lab runs, the standby still cannot
        # serve: its dependency in the primary's VPC is reached over the peering, which the standby's route tables do
        # not route: the connection times out.
        give_egress(lab, "standby")
        lab.client("ec2", standby["region"]).accept_vpc_peering_connection(VpcPeeringConnectionId=peering)
        since = time.time()
        assert lab.get(standby["address"], timeout=10)[0] == 502
        assert lab.events_since(0, "peering_link", carries=False) and not lab.events_since(0, "peering_link", carries=True)

        report = run_drill(lab, scenario, tmp_path / "reports")

        assert report["verdict"] == "FAIL" and report["injected_at"] is None and report["measurements"] == {}
        reported = {f["code"]: f for f in report["findings"]}
        assert "STANDBY_NOT_SERVING" in reported and "FUNCTION_WITHOUT_EGRESS" not in reported
        assert "VPC_PEERING_NOT_ACTIVE" not in reported
        routes = reported["VPC_PEERING_NOT_ROUTED"]
        tables = lab.client("ec2", standby["region"]).describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [standby["vpc_id"]]}]
        )["RouteTables"]
        assert f"the standby's VPC {standby['vpc_id']} (us-west-2) has route table(s)" in routes["message"]
        assert f"to the primary's CIDR 10.0.0.0/16 through peering connection {peering}" in routes["message"]
        assert all(t["RouteTableId"] in routes["evidence"] for t in tables)
        assert not [i for i in lab.ledger_items() if str(i["sk"]).startswith("UNDO#")]
        assert not lab.events_since(0, "target_health", load_balancer=alb_name(primary), healthy=False)

        # When the route through the peering is added while the lab runs, Then the standby serves: the peering was the cause
        ec2 = lab.client("ec2", standby["region"])
        for table in tables:
            route = {"DestinationCidrBlock": "10.0.0.0/16", "VpcPeeringConnectionId": peering}
            ec2.create_route(RouteTableId=table["RouteTableId"], **route)
        wait_for(lambda: lab.get(standby["address"], timeout=6)[0] == 200, 15, "the standby serves over the routed peering")
        assert lab.events_since(since, "peering_link", carries=True)
