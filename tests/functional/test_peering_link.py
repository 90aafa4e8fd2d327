"""The lab's VPC peering link: traffic between the regions' VPCs flows only over an active, routed peering.

The stacks are built by the lab's own provisioning in moto (in-process), and the link reads moto's EC2 state as the
running lab does; its verdict is kept for a moment (`cache_seconds`), so the tests move its clock rather than wait.
What the link carries is what AWS's VPC Peering Guide says carries traffic: an active peering connection, with a route
to the peer's addresses through it in the route tables of the subnets on both sides.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from drillkit_lab.moto_backends import region as backends_for
from drillkit_lab.physics.alb import _health_probe
from drillkit_lab.physics.apps import RegionApp
from drillkit_lab.physics.network import PeerEndpoint, PeeringLink, PeerService
from drillkit_lab.provision import Provisioner
from drillkit_lab.stack import peering_link
from drillkit_lab.stackspec import StackSpec, parse_stack
from drillkit_lab.tls import LabCertificates

CACHE = 0.5


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def standby_link(tmp_path: Path, peering: dict[str, Any]) -> tuple[PeeringLink, Clock, dict[str, Any]]:
    """A stack whose standby app depends on a service in the primary's VPC; the link its traffic takes."""
    spec: StackSpec = parse_stack(
        {
            "name": "peering",
            "primary": {"region": "us-east-1", "address": "127.10.0.1"},
            "standby": {"region": "us-west-2", "address": "127.20.0.1", "app": {"peer_dependency": True}},
            "peering": peering,
        }
    )
    info = Provisioner(spec, boto3.Session(), LabCertificates(["app.drillkit.lab."], tmp_path)).create()
    clock = Clock()
    return peering_link(spec, info, "standby", backends_for, cache_seconds=CACHE, clock=clock), clock, info


def standby_tables(info: dict[str, Any]) -> list[str]:
    ec2 = boto3.client("ec2", "us-west-2")
    found = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [info["regions"]["standby"]["vpc_id"]]}])
    return [t["RouteTableId"] for t in found["RouteTables"]]


def test_an_active_peering_routed_both_ways_carries_the_traffic(aws_env, tmp_path):
    link, _, _ = standby_link(tmp_path, {})

    assert link.carries() is True


def test_a_peering_pending_acceptance_carries_nothing_until_accepted_and_the_change_is_seen_within_the_cache_time(
    aws_env, tmp_path
):
    # Given a peering left pending-acceptance (routes exist on both sides: AWS shows them as blackhole)
    link, clock, info = standby_link(tmp_path, {"accepted": False})
    assert link.carries() is False

    # When the accepter accepts it in its region
    boto3.client("ec2", "us-west-2").accept_vpc_peering_connection(VpcPeeringConnectionId=info["peering_connection_id"])

    # Then traffic flows once the cached verdict has expired, and not later
    clock.now += CACHE / 2
    assert link.carries() is False
    clock.now += CACHE / 2
    assert link.carries() is True


def test_a_peering_without_the_standbys_routes_carries_nothing_until_the_route_is_added(aws_env, tmp_path):
    link, clock, info = standby_link(tmp_path, {"routed": False})
    assert link.carries() is False

    ec2 = boto3.client("ec2", "us-west-2")
    for table in standby_tables(info):
        ec2.create_route(
            RouteTableId=table, DestinationCidrBlock="10.0.0.0/16", VpcPeeringConnectionId=info["peering_connection_id"]
        )
    clock.now += CACHE

    assert link.carries() is True


def test_the_return_route_is_needed_too(aws_env, tmp_path):
    # Given an active peering whose standby side is routed, When the primary's route back to the standby goes
    link, clock, info = standby_link(tmp_path, {})
    assert link.carries() is True
    ec2 = boto3.client("ec2", "us-east-1")
    primary_vpc = info["regions"]["primary"]["vpc_id"]
    for table in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [primary_vpc]}])["RouteTables"]:
        ec2.delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="10.1.0.0/16")
    clock.now += CACHE

    # Then the answers have no way back: nothing is carried
    assert link.carries() is False


