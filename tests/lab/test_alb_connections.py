"""The primary ALB as AWS runs it: deregistered targets drain, and security groups spare tracked connections.

Both run on the session's lab (default stack): the deregistration delay is an attribute of the target
group that the lab reads live, so a test sets it through the API and puts it back.
"""

from __future__ import annotations

import http.client
import json
import time

import pytest
import yaml

from ..conftest import ROOT
from ..reports import assert_valid_report
from .conftest import RunningLab, run_drill, wait_for

TOLERANCE = 0.2  # as in test_scenarios.py: a moment recorded late on a busy 2-core machine

pytestmark = pytest.mark.lab

DELAY = "deregistration_delay.timeout_seconds"


def _set_delay(lab: RunningLab, seconds: int) -> None:
    primary = lab.region("primary")
    lab.client("elbv2", primary["region"]).modify_target_group_attributes(
        TargetGroupArn=primary["target_group_arn"], Attributes=[{"Key": DELAY, "Value": str(seconds)}]
    )


def _target_states(lab: RunningLab) -> dict[str, tuple[str, str | None]]:
    primary = lab.region("primary")
    described = lab.client("elbv2", primary["region"]).describe_target_health(TargetGroupArn=primary["target_group_arn"])
    return {
        f"{d['Target']['Id']}:{d['Target'].get('Port')}": (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
        for d in described["TargetHealthDescriptions"]
    }


def test_a_deregister_drill_whose_targets_still_drain_at_restore_registers_them_again(lab, tmp_path):
    # Given a deregistration delay far longer than the drill's observation and restore
    primary = lab.region("primary")
    elbv2 = lab.client("elbv2", primary["region"])
    before = _target_states(lab)
    assert {state for state, _ in before.values()} == {"healthy"}
    scenario = yaml.safe_load((ROOT / "scenarios" / "fail-targets-deregister.yaml").read_text())
    scenario.pop("data")
    scenario["objectives"].pop("rpo_seconds")
    scenario["sampling"].update(observe_timeout_seconds=40, restore_timeout_seconds=20)
    _set_delay(lab, 600)
    started = time.time()
    try:
        # When a deregister drill runs
        report = run_drill(lab, scenario, tmp_path / "reports")

        # Then the deregistered targets drained (listed as AWS lists them) until restore registered them again
        drains = lab.events_since(started, "target_draining", target_group=primary["target_group_arn"])
        begun = [e for e in drains if e["draining"]]
        ended = [e for e in drains if not e["draining"]]
        assert sorted(f"{e['target']['Id']}:{e['target']['Port']}" for e in begun) == sorted(before)
        assert all(e["reason"] == "deregistered" and e["seconds"] == 600 for e in begun)
        assert sorted(e["reason"] for e in ended) == ["registered again"] * len(before)
        # and the drill restored the primary: every target registered and healthy, the restore verified
        assert_valid_report(report)
        assert report["restore_verified"] is True, report["restore"]["verification"]
        assert set(_target_states(lab)) == set(before)
        wait_for(lambda: {s for s, _ in _target_states(lab).values()} == {"healthy"}, 10, "targets healthy again")
    finally:
        _set_delay(lab, 3)
        described = elbv2.describe_target_health(TargetGroupArn=primary["target_group_arn"])["TargetHealthDescriptions"]
        out = [d["Target"] for d in described if d["TargetHealth"]["State"] == "draining"]
        if out:  # leave the session's lab as it was, whatever the drill did
            elbv2.register_targets(TargetGroupArn=primary["target_group_arn"], Targets=out)


def test_deregistered_targets_drain_for_the_delay_get_no_requests_and_registering_one_ends_its_drain(lab):
    primary = lab.region("primary")
    elbv2 = lab.client("elbv2", primary["region"])
    group = primary["target_group_arn"]
    described = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    targets = [{"Id": d["Target"]["Id"], "Port": d["Target"]["Port"]} for d in described]
    keys = [f"{t['Id']}:{t['Port']}" for t in targets]
    assert len(targets) == 2
    _set_delay(lab, 2)
    try:
        # When every target is deregistered
        started = time.time()
        elbv2.deregister_targets(TargetGroupArn=group, Targets=targets)
        # Then DescribeTargetHealth lists them as draining, with AWS's reason, and no new request reaches them
        assert _target_states(lab) == {key: ("draining", "Target.DeregistrationInProgress") for key in keys}
        assert lab.get(primary["address"])[0] == 503
        elbv2.deregister_targets(TargetGroupArn=group, Targets=targets[:1])  # accepted again while it drains

        # When one is registered again while it drains, then its drain ends and it starts over in `initial`
        elbv2.register_targets(TargetGroupArn=group, Targets=targets[1:])
        assert _target_states(lab)[keys[1]] == ("initial", "Elb.InitialHealthChecking")
        assert lab.get(primary["address"])[0] == 200
        # and the other one leaves DescribeTargetHealth once the delay has passed
        gone = wait_for(lambda: keys[0] not in _target_states(lab), 5, "the drain over")
        assert 2 <= gone - started <= 3

        # The ground truth has both drains' ends; the physics sleeps until a drain is due to end and writes it then.
        def drains_ended() -> list[dict]:
            return lab.events_since(started, "target_draining", target_group=group, draining=False)

        wait_for(lambda: len(drains_ended()) == 2, 2, "both drains' ends in the ground truth")
        ends = drains_ended()
        assert sorted((f"{e['target']['Id']}:{e['target']['Port']}", e["reason"]) for e in ends) == sorted(
            [(keys[0], "delay elapsed"), (keys[1], "registered again")]
        )
        [elapsed] = [e for e in ends if e["reason"] == "delay elapsed"]
        assert 2 <= elapsed["t"] - started <= 2 + TOLERANCE
        wait_for(lambda: _target_states(lab)[keys[1]][0] == "healthy", 10, "the registered target healthy")
    finally:
        _set_delay(lab, 3)
        elbv2.register_targets(TargetGroupArn=group, Targets=targets)
    wait_for(lambda: {s for s, _ in _target_states(lab).values()} == {"healthy"}, 10, "every target healthy")


def _held_connection(lab: RunningLab) -> http.client.HTTPConnection:
    """A keep-alive (HTTP/1.1) connection to the primary ALB, served once before anything changes."""
    connection = http.client.HTTPConnection(lab.region("primary")["address"], lab.info["ports"]["80"], timeout=1.0)
    assert _served_on(connection) == (200, "us-east-1")
    return connection


def _served_on(connection: http.client.HTTPConnection) -> tuple[int, str | None]:
    connection.request("GET", "/")
    response = connection.getresponse()
    return response.status, json.loads(response.read()).get("region")


def _new_connection_times_out(lab: RunningLab) -> bool:
    try:
        lab.get(lab.region("primary")["address"], timeout=0.5)
    except TimeoutError:
        return True
    return False


def _primary_serving_again(lab: RunningLab) -> None:
    # Leave the session's lab steady: primary reachable, its health check healthy, DNS on the primary.
    wait_for(lambda: not _new_connection_times_out(lab), 10, "primary reachable")
    wait_for(lambda: lab.dns_answer() == [lab.region("primary")["dns_answer"]], 15, "DNS back on the primary")


def test_a_security_group_swap_stops_new_connections_but_a_kept_alive_one_is_still_served(lab):
    primary = lab.region("primary")
    ec2, elbv2 = lab.client("ec2", primary["region"]), lab.client("elbv2", primary["region"])
    held = _held_connection(lab)
    isolation = ec2.create_security_group(GroupName="test-isolation", Description="no ingress", VpcId=primary["vpc_id"])
    try:
        # When the ALB's security groups are swapped for one with no ingress
        elbv2.set_security_groups(LoadBalancerArn=primary["alb_arn"], SecurityGroups=[isolation["GroupId"]])
        # Then new connections time out
        wait_for(lambda: _new_connection_times_out(lab), 5, "new connections cut")
        # but the connection established before is a tracked one: it is still served, request after request
        assert [_served_on(held) for _ in range(3)] == [(200, "us-east-1")] * 3
    finally:
        held.close()
        elbv2.set_security_groups(LoadBalancerArn=primary["alb_arn"], SecurityGroups=primary["alb_security_group_ids"])
        ec2.delete_security_group(GroupId=isolation["GroupId"])
    _primary_serving_again(lab)


def test_a_network_acl_that_blocks_the_listener_cuts_a_kept_alive_connection_too(lab):
    primary = lab.region("primary")
    ec2 = lab.client("ec2", primary["region"])
    held = _held_connection(lab)
    deny_all = ec2.create_network_acl(VpcId=primary["vpc_id"])["NetworkAcl"]["NetworkAclId"]
    original: dict[str, tuple[str, str]] = {}
    for subnet in primary["alb_subnet_ids"]:
        acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"][0]
        association = next(a for a in acl["Associations"] if a["SubnetId"] == subnet)["NetworkAclAssociationId"]
        original[subnet] = (acl["NetworkAclId"], association)
    try:
        # When every subnet of the ALB is associated with an ACL that has only the implicit deny-all
        blocked: dict[str, str] = {}
        for subnet, (_, association) in original.items():
            blocked[subnet] = ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=deny_all)[
                "NewAssociationId"
            ]
        wait_for(lambda: _new_connection_times_out(lab), 5, "new connections cut")
        # Then the connection established before gets no answer either
        with pytest.raises(TimeoutError):
            _served_on(held)
    finally:
        held.close()
        for subnet, (acl_id, _) in original.items():
            ec2.replace_network_acl_association(AssociationId=blocked[subnet], NetworkAclId=acl_id)
        ec2.delete_network_acl(NetworkAclId=deny_all)
    _primary_serving_again(lab)
