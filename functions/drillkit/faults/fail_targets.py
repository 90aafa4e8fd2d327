"""Fault: take the primary's targets out of service, three ways.

- deregister: deregister every target of the primary target group. Restore registers exactly
  what DescribeTargetHealth returned (id, port, availability zone): a deregister or register call
  without the port acts on the target group's default port, which silently misses targets that
  were registered on another one. A deregistered target stays listed as `draining` for the
  group's deregistration delay (300 s by default): it counts as not registered, so restore
  registers it again (which ends the draining) and it is back only once `initial` or `healthy`.
- ecs-scale-to-zero: set the ECS service behind the target group to desiredCount 0; ECS drains
  and stops the tasks. Restore sets the original count.
- lambda-throttle: set the target function's reserved concurrency to 0, so every invocation is
  throttled. Restore puts the original reserved concurrency back, or deletes it when there was none.
"""

from __future__ import annotations

from typing import Any

from drillkit import aws
from drillkit.discovery import forwarded_target_groups, primary_load_balancer
from drillkit.errors import TargetNotFound
from drillkit.faults.base import Fault, Resource, SpecFault
from drillkit.faults.priors import ElbTarget, FunctionConcurrency, RegisteredTargets, ServiceCount
from drillkit.model import ResolvedTarget
from drillkit.spec import FailTargets

TYPE = "fail-targets"
EXERCISE_TYPE = "full-scale"
API_CALLS = {
    "deregister": "elasticloadbalancing:DeregisterTargets / RegisterTargets",
    "ecs-scale-to-zero": "ecs:UpdateService (desiredCount)",
    "lambda-throttle": "lambda:PutFunctionConcurrency / DeleteFunctionConcurrency",
}


# -- probes of the resources (read-only) -----------------------------------------------------
# Listed by DescribeTargetHealth but not registered for new requests: a deregistered target stays
# `draining` for the target group's deregistration delay (300 s by default), and `unused` ones are
# not registered at all. Only a target in neither state is one restore can leave alone.
NOT_REGISTERED = frozenset({"draining", "unused"})
# What a freshly registered target reads until, and once, it passes the health check.
BACK_IN_SERVICE = frozenset({"initial", "healthy"})


def _target(described: dict[str, Any]) -> ElbTarget:
    """A target as DescribeTargetHealth names it: Id, Port and AvailabilityZone when present."""
    target = ElbTarget(Id=str(described["Id"]))
    if described.get("Port") is not None:
        target["Port"] = int(described["Port"])
    if described.get("AvailabilityZone") is not None:
        target["AvailabilityZone"] = str(described["AvailabilityZone"])
    return target


def _described(region: str, target_group_arn: str) -> list[tuple[ElbTarget, str]]:
    """(target, state) of every target DescribeTargetHealth lists."""
    with aws.aws_call("DescribeTargetHealth", target_group_arn):
        described = aws.target_client("elbv2", region).describe_target_health(TargetGroupArn=target_group_arn)
    return [
        (_target(item["Target"]), str((item.get("TargetHealth") or {}).get("State", "")))
        for item in described["TargetHealthDescriptions"]
    ]


def _registered(region: str, target_group_arn: str) -> list[ElbTarget]:
    """Targets registered to the group: draining and unused ones are not."""
    return [target for target, state in _described(region, target_group_arn) if state not in NOT_REGISTERED]


def _key(target: ElbTarget) -> tuple[str, int | None]:
    return (target["Id"], target.get("Port"))


def _service(region: str, cluster: str, service: str) -> dict[str, Any]:
    with aws.aws_call("DescribeServices", service):
        found = aws.target_client("ecs", region).describe_services(cluster=cluster, services=[service])
    services = [s for s in found.get("services", []) if s.get("status") != "INACTIVE"]
    if not services:
        raise TargetNotFound(f"fault.ecs_service: no active ECS service {service} in cluster {cluster} ({region})")
    return services[0]