@pytest.mark.parametrize("end", ["delete", "reject"])
def test_a_deleted_or_rejected_peering_carries_nothing(aws_env, tmp_path, end):
    link, clock, info = standby_link(tmp_path, {} if end == "delete" else {"accepted": False})
    ec2 = boto3.client("ec2", "us-west-2")
    if end == "delete":
        assert link.carries() is True
        ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=info["peering_connection_id"])
    else:
        ec2.reject_vpc_peering_connection(VpcPeeringConnectionId=info["peering_connection_id"])
    clock.now += CACHE

    assert link.carries() is False


def test_a_more_specific_route_elsewhere_takes_the_traffic_off_the_peering(aws_env, tmp_path):
    # Given an active, routed peering, When the standby's tables send the dependency's subnet to a NAT gateway instead
    link, clock, info = standby_link(tmp_path, {})
    ec2 = boto3.client("ec2", "us-west-2")
    subnet = ec2.create_subnet(VpcId=info["regions"]["standby"]["vpc_id"], CidrBlock="10.1.200.0/24")["Subnet"]["SubnetId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"])
    for table in standby_tables(info):
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.0.0.0/24", NatGatewayId=nat["NatGateway"]["NatGatewayId"])
    clock.now += CACHE

    # Then the longest prefix wins (VPC routing), and nothing reaches the peer's private address
    assert link.carries() is False


@pytest.mark.loopback
def test_a_connection_the_peering_does_not_carry_times_out_and_the_apps_health_check_fails_with_a_timeout(aws_env, tmp_path):
    # Given the standby's app, whose /health needs its dependency in the primary's VPC, over a peering pending acceptance
    link, clock, info = standby_link(tmp_path, {"accepted": False})
    service = PeerService("127.0.0.1", 0, link)
    service.start()
    app = RegionApp("us-west-2", "127.0.0.1", 0, peer=PeerEndpoint(service.address, service.port, timeout=3))
    app.start()
    try:
        # When something connects to the dependency, Then it is not refused: it waits out its own timeout (no RST)
        started = time.monotonic()
        assert PeerEndpoint(service.address, service.port).answers(timeout=0.4) is False
        assert time.monotonic() - started >= 0.4
        # and the target group's health check of the app times out (Target.Timeout), the real reason
        assert _health_probe("127.0.0.1", app.port, "/health", timeout=0.8) == (False, "Target.Timeout", "Request timed out")

        # When the peering is accepted, Then the dependency answers and the app is healthy again
        boto3.client("ec2", "us-west-2").accept_vpc_peering_connection(VpcPeeringConnectionId=info["peering_connection_id"])
        clock.now += CACHE
        deadline = time.monotonic() + 5
        while not PeerEndpoint(service.address, service.port).answers(timeout=0.5) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _health_probe("127.0.0.1", app.port, "/health", timeout=2) == (True, "", "")
    finally:
        app.stop()
        service.stop()


@pytest.mark.loopback
def test_an_ec2_call_has_the_peer_service_judge_its_path_again_at_once(aws_env, tmp_path):
    # Given a dependency behind a peering pending acceptance, its verdict cached and its clock stopped (no expiry)
    link, clock, info = standby_link(tmp_path, {"accepted": False})
    service = PeerService("127.0.0.1", 0, link)
    service.start()
    try:
        assert PeerEndpoint(service.address, service.port).answers(timeout=0.3) is False
        # When the peering is accepted and the service is told of the EC2 call, as the lab tells it after each one
        boto3.client("ec2", "us-west-2").accept_vpc_peering_connection(VpcPeeringConnectionId=info["peering_connection_id"])
        service.look_again()
        # Then the dependency answers, though the cached verdict would never have expired
        deadline = time.monotonic() + 5
        while not PeerEndpoint(service.address, service.port).answers(timeout=0.5) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert PeerEndpoint(service.address, service.port).answers(timeout=0.5) is True
    finally:
        service.stop()
