"""An ECS service brought to life: its tasks are the region's app servers and follow desiredCount.

The physics reads the service's desiredCount from the local cloud every 100 ms. When it drops,
ECS stops the extra tasks: each is deregistered from the target group first (as ECS does before
stopping a task behind a load balancer), then its server stops, so its address refuses
connections. When it rises, new tasks start after a provisioning delay and register with the
target group again on the same address and port, so a describe after the drill equals the one
before it. Every change goes to the ground truth.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from drillkit_lab.physics.apps import RegionApp
from drillkit_lab.physics.groundtruth import GroundTruth

# What ECS takes to pull, start and register a task; a Fargate task takes tens of seconds.
TASK_START_SECONDS = 1.0
POLL_SECONDS = 0.1


class EcsServicePhysics:
    def __init__(
        self,
        ecs_backend: Any,
        elbv2_backend: Any,
        cluster: str,
        service: str,
        target_group_arn: str,
        tasks: list[tuple[RegionApp, dict[str, Any]]],
        ground_truth: GroundTruth,
    ):
        self.ecs_backend = ecs_backend
        self.elbv2_backend = elbv2_backend
        self.cluster = cluster
        self.service = service
        self.target_group_arn = target_group_arn
        self.tasks = tasks  # (app, the target it registers as), in task order
        self.running = len(tasks)
        self.ground_truth = ground_truth
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ecs-{service}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def desired(self) -> int | None:
        found = self.ecs_backend.services.get(f"{self.cluster}:{self.service}")
        return None if found is None else int(found.desired_count)

    def _group(self) -> Any | None:
        return self.elbv2_backend.target_groups.get(self.target_group_arn)

    def _run(self) -> None:
        starting_since: float | None = None
        while not self._stop.wait(POLL_SECONDS):
            desired = self.desired()
            if desired is None:
                continue
            wanted = max(0, min(desired, len(self.tasks)))
            if wanted < self.running:
                starting_since = None
                while self.running > wanted:
                    self.running -= 1
                    self._stop_task(*self.tasks[self.running])
                self._record(desired)
            elif wanted > self.running:
                starting_since = starting_since or time.monotonic()
                if time.monotonic() - starting_since >= TASK_START_SECONDS:
                    while self.running < wanted:
                        self._start_task(*self.tasks[self.running])
                        self.running += 1
                    starting_since = None
                    self._record(desired)

    def _stop_task(self, app: RegionApp, target: dict[str, Any]) -> None:
        group = self._group()
        if group is not None and target["Id"] in group.targets:
            group.deregister([target])
            self.ground_truth.record("target_registration", target_group=self.target_group_arn, target=target, registered=False)
        app.stop()

    def _start_task(self, app: RegionApp, target: dict[str, Any]) -> None:
        app.start()
        group = self._group()
        if group is not None:
            group.register([target])
            self.ground_truth.record("target_registration", target_group=self.target_group_arn, target=target, registered=True)

    def _record(self, desired: int) -> None:
        self.ground_truth.record("ecs_tasks", service=self.service, desired=desired, running=self.running)