def _service_behind(region: str, target_group_arn: str) -> dict[str, Any]:
    ecs = aws.target_client("ecs", region)
    with aws.aws_call("ListClusters", region):
        clusters = [arn for page in ecs.get_paginator("list_clusters").paginate() for arn in page["clusterArns"]]
    for cluster in clusters:
        with aws.aws_call("ListServices", cluster):
            arns = [arn for page in ecs.get_paginator("list_services").paginate(cluster=cluster) for arn in page["serviceArns"]]
        for start in range(0, len(arns), 10):
            with aws.aws_call("DescribeServices", cluster):
                services = ecs.describe_services(cluster=cluster, services=arns[start : start + 10])["services"]
            for service in services:
                if any(lb.get("targetGroupArn") == target_group_arn for lb in service.get("loadBalancers", [])):
                    return service
    raise TargetNotFound(
        f"fault.ecs_service: no ECS service in {region} is attached to target group {target_group_arn}; "
        "name it in fault.ecs_cluster and fault.ecs_service"
    )


def _reserved_concurrency(region: str, function: str) -> int | None:
    with aws.aws_call("GetFunctionConcurrency", function):
        found = aws.target_client("lambda", region).get_function_concurrency(FunctionName=function)
    value = found.get("ReservedConcurrentExecutions")
    return None if value is None else int(value)


def _target_group(spec: FailTargets, target: ResolvedTarget) -> tuple[str, str]:
    """(region, target group ARN) of the primary's targets."""
    if spec.target_group:
        return spec.target_group.split(":")[3], spec.target_group
    balancer = primary_load_balancer(spec.load_balancer, spec.region, target)
    groups = forwarded_target_groups(balancer)
    if not groups:
        raise TargetNotFound(f"fault.target_group: load balancer {balancer.name} forwards to no target group")
    return balancer.region, groups[0]


# -- the fault ---------------------------------------------------------------------------------
def _capture_function(spec: FailTargets, target: ResolvedTarget) -> FunctionConcurrency:
    if spec.function:
        function = spec.function
        region = spec.function.split(":")[3] if spec.function.startswith("arn:") else str(spec.region)
    else:
        try:
            region, group = _target_group(spec, target)
        except TargetNotFound as error:
            raise TargetNotFound(f"{error}; or name the function in fault.function") from None
        lambdas = [t["Id"] for t in _registered(region, group) if t["Id"].startswith("arn:") and ":lambda:" in t["Id"]]
        if not lambdas:
            raise TargetNotFound(
                f"fault.function: target group {group} has no Lambda target; name the function in fault.function"
            )
        function = lambdas[0]
    with aws.aws_call("GetFunction", function):
        arn = aws.target_client("lambda", region).get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    return FunctionConcurrency(
        resource_id=arn, region=region, function=arn, reserved_concurrency=_reserved_concurrency(region, arn)
    )


TargetsPrior = RegisteredTargets | ServiceCount | FunctionConcurrency


