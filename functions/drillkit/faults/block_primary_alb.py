"""Fault: cut the primary ALB off from its clients, as a network outage in the region would.

- security-group: swap the ALB's security groups for an isolation group with no ingress rule.
  The original groups and their rules are never modified (they may be shared); restore sets the
  exact original set back and deletes the isolation group.
- network-acl: associate every subnet of the ALB with an isolation network ACL, which has only
  the implicit deny-all rules. Restore associates each subnet with its original ACL again and
  deletes the isolation ACL. Everything else in those subnets is cut off too.

The isolation resources carry a name derived from the ALB, so a retried injection (or a restore
after a crash) finds the one it created instead of creating another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from drillkit import aws
from drillkit.discovery import primary_load_balancer
from drillkit.errors import AwsCallFailed, TargetNotFound
from drillkit.faults.base import Fault, Resource, SpecFault
from drillkit.faults.priors import BalancerSecurityGroups, SubnetAcls
from drillkit.model import ResolvedTarget
from drillkit.spec import BlockPrimaryAlb

TYPE = "block-primary-alb"
EXERCISE_TYPE = "full-scale"
API_CALLS = {
    "security-group": "elasticloadbalancing:SetSecurityGroups, ec2:CreateSecurityGroup / DeleteSecurityGroup",
    "network-acl": "ec2:CreateNetworkAcl, ec2:ReplaceNetworkAclAssociation, ec2:DeleteNetworkAcl",
}
ISOLATION_TAG = "drillkit:isolation"


def _isolation_name(balancer_name: str) -> str:
    return f"drillkit-isolation-{balancer_name}"[:255]


def _security_groups_of(region: str, balancer_arn: str) -> list[str]:
    with aws.aws_call("DescribeLoadBalancers", balancer_arn):
        found = aws.target_client("elbv2", region).describe_load_balancers(LoadBalancerArns=[balancer_arn])["LoadBalancers"]
    return list(found[0].get("SecurityGroups", []))


@dataclass(frozen=True)
class _Isolation:
    """How one method's isolation resource is found by name and deleted."""

    describe: str  # operation, for error messages
    describe_call: str
    name_filter: str
    listed: str
    id_key: str
    delete: str
    delete_call: str
    id_param: str
    gone_codes: frozenset[str]
    busy_codes: frozenset[str]


_ISOLATION = {
    "security-group": _Isolation(
        "DescribeSecurityGroups", "describe_security_groups", "group-name", "SecurityGroups", "GroupId",
        "DeleteSecurityGroup", "delete_security_group", "GroupId", frozenset({"InvalidGroup.NotFound"}),
        frozenset({"DependencyViolation"}),
    ),
    "network-acl": _Isolation(
        "DescribeNetworkAcls", "describe_network_acls", "tag:Name", "NetworkAcls", "NetworkAclId",
        "DeleteNetworkAcl", "delete_network_acl", "NetworkAclId", frozenset({"InvalidNetworkAclID.NotFound"}),
        frozenset({"DependencyViolation", "InUse"}),
    ),
}  # fmt: skip


def _find_isolation(method: str, region: str, vpc_id: str, name: str) -> str | None:
    """The isolation group or ACL a drill created in this VPC (by name), if it exists."""
    kind = _ISOLATION[method]
    with aws.aws_call(kind.describe, name):
        found = getattr(aws.target_client("ec2", region), kind.describe_call)(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": kind.name_filter, "Values": [name]}]
        )[kind.listed]
    return found[0][kind.id_key] if found else None


# EC2 refuses to delete a group or ACL for a while after it was detached; a restore step waits this
# long for it, then leaves the rest to the next call (restore steps never block for long).
BUSY_WAIT_SECONDS = 4.0


def _delete_isolation(method: str, region: str, vpc_id: str, name: str) -> bool:
    """Delete it; True once it is gone, False while EC2 still says it is in use."""
    kind = _ISOLATION[method]
    resource_id = _find_isolation(method, region, vpc_id, name)
    if resource_id is None:
        return True
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        try:
            with aws.aws_call(kind.delete, resource_id):
                getattr(aws.target_client("ec2", region), kind.delete_call)(**{kind.id_param: resource_id})
            return True
        except AwsCallFailed as error:
            if error.code in kind.gone_codes:
                return True
            if error.code not in kind.busy_codes:
                raise
        if time.monotonic() + 2 > deadline:
            return False
        time.sleep(2)


def _acl_of_subnet(region: str, subnet_id: str) -> tuple[str, str]:
    """(network ACL id, association id) of a subnet; every subnet is associated with exactly one ACL."""
    with aws.aws_call("DescribeNetworkAcls", subnet_id):
        acls = aws.target_client("ec2", region).describe_network_acls(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
        )["NetworkAcls"]
    for acl in acls:
        for association in acl.get("Associations", []):
            if association.get("SubnetId") == subnet_id:
                return acl["NetworkAclId"], association["NetworkAclAssociationId"]
    raise TargetNotFound(f"fault.load_balancer: subnet {subnet_id} has no network ACL association")


AlbPrior = BalancerSecurityGroups | SubnetAcls


