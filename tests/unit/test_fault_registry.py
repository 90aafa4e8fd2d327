"""The fault registry: every fault a scenario can name is one ``Fault``, and a wrong pairing is refused by name."""

from __future__ import annotations

import json
import typing
from decimal import Decimal

import pytest

from drillkit import faults
from drillkit.errors import DrillStateInvalid, ScenarioInvalid
from drillkit.faults import health_check_inversion, stop_cluster
from drillkit.faults.base import WAITING_BY_DEFAULT
from drillkit.faults.priors import InvertedCheck
from drillkit.model import FailoverEndpoint, ResolvedTarget
from drillkit.spec import FaultSpec, HealthCheckInversion

TARGET = ResolvedTarget(
    hosted_zone_id="Z1",
    record_name="app.example.com.",
    record_type="A",
    primary=FailoverEndpoint(side="primary", set_identifier="p", values=("192.0.2.10",), health_check_id="hc-1"),
)


def _kinds_a_scenario_can_name() -> set[str]:
    models = typing.get_args(typing.get_args(FaultSpec)[0])
    return {typing.get_args(model.model_fields["type"].annotation)[0] for model in models}


def test_every_fault_type_a_scenario_can_name_has_one_fault_with_its_exercise_type_and_aws_calls():
    # Given the fault types the scenario schema accepts
    kinds = _kinds_a_scenario_can_name()

    # Then each has exactly one registered fault, under its own kind, which says what it is and what it calls
    assert set(faults.FAULTS) == kinds
    for kind in kinds:
        fault = faults.fault_of(kind)
        assert fault.kind == kind
        assert fault.exercise_type in ("switchover", "full-scale")
        assert fault.api_calls and all(calls for calls in fault.api_calls.values())
        assert faults.api_calls(kind, None) in fault.api_calls.values()


def test_an_undo_record_naming_a_fault_drillkit_lacks_is_refused_by_name():
    # When the safety net reads an undo record written by another version (a fault this one does not have)
    with pytest.raises(DrillStateInvalid) as refused:
        faults.fault_of("unplug-the-datacenter")

    # Then the error names the field and the kinds there are
    assert "fault: no fault of kind 'unplug-the-datacenter'" in str(refused.value)
    assert "stop-cluster" in str(refused.value)


def test_a_fault_given_another_faults_spec_refuses_it_before_any_aws_call():
    # Given a health-check inversion spec
    spec = HealthCheckInversion(type="health-check-inversion")

    # When the stop-cluster fault is asked to capture, apply or describe it
    for call in (
        lambda: stop_cluster.FAULT.capture(spec, TARGET),
        lambda: stop_cluster.FAULT.apply(spec, TARGET, {}),
        lambda: stop_cluster.FAULT.describe_plan(spec, TARGET, {}),
    ):
        with pytest.raises(ScenarioInvalid) as refused:
            call()

        # Then it refuses, naming the field (no client is created: unit tests have no network)
        assert refused.value.problems == [("fault.type", "health-check-inversion is not the stop-cluster fault")]


def test_a_fault_restored_in_one_call_says_what_an_unfinished_restore_waits_for_in_general_words():
    prior = InvertedCheck(resource_id="hc-1", inverted=False)

    assert health_check_inversion.FAULT.waiting_for(prior) == WAITING_BY_DEFAULT == "its restore to complete"


def test_the_plan_line_is_built_from_the_narrowed_spec_and_the_prior_state():
    # Given the prior state an inversion captured
    prior = InvertedCheck(resource_id="hc-1", inverted=False)

    # When the plan is described (read-only: no AWS call)
    spec = HealthCheckInversion(type="health-check-inversion")
    line = faults.fault_of(spec.type).describe_plan(spec, TARGET, prior)

    # Then it says what is changed and what restore sets back
    assert line == (
        "set Inverted=True on Route 53 health check hc-1 (primary record of app.example.com.); restore sets Inverted=False"
    )