class FailTargetsFault(SpecFault[FailTargets, TargetsPrior]):
    """Take the primary's targets out of service (deregister, ECS to zero, Lambda throttle); restore puts them back."""

    kind = TYPE
    exercise_type = EXERCISE_TYPE
    api_calls = API_CALLS
    spec_type = FailTargets
    prior_types = (RegisteredTargets, ServiceCount, FunctionConcurrency)

    def capture_spec(self, spec: FailTargets, target: ResolvedTarget) -> TargetsPrior:
        if spec.method == "lambda-throttle":
            return _capture_function(spec, target)
        region, group = _target_group(spec, target)
        if spec.method == "ecs-scale-to-zero":
            if spec.ecs_cluster and spec.ecs_service:
                service = _service(region, spec.ecs_cluster, spec.ecs_service)
            else:
                service = _service_behind(region, group)
            arn = service["serviceArn"]
            count = int(service["desiredCount"])
            return ServiceCount(
                resource_id=arn,
                region=region,
                cluster=service["clusterArn"],
                service=arn,
                desired_count=count,
                target_group_arn=group,
            )
        described = _described(region, group)
        targets = [target for target, state in described if state not in NOT_REGISTERED]
        if not targets:
            draining = sum(state == "draining" for _, state in described)
            raise TargetNotFound(
                f"fault.target_group: target group {group} has no registered targets to fail"
                + (f" ({draining} still draining from an earlier deregistration)" if draining else "")
            )
        return RegisteredTargets(resource_id=group, region=region, target_group_arn=group, targets=targets)

    def apply_spec(self, spec: FailTargets, target: ResolvedTarget, prior: TargetsPrior) -> None:
        region = prior.region
        if isinstance(prior, RegisteredTargets):
            # Only what is still registered: a retried injection must not fail on what it already did.
            current = {_key(t) for t in _registered(region, prior.target_group_arn)}
            remaining = [t for t in prior.targets if _key(t) in current]
            if remaining:
                with aws.aws_call("DeregisterTargets", prior.target_group_arn):
                    aws.target_client("elbv2", region).deregister_targets(
                        TargetGroupArn=prior.target_group_arn, Targets=remaining
                    )
        elif isinstance(prior, ServiceCount):
            with aws.aws_call("UpdateService", prior.service):
                aws.target_client("ecs", region).update_service(cluster=prior.cluster, service=prior.service, desiredCount=0)
        else:
            with aws.aws_call("PutFunctionConcurrency", prior.function):
                aws.target_client("lambda", region).put_function_concurrency(
                    FunctionName=prior.function, ReservedConcurrentExecutions=0
                )

    def restore_prior(self, prior: TargetsPrior) -> bool:
        """One step of the undo: True once it is complete, False when it must be called again later.

        deregister: registers every captured target that is not registered (a draining one is not:
        registering it again ends its draining). True only when a read finds them all registered, so the
        call that registers returns False and the next call sees the registration.
        The other methods: True once their one call is made; the service coming back is verify's to see.
        """
        region = prior.region
        if isinstance(prior, RegisteredTargets):
            current = {_key(t) for t in _registered(region, prior.target_group_arn)}
            missing = [t for t in prior.targets if _key(t) not in current]
            if missing:
                with aws.aws_call("RegisterTargets", prior.target_group_arn):
                    aws.target_client("elbv2", region).register_targets(TargetGroupArn=prior.target_group_arn, Targets=missing)
            return not missing
        elif isinstance(prior, ServiceCount):
            with aws.aws_call("UpdateService", prior.service):
                aws.target_client("ecs", region).update_service(
                    cluster=prior.cluster, service=prior.service, desiredCount=prior.desired_count
                )
        elif prior.reserved_concurrency is None:
            with aws.aws_call("DeleteFunctionConcurrency", prior.function):
                aws.target_client("lambda", region).delete_function_concurrency(FunctionName=prior.function)
        else:
            with aws.aws_call("PutFunctionConcurrency", prior.function):
                aws.target_client("lambda", region).put_function_concurrency(
                    FunctionName=prior.function, ReservedConcurrentExecutions=prior.reserved_concurrency
                )
        return True

    def is_restored_prior(self, prior: TargetsPrior) -> bool:
        region = prior.region
        if isinstance(prior, RegisteredTargets):
            # Every captured target registered and on its way back into service; a draining one is not back.
            states = {_key(target): state for target, state in _described(region, prior.target_group_arn)}
            return all(states.get(_key(t)) in BACK_IN_SERVICE for t in prior.targets)
        if isinstance(prior, ServiceCount):
            return int(_service(region, prior.cluster, prior.service)["desiredCount"]) == prior.desired_count
        return _reserved_concurrency(region, prior.function) == prior.reserved_concurrency

    def describe_spec(self, spec: FailTargets, target: ResolvedTarget, prior: TargetsPrior) -> str:
        if isinstance(prior, RegisteredTargets):
            listed = ", ".join(f"{t['Id']}:{t.get('Port', '-')}" for t in prior.targets)
            return (
                f"deregister {len(prior.targets)} target(s) ({listed}) from target group {prior.target_group_arn}; "
                "restore registers exactly those again, with their ports and availability zones"
            )
        if isinstance(prior, ServiceCount):
            return (
                f"set desiredCount 0 on ECS service {prior.service} (now {prior.desired_count}); "
                f"restore sets desiredCount {prior.desired_count}"
            )
        before = prior.reserved_concurrency
        undo = "removes the reserved concurrency again" if before is None else f"sets it back to {before}"
        return f"set reserved concurrency 0 on Lambda function {prior.function}; restore {undo}"

    def resources_prior(self, prior: TargetsPrior) -> list[Resource]:
        if isinstance(prior, RegisteredTargets):
            group = prior.target_group_arn
            return [{"type": "AWS::ElasticLoadBalancingV2::TargetGroup", "id": group, "role": "primary targets"}]
        if isinstance(prior, ServiceCount):
            return [{"type": "AWS::ECS::Service", "id": prior.service, "role": "primary service"}]
        return [{"type": "AWS::Lambda::Function", "id": prior.function, "role": "primary function"}]


FAULT: Fault = FailTargetsFault()
