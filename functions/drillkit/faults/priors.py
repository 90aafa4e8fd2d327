"""The prior state each fault captures before it changes anything: one model per fault method, ``Prior`` their union.

Every model is a ``PriorState``; a fault takes the ones it writes (``SpecFault.own``).

The ledger keeps a prior in the undo record as JSON (``model_dump(mode="json")``, the keys the faults have always
written) and ``read_prior`` turns it back into its model by its ``method``, which no two faults share. Records written
before these models read the same (a DynamoDB number comes back a Decimal: read as the int it was).
"""

from __future__ import annotations

from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,  # pydantic reads typing's TypedDict only from Python 3.12
)

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from drillkit.errors import DrillStateInvalid


class PriorState(BaseModel):
    # Keys that older versions of a fault wrote and no longer read are passed over, not refused: a pending undo
    # record must restore whatever version wrote it.
    model_config = ConfigDict(extra="ignore", frozen=True)
    resource_id: str  # what the fault changes first: the undo record names it
    method: str  # the fault's method; each model narrows it to its own

    def stored(self) -> dict[str, Any]:
        """The JSON the undo record keeps."""
        return self.model_dump(mode="json")


class InvertedCheck(PriorState):
    """health-check-inversion: the check's Inverted flag before the drill."""

    method: Literal["default"] = "default"
    inverted: bool


class ElbTarget(TypedDict):
    """A target as DescribeTargetHealth names it and RegisterTargets takes it."""

    Id: str
    Port: NotRequired[int]
    AvailabilityZone: NotRequired[str]


class RegisteredTargets(PriorState):
    """fail-targets, deregister: the targets registered to the primary's group."""

    method: Literal["deregister"] = "deregister"
    region: str
    target_group_arn: str
    targets: list[ElbTarget]


class ServiceCount(PriorState):
    """fail-targets, ecs-scale-to-zero: the service's desired count."""

    method: Literal["ecs-scale-to-zero"] = "ecs-scale-to-zero"
    region: str
    cluster: str
    service: str
    desired_count: int
    target_group_arn: str


class FunctionConcurrency(PriorState):
    """fail-targets, lambda-throttle: the function's reserved concurrency (None: it had none)."""

    method: Literal["lambda-throttle"] = "lambda-throttle"
    region: str
    function: str
    reserved_concurrency: int | None


class _Balancer(PriorState):
    region: str
    load_balancer_arn: str
    load_balancer_name: str
    vpc_id: str
    isolation_name: str  # the isolation security group or network ACL the fault creates


class BalancerSecurityGroups(_Balancer):
    """block-primary-alb, security-group: the ALB's security groups."""

    method: Literal["security-group"] = "security-group"
    security_groups: list[str]


class SubnetAcls(_Balancer):
    """block-primary-alb, network-acl: the network ACL of each of the ALB's subnets."""

    method: Literal["network-acl"] = "network-acl"
    subnet_acls: dict[str, str]


class _Cluster(PriorState):
    region: str
    cluster: str  # DBClusterIdentifier
    cluster_arn: str
    status: str | None


class RunningCluster(_Cluster):
    """stop-cluster, stop: the cluster, available."""

    method: Literal["stop"] = "stop"


class GlobalWriter(_Cluster):
    """stop-cluster, global-failover or global-switchover: the global database's writer and where it moves."""

    method: Literal["global-failover", "global-switchover"]
    global_cluster: str
    writer_arn: str
    failover_to: str


Prior = Annotated[
    InvertedCheck
    | RegisteredTargets
    | ServiceCount
    | FunctionConcurrency
    | BalancerSecurityGroups
    | SubnetAcls
    | RunningCluster
    | GlobalWriter,
    Field(discriminator="method"),
]
_PRIOR: TypeAdapter[Prior] = TypeAdapter(Prior)


def read_prior(stored: Any) -> Prior:
    """An undo record's prior state as its fault's model; DrillStateInvalid naming the field when it is malformed."""
    try:
        return _PRIOR.validate_python(stored)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(['prior', *map(str, e['loc'])])}: {e['msg']}" for e in error.errors())
        raise DrillStateInvalid(f"undo record: {problems}") from None