# Undo records' priors as the faults wrote them before they were typed, one per method; numbers as DynamoDB reads
# them back (Decimal).
STORED_PRIORS = [
    {"resource_id": "hc-1", "method": "default", "inverted": False},
    {
        "resource_id": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/1",
        "method": "deregister",
        "region": "us-east-1",
        "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/1",
        "targets": [{"Id": "i-1", "Port": Decimal(8080), "AvailabilityZone": "us-east-1a"}, {"Id": "10.0.0.7"}],
    },
    {
        "resource_id": "arn:aws:ecs:us-east-1:123456789012:service/app/web",
        "method": "ecs-scale-to-zero",
        "region": "us-east-1",
        "cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/app",
        "service": "arn:aws:ecs:us-east-1:123456789012:service/app/web",
        "desired_count": Decimal(3),
        "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/1",
    },
    {
        "resource_id": "arn:aws:lambda:us-east-1:123456789012:function:web",
        "method": "lambda-throttle",
        "region": "us-east-1",
        "function": "arn:aws:lambda:us-east-1:123456789012:function:web",
        "reserved_concurrency": None,
    },
    {
        "resource_id": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1",
        "method": "security-group",
        "region": "us-east-1",
        "load_balancer_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1",
        "load_balancer_name": "web",
        "vpc_id": "vpc-1",
        "isolation_name": "drillkit-isolation-web",
        "security_groups": ["sg-web", "sg-ops"],
    },
    {
        "resource_id": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1",
        "method": "network-acl",
        "region": "us-east-1",
        "load_balancer_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1",
        "load_balancer_name": "web",
        "vpc_id": "vpc-1",
        "isolation_name": "drillkit-isolation-web",
        "subnet_acls": {"subnet-a": "acl-default", "subnet-b": "acl-web"},
    },
    {
        "resource_id": "arn:aws:rds:us-east-1:123456789012:cluster:db",
        "method": "stop",
        "region": "us-east-1",
        "cluster": "db",
        "cluster_arn": "arn:aws:rds:us-east-1:123456789012:cluster:db",
        "status": "available",
    },
    {
        "resource_id": "arn:aws:rds:us-east-1:123456789012:cluster:db",
        "method": "global-switchover",
        "region": "us-east-1",
        "cluster": "db",
        "cluster_arn": "arn:aws:rds:us-east-1:123456789012:cluster:db",
        "status": None,
        "global_cluster": "app-global",
        "writer_arn": "arn:aws:rds:us-east-1:123456789012:cluster:db",
        "failover_to": "arn:aws:rds:us-west-2:123456789012:cluster:db-standby",
    },
]
KIND_OF_METHOD = {
    "default": "health-check-inversion",
    "deregister": "fail-targets",
    "ecs-scale-to-zero": "fail-targets",
    "lambda-throttle": "fail-targets",
    "security-group": "block-primary-alb",
    "network-acl": "block-primary-alb",
    "stop": "stop-cluster",
    "global-switchover": "stop-cluster",
}


@pytest.mark.parametrize("stored", STORED_PRIORS, ids=[p["method"] for p in STORED_PRIORS])
def test_an_older_undo_record_s_prior_reads_as_its_fault_s_model_and_is_stored_again_as_it_was(stored):
    # When a prior state written before the models is read back from the ledger
    prior = faults.read_prior(stored)

    # Then it is its fault's own (the fault takes it: the resources it names come from it) and stores the same JSON
    fault = faults.fault_of(KIND_OF_METHOD[stored["method"]])
    assert fault.resources(prior)[0]["id"] in json.dumps(stored, default=str)
    assert prior.stored() == json.loads(json.dumps(stored, default=int))


def test_a_malformed_prior_is_refused_naming_the_field():
    with pytest.raises(DrillStateInvalid, match=r"prior\.default\.inverted: Field required"):
        faults.read_prior({"resource_id": "hc-1", "method": "default"})
    with pytest.raises(DrillStateInvalid, match="prior: Input tag 'unplug' found using 'method' does not match"):
        faults.read_prior({"resource_id": "hc-1", "method": "unplug"})


def test_a_fault_refuses_the_prior_state_of_another_fault():
    prior = faults.read_prior(STORED_PRIORS[-1])  # a stop-cluster prior

    with pytest.raises(DrillStateInvalid, match="a GlobalWriter prior state is not the health-check-inversion fault's"):
        health_check_inversion.FAULT.restore(prior)