class BlockPrimaryAlbFault(SpecFault[BlockPrimaryAlb, AlbPrior]):
    """Isolate the primary ALB by security group or network ACL; restore puts the originals back."""

    kind = TYPE
    exercise_type = EXERCISE_TYPE
    api_calls = API_CALLS
    spec_type = BlockPrimaryAlb
    prior_types = (BalancerSecurityGroups, SubnetAcls)

    def capture_spec(self, spec: BlockPrimaryAlb, target: ResolvedTarget) -> AlbPrior:
        balancer = primary_load_balancer(spec.load_balancer, spec.region, target)
        about = {
            "resource_id": balancer.arn,
            "region": balancer.region,
            "load_balancer_arn": balancer.arn,
            "load_balancer_name": balancer.name,
            "vpc_id": balancer.vpc_id,
            "isolation_name": _isolation_name(balancer.name),
        }
        if spec.method == "security-group":
            if not balancer.security_groups:
                raise TargetNotFound(f"fault.load_balancer: {balancer.name} has no security groups to swap")
            return BalancerSecurityGroups(**about, security_groups=list(balancer.security_groups))
        if not balancer.subnets:
            raise TargetNotFound(f"fault.load_balancer: {balancer.name} has no subnets")
        acls = {subnet: _acl_of_subnet(balancer.region, subnet)[0] for subnet in balancer.subnets}
        return SubnetAcls(**about, subnet_acls=acls)

    def apply_spec(self, spec: BlockPrimaryAlb, target: ResolvedTarget, prior: AlbPrior) -> None:
        region, name = prior.region, prior.isolation_name
        ec2 = aws.target_client("ec2", region)
        tags = [{"Key": "Name", "Value": name}, {"Key": ISOLATION_TAG, "Value": prior.load_balancer_arn[-200:]}]
        if isinstance(prior, BalancerSecurityGroups):
            group_id = _find_isolation("security-group", region, prior.vpc_id, name)
            if group_id is None:
                with aws.aws_call("CreateSecurityGroup", name):
                    group_id = ec2.create_security_group(
                        GroupName=name,
                        Description="drillkit isolation: no ingress (a drill blocks the primary ALB)",
                        VpcId=prior.vpc_id,
                        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
                    )["GroupId"]
            with aws.aws_call("SetSecurityGroups", prior.load_balancer_arn):
                aws.target_client("elbv2", region).set_security_groups(
                    LoadBalancerArn=prior.load_balancer_arn, SecurityGroups=[group_id]
                )
            return
        acl_id = _find_isolation("network-acl", region, prior.vpc_id, name)
        if acl_id is None:
            with aws.aws_call("CreateNetworkAcl", name):
                acl_id = ec2.create_network_acl(
                    VpcId=prior.vpc_id, TagSpecifications=[{"ResourceType": "network-acl", "Tags": tags}]
                )["NetworkAcl"]["NetworkAclId"]
        for subnet in prior.subnet_acls:
            current, association = _acl_of_subnet(region, subnet)
            if current != acl_id:
                with aws.aws_call("ReplaceNetworkAclAssociation", subnet):
                    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl_id)

    def restore_prior(self, prior: AlbPrior) -> bool:
        """One step of the undo: True once the original groups or ACLs are back and the isolation resource is
        deleted; False while EC2 still refuses to delete it (call again later)."""
        region, name = prior.region, prior.isolation_name
        ec2 = aws.target_client("ec2", region)
        if isinstance(prior, BalancerSecurityGroups):
            if sorted(_security_groups_of(region, prior.load_balancer_arn)) != sorted(prior.security_groups):
                with aws.aws_call("SetSecurityGroups", prior.load_balancer_arn):
                    aws.target_client("elbv2", region).set_security_groups(
                        LoadBalancerArn=prior.load_balancer_arn, SecurityGroups=prior.security_groups
                    )
            return _delete_isolation("security-group", region, prior.vpc_id, name)
        for subnet, original in prior.subnet_acls.items():
            current, association = _acl_of_subnet(region, subnet)
            if current != original:
                with aws.aws_call("ReplaceNetworkAclAssociation", subnet):
                    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=original)
        return _delete_isolation("network-acl", region, prior.vpc_id, name)

    def is_restored_prior(self, prior: AlbPrior) -> bool:
        region, name = prior.region, prior.isolation_name
        if isinstance(prior, BalancerSecurityGroups):
            same = sorted(_security_groups_of(region, prior.load_balancer_arn)) == sorted(prior.security_groups)
            return same and _find_isolation("security-group", region, prior.vpc_id, name) is None
        same = all(_acl_of_subnet(region, subnet)[0] == acl for subnet, acl in prior.subnet_acls.items())
        return same and _find_isolation("network-acl", region, prior.vpc_id, name) is None

    def describe_spec(self, spec: BlockPrimaryAlb, target: ResolvedTarget, prior: AlbPrior) -> str:
        if isinstance(prior, BalancerSecurityGroups):
            return (
                f"swap the security groups of ALB {prior.load_balancer_name} ({', '.join(prior.security_groups)}) "
                f"for isolation group {prior.isolation_name} with no ingress; restore sets "
                f"{', '.join(prior.security_groups)} back and deletes the isolation group"
            )
        subnets = ", ".join(f"{s} ({a})" for s, a in prior.subnet_acls.items())
        return (
            f"associate the subnets of ALB {prior.load_balancer_name} ({subnets}) with isolation network ACL "
            f"{prior.isolation_name} (deny all); restore associates each subnet with its original ACL "
            "and deletes the isolation ACL"
        )

    def resources_prior(self, prior: AlbPrior) -> list[Resource]:
        found: list[Resource] = [
            {"type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "id": prior.load_balancer_arn, "role": "primary ALB"}
        ]
        if isinstance(prior, BalancerSecurityGroups):
            role = "primary ALB security group"
            found += [{"type": "AWS::EC2::SecurityGroup", "id": g, "role": role} for g in prior.security_groups]
        else:
            found += [{"type": "AWS::EC2::Subnet", "id": s, "role": "primary ALB subnet"} for s in prior.subnet_acls]
        return found


FAULT: Fault = BlockPrimaryAlbFault()
