"""The lab's ECS service physics against moto's in-memory backends (no sockets: the tasks' servers are stand-ins)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from drillkit_lab.physics import ecs as ecs_physics
from drillkit_lab.physics.ecs import EcsServicePhysics
from drillkit_lab.physics.groundtruth import GroundTruth, read

ACCOUNT, REGION = "123456789012", "us-east-1"
START = ecs_physics.TASK_START_SECONDS


@dataclass
class TaskServer:
    """Stands in for a RegionApp: remembers whether its target was still registered when it stopped."""

    address: str
    group: Any
    serving: bool = True
    registered_when_stopped: list[bool] = field(default_factory=list)

    def start(self) -> None:
        self.serving = True

    def stop(self) -> None:
        self.registered_when_stopped.append(self.address in self.group.targets)
        self.serving = False


@dataclass
class Service:
    physics: EcsServicePhysics
    servers: list[TaskServer]
    ecs: Any
    elbv2: Any
    group_arn: str
    truth_path: Any

    def set_desired(self, count: int) -> None:
        self.ecs.update_service(cluster="lab-primary", service="lab-primary-app", desiredCount=count)

    def described(self) -> dict:
        return self.ecs.describe_services(cluster="lab-primary", services=["lab-primary-app"])["services"][0]

    def registered(self) -> list[tuple[str, int]]:
        described = self.elbv2.describe_target_health(TargetGroupArn=self.group_arn)["TargetHealthDescriptions"]
        return sorted((d["Target"]["Id"], d["Target"]["Port"]) for d in described)

    def events(self, name: str) -> list[dict]:
        return [e for e in read(self.truth_path) if e["event"] == name]


@pytest.fixture
def service(tmp_path) -> Iterator[Service]:
    with mock_aws():
        from moto.ecs.models import ecs_backends
        from moto.elbv2.models import elbv2_backends

        ec2 = boto3.client("ec2", region_name=REGION)
        elbv2 = boto3.client("elbv2", region_name=REGION)
        ecs = boto3.client("ecs", region_name=REGION)
        vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        group_arn = elbv2.create_target_group(Name="lab-tg", Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        targets = [{"Id": f"127.10.1.{i}", "Port": 8080} for i in (1, 2)]
        elbv2.register_targets(TargetGroupArn=group_arn, Targets=targets)
        ecs.create_cluster(clusterName="lab-primary")
        ecs.register_task_definition(
            family="lab-primary-app",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": "app", "image": "app", "portMappings": [{"containerPort": 8080}]}],
        )
        ecs.create_service(
            cluster="lab-primary",
            serviceName="lab-primary-app",
            taskDefinition="lab-primary-app",
            desiredCount=2,
            launchType="FARGATE",
            loadBalancers=[{"targetGroupArn": group_arn, "containerName": "app", "containerPort": 8080}],
        )
        elbv2_backend = elbv2_backends[ACCOUNT][REGION]
        group = elbv2_backend.target_groups[group_arn]
        servers = [TaskServer(t["Id"], group) for t in targets]
        truth = GroundTruth(tmp_path / "truth.jsonl")
        physics = EcsServicePhysics(
            ecs_backends[ACCOUNT][REGION],
            elbv2_backend,
            "lab-primary",
            "lab-primary-app",
            group_arn,
            list(zip(servers, targets, strict=True)),  # type: ignore[arg-type]
            truth,
        )
        yield Service(physics, servers, ecs, elbv2, group_arn, tmp_path / "truth.jsonl")
        truth.close()


def test_the_service_shows_the_tasks_that_already_run(service):
    service.physics.reconcile(0.0)
    described = service.described()
    assert (described["desiredCount"], described["runningCount"], described["pendingCount"]) == (2, 2, 0)
    assert service.ecs.describe_clusters(clusters=["lab-primary"])["clusters"][0]["runningTasksCount"] == 2
    assert service.events("ecs_tasks") == []


def test_scaling_to_zero_deregisters_every_task_before_its_server_stops(service):
    service.set_desired(0)
    service.physics.reconcile(0.0)

    assert service.registered() == []
    assert [s.serving for s in service.servers] == [False, False]
    assert [s.registered_when_stopped for s in service.servers] == [[False], [False]]
    assert service.described()["runningCount"] == 0
    assert [(e["desired"], e["running"]) for e in service.events("ecs_tasks")] == [(0, 0)]
    assert sorted(e["target"]["Id"] for e in service.events("target_registration") if not e["registered"]) == [
        "127.10.1.1",
        "127.10.1.2",
    ]


def test_restoring_the_count_starts_tasks_after_the_provisioning_delay_with_the_same_targets(service):
    before = service.registered()
    service.set_desired(0)
    service.physics.reconcile(0.0)
    service.set_desired(2)

    service.physics.reconcile(10.0)
    service.physics.reconcile(10.0 + START / 2)
    assert [s.serving for s in service.servers] == [False, False]
    described = service.described()
    assert (described["runningCount"], described["pendingCount"]) == (0, 2)  # moto said 2 running at once

    service.physics.reconcile(10.0 + START)
    assert [s.serving for s in service.servers] == [True, True]
    assert service.registered() == before
    described = service.described()
    assert (described["desiredCount"], described["runningCount"], described["pendingCount"]) == (2, 2, 0)
    assert [(e["desired"], e["running"]) for e in service.events("ecs_tasks")] == [(0, 0), (2, 2)]


def test_scaling_down_while_tasks_are_starting_cancels_them_and_more_than_the_lab_has_is_capped(service):
    service.set_desired(1)
    service.physics.reconcile(0.0)
    assert [s.serving for s in service.servers] == [True, False]  # the newest task stops first

    service.set_desired(2)
    service.physics.reconcile(1.0)
    service.set_desired(1)
    service.physics.reconcile(1.0 + START)
    assert [s.serving for s in service.servers] == [True, False]

    service.set_desired(5)
    service.physics.reconcile(3.0)
    service.physics.reconcile(3.0 + START)
    assert [s.serving for s in service.servers] == [True, True]
    assert service.events("ecs_tasks")[-1] == {**service.events("ecs_tasks")[-1], "desired": 5, "running": 2}
