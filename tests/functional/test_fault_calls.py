"""Each fault's AWS calls, pinned with botocore's Stubber: exact parameters, in order.

These are the calls that change a customer's stack, so their parameters are the contract: the
ports on deregister, AllowDataLoss on an unplanned failover, and restore calls that put back
exactly what capture read.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from drillkit import aws
from drillkit.errors import AwsCallFailed, TargetNotFound
from drillkit.faults import PriorState, block_primary_alb, fail_targets, read_prior, stop_cluster
from drillkit.model import FailoverEndpoint, ResolvedTarget
from drillkit.spec import BlockPrimaryAlb, FailTargets, StopCluster

ACCOUNT = "123456789012"
TG = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/app-tg/0123456789abcdef"
LB = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/app-alb/0123456789abcdef"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:app"
PRIMARY_DB = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:app-primary"
STANDBY_DB = f"arn:aws:rds:us-west-2:{ACCOUNT}:cluster:app-standby"
TARGET = ResolvedTarget(
    hosted_zone_id="Z1",
    record_name="app.example.com.",
    record_type="A",
    primary=FailoverEndpoint(side="primary", set_identifier="p", values=("app-alb-1.us-east-1.elb.amazonaws.com",)),
    standby=FailoverEndpoint(side="standby", set_identifier="s", values=("app-alb-2.us-west-2.elb.amazonaws.com",)),
)


class StubbedAws:
    """Stands in for drillkit.aws.client: one stubbed client per (service, region)."""

    def __init__(self) -> None:
        self.stubbers: dict[tuple[str, str], Stubber] = {}
        self.clients: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str | None = None, read_timeout: float | None = None) -> Any:
        key = (service, region or "us-east-1")
        if key not in self.clients:
            self.clients[key] = boto3.session.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=key[1]
            ).client(service)
            self.stubbers[key] = Stubber(self.clients[key])
            self.stubbers[key].activate()
        return self.clients[key]

    def expect(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        response: dict[str, Any] | None = None,
        region: str = "us-east-1",
    ) -> None:
        self(service, region)
        self.stubbers[(service, region)].add_response(operation, response or {}, params)

    def refuse(self, service: str, operation: str, code: str, params: dict[str, Any], region: str = "us-east-1") -> None:
        self(service, region)
        self.stubbers[(service, region)].add_client_error(operation, code, f"{code} (stubbed)", 400, expected_params=params)

    def done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> StubbedAws:
    fake = StubbedAws()
    monkeypatch.setattr(aws, "client", fake)
    return fake


def health(*targets: dict[str, Any]) -> dict[str, Any]:
    return {"TargetHealthDescriptions": [{"Target": t, "TargetHealth": {"State": "healthy"}} for t in targets]}


# -- fail-targets ------------------------------------------------------------------------------
TARGETS = [
    {"Id": "10.0.1.10", "Port": 8080, "AvailabilityZone": "us-east-1a"},
    {"Id": "10.0.1.10", "Port": 8081, "AvailabilityZone": "us-east-1a"},
    {"Id": "10.0.2.20", "Port": 8080, "AvailabilityZone": "all"},
]
DEREGISTERED = {"resource_id": TG, "method": "deregister", "region": "us-east-1", "target_group_arn": TG, "targets": TARGETS}


def test_deregister_passes_ports_and_zones_exactly_as_described_and_restore_registers_them_back(stubbed):
    spec = FailTargets(type="fail-targets", method="deregister", target_group=TG)
    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, health(*TARGETS))
    prior = fail_targets.FAULT.capture(spec, TARGET)

    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, health(*TARGETS))
    stubbed.expect("elbv2", "deregister_targets", {"TargetGroupArn": TG, "Targets": TARGETS})
    fail_targets.FAULT.apply(spec, TARGET, prior)

    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, health())
    stubbed.expect("elbv2", "register_targets", {"TargetGroupArn": TG, "Targets": TARGETS})
    fail_targets.FAULT.restore(prior)
    stubbed.done()


def test_a_retried_deregister_only_touches_what_is_still_registered(stubbed):
    spec = FailTargets(type="fail-targets", method="deregister", target_group=TG)
    prior = read_prior(
        {"resource_id": TG, "method": "deregister", "region": "us-east-1", "target_group_arn": TG, "targets": TARGETS}
    )
    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, health(TARGETS[2]))
    stubbed.expect("elbv2", "deregister_targets", {"TargetGroupArn": TG, "Targets": [TARGETS[2]]})
    fail_targets.FAULT.apply(spec, TARGET, prior)

    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, health())
    fail_targets.FAULT.apply(spec, TARGET, prior)  # everything is out already: no call that could fail
    stubbed.done()


def described(*targets: tuple[dict[str, Any], str]) -> dict[str, Any]:
    """DescribeTargetHealth's answer for (target, state) pairs, with AWS's reason for a draining one."""
    reasons = {
        "draining": "Target.DeregistrationInProgress",
        "unused": "Target.NotRegistered",
        "initial": "Elb.RegistrationInProgress",
    }
    return {
        "TargetHealthDescriptions": [
            {"Target": t, "TargetHealth": {"State": state, **({"Reason": reasons[state]} if state in reasons else {})}}
            for t, state in targets
        ]
    }


def test_capture_leaves_out_draining_and_unused_targets(stubbed):
    # Given one target in service, one still draining from an earlier deregistration and one unused
    spec = FailTargets(type="fail-targets", method="deregister", target_group=TG)
    answer = described((TARGETS[0], "healthy"), (TARGETS[1], "draining"), (TARGETS[2], "unused"))
    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, answer)
    # When the fault captures the group, then only the registered target is one it will take out and put back
    assert fail_targets.FAULT.capture(spec, TARGET).stored()["targets"] == [TARGETS[0]]
    stubbed.done()


def test_capture_refuses_a_group_whose_targets_are_all_draining(stubbed):
    spec = FailTargets(type="fail-targets", method="deregister", target_group=TG)
    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, described(*((t, "draining") for t in TARGETS)))
    with pytest.raises(TargetNotFound, match=r"fault\.target_group: .* no registered targets .*3 still draining"):
        fail_targets.FAULT.capture(spec, TARGET)


def test_a_retried_deregister_does_not_deregister_draining_targets_again(stubbed):
    spec = FailTargets(type="fail-targets", method="deregister", target_group=TG)
    prior = read_prior(
        {"resource_id": TG, "method": "deregister", "region": "us-east-1", "target_group_arn": TG, "targets": TARGETS}
    )
    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, described(*((t, "draining") for t in TARGETS)))
    fail_targets.FAULT.apply(spec, TARGET, prior)  # no DeregisterTargets: the stubber would refuse an unexpected call
    stubbed.done()


def test_restore_registers_draining_targets_again_and_is_done_once_they_read_registered(stubbed):
    # Given the fault deregistered every target and they are still draining (deregistration delay not over)
    prior = read_prior(
        {"resource_id": TG, "method": "deregister", "region": "us-east-1", "target_group_arn": TG, "targets": TARGETS}
    )
    draining = described(*((t, "draining") for t in TARGETS))
    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, draining)
    # When restore runs, then it registers them all (draining is not registered) and asks to be called again
    stubbed.expect("elbv2", "register_targets", {"TargetGroupArn": TG, "Targets": TARGETS})
    assert fail_targets.FAULT.restore(prior) is False
    # And the next call finds them registered: done, with no further call
    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, described(*((t, "initial") for t in TARGETS)))
    assert fail_targets.FAULT.restore(prior) is True
    stubbed.done()


@pytest.mark.parametrize(
    ("states", "restored"),
    [
        (("draining", "draining", "draining"), False),
        (("healthy", "initial", "draining"), False),
        (("healthy", "initial", "unused"), False),
        (("healthy", "initial", None), False),  # not listed at all
        (("healthy", "unhealthy", "healthy"), False),
        (("healthy", "initial", "initial"), True),
    ],
)
def test_is_restored_only_when_every_captured_target_is_initial_or_healthy(stubbed, states, restored):
    prior = read_prior(
        {"resource_id": TG, "method": "deregister", "region": "us-east-1", "target_group_arn": TG, "targets": TARGETS}
    )
    listed = described(*((t, state) for t, state in zip(TARGETS, states, strict=True) if state is not None))
    stubbed.expect("elbv2", "describe_target_health", {"TargetGroupArn": TG}, listed)
    assert fail_targets.FAULT.is_restored(prior) is restored


def test_ecs_scale_to_zero_sets_desired_count_zero_and_restore_sets_the_original(stubbed):
    spec = FailTargets(type="fail-targets", method="ecs-scale-to-zero", ecs_cluster="c", ecs_service="svc", region="us-east-1")
    service = {
        "serviceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/c/svc",
        "clusterArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/c",
        "desiredCount": 3,
        "status": "ACTIVE",
    }
    spec = FailTargets(type="fail-targets", method="ecs-scale-to-zero", target_group=TG, ecs_cluster="c", ecs_service="svc")
    stubbed.expect("ecs", "describe_services", {"cluster": "c", "services": ["svc"]}, {"services": [service]})
    prior = fail_targets.FAULT.capture(spec, TARGET)
    assert prior.desired_count == 3

    stubbed.expect(
        "ecs", "update_service", {"cluster": service["clusterArn"], "service": service["serviceArn"], "desiredCount": 0}
    )
    fail_targets.FAULT.apply(spec, TARGET, prior)
    stubbed.expect(
        "ecs", "update_service", {"cluster": service["clusterArn"], "service": service["serviceArn"], "desiredCount": 3}
    )
    fail_targets.FAULT.restore(prior)
    stubbed.done()


@pytest.mark.parametrize(
    ("before", "restore_call", "restore_params"),
    [
        (None, "delete_function_concurrency", {"FunctionName": FUNCTION}),
        (5, "put_function_concurrency", {"FunctionName": FUNCTION, "ReservedConcurrentExecutions": 5}),
    ],
)
def test_lambda_throttle_sets_zero_and_restore_puts_back_the_setting_or_its_absence(
    stubbed, before, restore_call, restore_params
):
    spec = FailTargets(type="fail-targets", method="lambda-throttle", function=FUNCTION)
    stubbed.expect("lambda", "get_function", {"FunctionName": FUNCTION}, {"Configuration": {"FunctionArn": FUNCTION}})
    stubbed.expect(
        "lambda",
        "get_function_concurrency",
        {"FunctionName": FUNCTION},
        {} if before is None else {"ReservedConcurrentExecutions": before},
    )
    prior = fail_targets.FAULT.capture(spec, TARGET)

    stubbed.expect("lambda", "put_function_concurrency", {"FunctionName": FUNCTION, "ReservedConcurrentExecutions": 0})
    fail_targets.FAULT.apply(spec, TARGET, prior)
    stubbed.expect("lambda", restore_call, restore_params)
    fail_targets.FAULT.restore(prior)
    stubbed.done()


# -- block-primary-alb ---------------------------------------------------------------------------
BALANCER = {
    "LoadBalancerArn": LB,
    "LoadBalancerName": "app-alb",
    "DNSName": "app-alb-1.us-east-1.elb.amazonaws.com",
    "Type": "application",
    "VpcId": "vpc-1",
    "SecurityGroups": ["sg-web", "sg-ops"],
    "AvailabilityZones": [{"ZoneName": "us-east-1a", "SubnetId": "subnet-a"}, {"ZoneName": "us-east-1b", "SubnetId": "subnet-b"}],
}
ISOLATION = "drillkit-isolation-app-alb"


def test_security_group_isolation_swaps_the_groups_and_restore_sets_the_exact_original_set(stubbed):
    spec = BlockPrimaryAlb(type="block-primary-alb", method="security-group", load_balancer=LB)
    stubbed.expect("elbv2", "describe_load_balancers", {"LoadBalancerArns": [LB]}, {"LoadBalancers": [BALANCER]})
    prior = block_primary_alb.FAULT.capture(spec, TARGET)

    by_name = {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}, {"Name": "group-name", "Values": [ISOLATION]}]}
    stubbed.expect("ec2", "describe_security_groups", by_name, {"SecurityGroups": []})
    stubbed.expect(
        "ec2",
        "create_security_group",
        {
            "GroupName": ISOLATION,
            "Description": "drillkit isolation: no ingress (a drill blocks the primary ALB)",
            "VpcId": "vpc-1",
            "TagSpecifications": [
                {
                    "ResourceType": "security-group",
                    "Tags": [{"Key": "Name", "Value": ISOLATION}, {"Key": "drillkit:isolation", "Value": LB}],
                }
            ],
        },
        {"GroupId": "sg-iso"},
    )
    stubbed.expect("elbv2", "set_security_groups", {"LoadBalancerArn": LB, "SecurityGroups": ["sg-iso"]})
    block_primary_alb.FAULT.apply(spec, TARGET, prior)

    stubbed.expect(
        "elbv2",
        "describe_load_balancers",
        {"LoadBalancerArns": [LB]},
        {"LoadBalancers": [{**BALANCER, "SecurityGroups": ["sg-iso"]}]},
    )
    stubbed.expect("elbv2", "set_security_groups", {"LoadBalancerArn": LB, "SecurityGroups": ["sg-web", "sg-ops"]})
    stubbed.expect("ec2", "describe_security_groups", by_name, {"SecurityGroups": [{"GroupId": "sg-iso"}]})
    stubbed.expect("ec2", "delete_security_group", {"GroupId": "sg-iso"})
    assert block_primary_alb.FAULT.restore(prior) is True
    stubbed.done()


def test_restore_of_the_security_group_isolation_asks_to_be_called_again_while_ec2_says_the_group_is_in_use(stubbed, monkeypatch):
    # Given a drill whose original groups are back on the ALB, but EC2 still refuses to delete the isolation group
    monkeypatch.setattr(block_primary_alb, "BUSY_WAIT_SECONDS", 0)
    prior = read_prior(
        {
            "resource_id": LB,
            "method": "security-group",
            "region": "us-east-1",
            "load_balancer_arn": LB,
            "load_balancer_name": "app-alb",
            "vpc_id": "vpc-1",
            "isolation_name": ISOLATION,
            "security_groups": ["sg-web", "sg-ops"],
        }
    )
    by_name = {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}, {"Name": "group-name", "Values": [ISOLATION]}]}
    stubbed.expect("elbv2", "describe_load_balancers", {"LoadBalancerArns": [LB]}, {"LoadBalancers": [BALANCER]})
    stubbed.expect("ec2", "describe_security_groups", by_name, {"SecurityGroups": [{"GroupId": "sg-iso"}]})
    stubbed.stubbers[("ec2", "us-east-1")].add_client_error(
        "delete_security_group", "DependencyViolation", "resource sg-iso has a dependent object", 400, {"GroupId": "sg-iso"}
    )
    stubbed.expect("elbv2", "describe_load_balancers", {"LoadBalancerArns": [LB]}, {"LoadBalancers": [BALANCER]})
    stubbed.expect("ec2", "describe_security_groups", by_name, {"SecurityGroups": [{"GroupId": "sg-iso"}]})
    stubbed.expect("ec2", "delete_security_group", {"GroupId": "sg-iso"})
    # When restore runs, then it does not block: it says it must be called again
    assert block_primary_alb.FAULT.restore(prior) is False
    # and the next call deletes the group and is done
    assert block_primary_alb.FAULT.restore(prior) is True
    stubbed.done()


def _acl_of(subnet: str, acl: str, association: str) -> dict[str, Any]:
    return {
        "NetworkAcls": [{"NetworkAclId": acl, "Associations": [{"SubnetId": subnet, "NetworkAclAssociationId": association}]}]
    }


def test_network_acl_isolation_reassociates_every_subnet_and_restore_puts_the_original_acls_back(stubbed):
    spec = BlockPrimaryAlb(type="block-primary-alb", method="network-acl", load_balancer=LB)
    of_subnet = {s: {"Filters": [{"Name": "association.subnet-id", "Values": [s]}]} for s in ("subnet-a", "subnet-b")}
    stubbed.expect("elbv2", "describe_load_balancers", {"LoadBalancerArns": [LB]}, {"LoadBalancers": [BALANCER]})
    stubbed.expect("ec2", "describe_network_acls", of_subnet["subnet-a"], _acl_of("subnet-a", "acl-default", "assoc-1"))
    stubbed.expect("ec2", "describe_network_acls", of_subnet["subnet-b"], _acl_of("subnet-b", "acl-web", "assoc-2"))
    prior = block_primary_alb.FAULT.capture(spec, TARGET)
    assert prior.subnet_acls == {"subnet-a": "acl-default", "subnet-b": "acl-web"}

    by_name = {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}, {"Name": "tag:Name", "Values": [ISOLATION]}]}
    stubbed.expect("ec2", "describe_network_acls", by_name, {"NetworkAcls": []})
    stubbed.expect(
        "ec2",
        "create_network_acl",
        {
            "VpcId": "vpc-1",
            "TagSpecifications": [
                {
                    "ResourceType": "network-acl",
                    "Tags": [{"Key": "Name", "Value": ISOLATION}, {"Key": "drillkit:isolation", "Value": LB}],
                }
            ],
        },
        {"NetworkAcl": {"NetworkAclId": "acl-iso"}},
    )
    stubbed.expect("ec2", "describe_network_acls", of_subnet["subnet-a"], _acl_of("subnet-a", "acl-default", "assoc-1"))
    stubbed.expect(
        "ec2",
        "replace_network_acl_association",
        {"AssociationId": "assoc-1", "NetworkAclId": "acl-iso"},
        {"NewAssociationId": "assoc-3"},
    )
    stubbed.expect("ec2", "describe_network_acls", of_subnet["subnet-b"], _acl_of("subnet-b", "acl-web", "assoc-2"))
    stubbed.expect(
        "ec2",
        "replace_network_acl_association",
        {"AssociationId": "assoc-2", "NetworkAclId": "acl-iso"},
        {"NewAssociationId": "assoc-4"},
    )
    block_primary_alb.FAULT.apply(spec, TARGET, prior)

    stubbed.expect("ec2", "describe_network_acls", of_subnet["subnet-a"], _acl_of("subnet-a", "acl-iso", "assoc-3"))
    stubbed.expect(
        "ec2",
        "replace_network_acl_association",
        {"AssociationId": "assoc-3", "NetworkAclId": "acl-default"},
        {"NewAssociationId": "assoc-5"},
    )
    stubbed.expect("ec2", "describe_network_acls", of_subnet["subnet-b"], _acl_of("subnet-b", "acl-iso", "assoc-4"))
    stubbed.expect(
        "ec2",
        "replace_network_acl_association",
        {"AssociationId": "assoc-4", "NetworkAclId": "acl-web"},
        {"NewAssociationId": "assoc-6"},
    )
    stubbed.expect("ec2", "describe_network_acls", by_name, {"NetworkAcls": [{"NetworkAclId": "acl-iso"}]})
    stubbed.expect("ec2", "delete_network_acl", {"NetworkAclId": "acl-iso"})
    block_primary_alb.FAULT.restore(prior)
    stubbed.done()


# -- stop-cluster ----------------------------------------------------------------------------------
def cluster(arn: str, status: str = "available") -> dict[str, Any]:
    return {"DBClusters": [{"DBClusterArn": arn, "DBClusterIdentifier": arn.split(":")[-1], "Status": status}]}


def global_db(
    writer: str, failover_state: dict[str, Any] | None = None, synchronization: dict[str, str] | None = None
) -> dict[str, Any]:
    members = [
        {"DBClusterArn": arn, "IsWriter": arn == writer, "SynchronizationStatus": (synchronization or {}).get(arn, "connected")}
        for arn in (PRIMARY_DB, STANDBY_DB)
    ]
    found: dict[str, Any] = {"GlobalClusterIdentifier": "app-global", "GlobalClusterMembers": members}
    if failover_state:
        found["FailoverState"] = failover_state
    return {"GlobalClusters": [found]}


def test_stop_stops_a_regional_cluster_and_restore_starts_it_and_waits_until_available(stubbed):
    spec = StopCluster(type="stop-cluster", method="stop", cluster="app-primary", region="us-east-1")
    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": "app-primary"}, cluster(PRIMARY_DB))
    stubbed.expect("rds", "describe_global_clusters", {}, {"GlobalClusters": []})
    prior = stop_cluster.FAULT.capture(spec, TARGET)

    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": "app-primary"}, cluster(PRIMARY_DB))
    stubbed.expect("rds", "stop_db_cluster", {"DBClusterIdentifier": "app-primary"})
    stop_cluster.FAULT.apply(spec, TARGET, prior)

    # One step per call, never a sleep: the drill's Restore loop calls again while it returns False.
    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": "app-primary"}, cluster(PRIMARY_DB, "stopping"))
    assert stop_cluster.FAULT.restore(prior) is False  # still stopping: start is not tried yet
    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": "app-primary"}, cluster(PRIMARY_DB, "stopped"))
    stubbed.expect("rds", "start_db_cluster", {"DBClusterIdentifier": "app-primary"})
    assert stop_cluster.FAULT.restore(prior) is False
    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": "app-primary"}, cluster(PRIMARY_DB, "starting"))
    assert stop_cluster.FAULT.restore(prior) is False  # starting: nothing to do but wait
    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": "app-primary"}, cluster(PRIMARY_DB, "available"))
    assert stop_cluster.FAULT.restore(prior) is True
    stubbed.done()


def test_stop_refuses_a_member_of_a_global_database_before_anything_is_touched(stubbed):
    spec = StopCluster(type="stop-cluster", method="stop", cluster=PRIMARY_DB)
    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": PRIMARY_DB}, cluster(PRIMARY_DB))
    stubbed.expect("rds", "describe_global_clusters", {}, global_db(PRIMARY_DB))
    with pytest.raises(
        TargetNotFound, match="fault.method: Aurora does not stop cluster app-primary, a member of global database app-global"
    ):
        stop_cluster.FAULT.capture(spec, TARGET)
    stubbed.done()


def global_prior(method: str) -> PriorState:
    """What capture records for a global method: app-primary is the writer, app-standby the target."""
    return read_prior(
        {
            "resource_id": PRIMARY_DB,
            "method": method,
            "region": "us-east-1",
            "cluster": "app-primary",
            "cluster_arn": PRIMARY_DB,
            "status": "available",
            "global_cluster": "app-global",
            "writer_arn": PRIMARY_DB,
            "failover_to": STANDBY_DB,
        }
    )


@pytest.mark.parametrize(
    ("method", "operation", "extra"),
    [
        ("global-failover", "failover_global_cluster", {"AllowDataLoss": True}),
        ("global-switchover", "switchover_global_cluster", {}),
    ],
)
def test_global_methods_promote_the_standby_and_restore_switches_the_writer_back(stubbed, method, operation, extra):
    spec = StopCluster(type="stop-cluster", method=method, cluster=PRIMARY_DB)
    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": PRIMARY_DB}, cluster(PRIMARY_DB))
    stubbed.expect("rds", "describe_global_clusters", {}, global_db(PRIMARY_DB))
    prior = stop_cluster.FAULT.capture(spec, TARGET)
    assert prior.failover_to == STANDBY_DB

    stubbed.expect("rds", "describe_global_clusters", {}, global_db(PRIMARY_DB))
    stubbed.expect(
        "rds",
        operation,
        {"GlobalClusterIdentifier": "app-global", "TargetDbClusterIdentifier": STANDBY_DB, **extra},
        region="us-west-2",  # called where the standby is: the primary's region may be the one that is down
    )
    stop_cluster.FAULT.apply(spec, TARGET, prior)

    by_id = {"GlobalClusterIdentifier": "app-global"}
    stubbed.expect("rds", "describe_global_clusters", by_id, global_db(STANDBY_DB))
    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": "app-primary"}, cluster(PRIMARY_DB))
    stubbed.expect(
        "rds", "switchover_global_cluster", {"GlobalClusterIdentifier": "app-global", "TargetDbClusterIdentifier": PRIMARY_DB}
    )
    assert stop_cluster.FAULT.restore(prior) is False  # asked; done once the original writer is writer again
    stubbed.expect("rds", "describe_global_clusters", by_id, global_db(PRIMARY_DB))
    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": "app-primary"}, cluster(PRIMARY_DB))
    assert stop_cluster.FAULT.restore(prior) is True
    stubbed.done()


def test_global_restore_waits_for_the_operation_and_the_resync_then_switches_back_once_and_treats_a_refusal_as_later(stubbed):
    prior = global_prior("global-failover")
    by_id = {"GlobalClusterIdentifier": "app-global"}
    primary = {"DBClusterIdentifier": "app-primary"}
    switch_back = {"GlobalClusterIdentifier": "app-global", "TargetDbClusterIdentifier": PRIMARY_DB}
    failing_over = {
        "Status": "failing-over",
        "FromDbClusterArn": PRIMARY_DB,
        "ToDbClusterArn": STANDBY_DB,
        "IsDataLossAllowed": True,
    }

    # Given the failover still running: wait, and ask nothing of Aurora (it would refuse).
    stubbed.expect("rds", "describe_global_clusters", by_id, global_db(PRIMARY_DB, failing_over))
    assert stop_cluster.FAULT.restore(prior) is False
    stubbed.expect("rds", "describe_global_clusters", by_id, global_db(PRIMARY_DB, failing_over))
    assert "failing-over operation of app-global" in stop_cluster.FAULT.waiting_for(prior)

    # Given the failover done but the old primary still resynchronizing: wait.
    resyncing = global_db(STANDBY_DB, synchronization={PRIMARY_DB: "pending-resync"})
    stubbed.expect("rds", "describe_global_clusters", by_id, resyncing)
    stubbed.expect("rds", "describe_db_clusters", primary, cluster(PRIMARY_DB))
    assert stop_cluster.FAULT.restore(prior) is False
    stubbed.expect("rds", "describe_global_clusters", by_id, resyncing)
    stubbed.expect("rds", "describe_db_clusters", primary, cluster(PRIMARY_DB))
    assert "synchronized secondary of app-global (it is pending-resync)" in stop_cluster.FAULT.waiting_for(prior)

    # Given a synchronized but unavailable old primary: wait.
    stubbed.expect("rds", "describe_global_clusters", by_id, global_db(STANDBY_DB))
    stubbed.expect("rds", "describe_db_clusters", primary, cluster(PRIMARY_DB, "modifying"))
    assert stop_cluster.FAULT.restore(prior) is False

    # When Aurora refuses the switchover (busy after all): that is "later", not an error.
    stubbed.expect("rds", "describe_global_clusters", by_id, global_db(STANDBY_DB))
    stubbed.expect("rds", "describe_db_clusters", primary, cluster(PRIMARY_DB))
    stubbed.refuse("rds", "switchover_global_cluster", "InvalidGlobalClusterStateFault", switch_back)
    assert stop_cluster.FAULT.restore(prior) is False

    # Then it asks again, and waits for the switchover it started without asking twice.
    stubbed.expect("rds", "describe_global_clusters", by_id, global_db(STANDBY_DB))
    stubbed.expect("rds", "describe_db_clusters", primary, cluster(PRIMARY_DB))
    stubbed.expect("rds", "switchover_global_cluster", switch_back)
    assert stop_cluster.FAULT.restore(prior) is False
    switching_back = {"Status": "switching-over", "FromDbClusterArn": STANDBY_DB, "ToDbClusterArn": PRIMARY_DB}
    stubbed.expect(
        "rds", "describe_global_clusters", by_id, global_db(STANDBY_DB, {**switching_back, "IsDataLossAllowed": False})
    )
    assert stop_cluster.FAULT.restore(prior) is False

    # Done only once the original writer is the writer again and available.
    stubbed.expect("rds", "describe_global_clusters", by_id, global_db(PRIMARY_DB))
    stubbed.expect("rds", "describe_db_clusters", primary, cluster(PRIMARY_DB, "modifying"))
    assert stop_cluster.FAULT.restore(prior) is False
    stubbed.expect("rds", "describe_global_clusters", by_id, global_db(PRIMARY_DB))
    stubbed.expect("rds", "describe_db_clusters", primary, cluster(PRIMARY_DB))
    assert stop_cluster.FAULT.restore(prior) is True
    stubbed.done()


def test_global_restore_still_fails_on_an_error_that_is_not_a_busy_refusal(stubbed):
    prior = global_prior("global-switchover")
    stubbed.expect("rds", "describe_global_clusters", {"GlobalClusterIdentifier": "app-global"}, global_db(STANDBY_DB))
    stubbed.expect("rds", "describe_db_clusters", {"DBClusterIdentifier": "app-primary"}, cluster(PRIMARY_DB))
    stubbed.refuse(
        "rds",
        "switchover_global_cluster",
        "AccessDenied",
        {"GlobalClusterIdentifier": "app-global", "TargetDbClusterIdentifier": PRIMARY_DB},
    )
    with pytest.raises(AwsCallFailed, match="AccessDenied"):
        stop_cluster.FAULT.restore(prior)
    stubbed.done()
