"""An ECS service brought to life: its tasks are the region's app servers and follow desiredCount.

The physics reads the service's desiredCount from the local cloud when an ECS call may have changed it (and every
half second at most: looks.py). When it drops,
ECS stops the extra tasks: each is deregistered from the target group first (as ECS does before
stopping a task behind a load balancer; the lab drains instantly), then its server stops, so its
address refuses connections. When it rises, the missing tasks start after a provisioning delay
and register with the target group again with the same Id and Port, so a describe after the drill
equals the one before it. The service can run at most the spec's `targets` tasks: those are the
addresses the lab has. moto's runningCount and pendingCount are kept to what really runs. Every
change goes to the ground truth.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from drillkit_lab.physics.apps import RegionApp
from drillkit_lab.physics.groundtruth import GroundTruth
from drillkit_lab.physics.looks import Looks

# Stands in for what ECS takes to place, pull, start and register a task (a Fargate task takes
# tens of seconds); short so that a drill's restore takes seconds.
TASK_START_SECONDS = 1.0


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
        self.tasks = tasks  # (app, the target it registers as), in task order; the first `running` run
        self.running = len(tasks)
        self.ground_truth = ground_truth
        self._provisioning_since: float | None = None
        self._looks = Looks()  # told by ECS calls (look_again)
        self._thread = threading.Thread(target=lambda: self._looks.run(self._look), name=f"ecs-{service}", daemon=True)

    def start(self) -> None:
        self.reconcile(time.monotonic())  # moto creates the service with every task pending; they already run
        self._thread.start()

    def stop(self) -> None:
        self._looks.stop()
        self._thread.join(timeout=3)

    def look_again(self) -> None:
        """An ECS call may have changed the service's desiredCount."""
        self._looks.look_again()

    def _service(self) -> Any | None:
        return self.ecs_backend.services.get(f"{self.cluster}:{self.service}")

    def _group(self) -> Any | None:
        return self.elbv2_backend.target_groups.get(self.target_group_arn)

    def _look(self) -> float | None:
        """Reconcile now; the seconds until the tasks being provisioned start (None: none are)."""
        now = time.monotonic()
        self.reconcile(now)
        return None if self._provisioning_since is None else self._provisioning_since + TASK_START_SECONDS - now

    def reconcile(self, now: float) -> None:
        """One look at desiredCount: extra tasks stop at once, missing ones start once provisioned."""
        service = self._service()
        if service is None:  # deleted: nothing left to follow
            return
        desired = int(service.desired_count)
        wanted = max(0, min(desired, len(self.tasks)))
        if wanted < self.running:
            self._provisioning_since = None
            self._stop_tasks(self.tasks[wanted : self.running])
            self.running = wanted
            self._record(desired)
        elif wanted > self.running:
            if self._provisioning_since is None:
                self._provisioning_since = now
            if now - self._provisioning_since >= TASK_START_SECONDS:
                self._provisioning_since = None
                self._start_tasks(self.tasks[self.running : wanted])
                self._record(desired)
        else:
            self._provisioning_since = None
        self._sync_counts(service, wanted)

    def _stop_tasks(self, tasks: list[tuple[RegionApp, dict[str, Any]]]) -> None:
        # Every stopping task leaves the target group before any server goes away, so the ALB never
        # forwards to a closed socket.
        group = self._group()
        for _, target in tasks:
            if group is not None and target["Id"] in group.targets:
                group.deregister([target])
                self._record_registration(target, registered=False)
        for app, _ in tasks:
            app.stop()

    def _start_tasks(self, tasks: list[tuple[RegionApp, dict[str, Any]]]) -> None:
        for app, target in tasks:
            try:
                app.start()
            except OSError as error:  # its address is taken: like ECS, try again with a fresh start (after the delay)
                self.ground_truth.record("ecs_task_failed", service=self.service, target=target, error=str(error))
                return
            self.running += 1
            group = self._group()
            if group is not None:
                group.register([target])
                self._record_registration(target, registered=True)

    def _sync_counts(self, service: Any, wanted: int) -> None:
        """What describe_services and describe_clusters show: tasks that run, and those still starting."""
        pending = max(0, wanted - self.running)
        if (service.running_count, service.pending_count) != (self.running, pending):
            service.running_count, service.pending_count = self.running, pending
            for deployment in service.deployments[:1]:
                deployment.update(desiredCount=service.desired_count, runningCount=self.running, pendingCount=pending)
        cluster = self.ecs_backend.clusters.get(self.cluster)
        if cluster is not None:
            # Recounted rather than adjusted: update_service adjusts these from another thread.
            members = [s for s in list(self.ecs_backend.services.values()) if s.cluster_name == self.cluster]
            cluster.running_tasks_count = sum(s.running_count for s in members)
            cluster.pending_tasks_count = sum(s.pending_count for s in members)

    def _record_registration(self, target: dict[str, Any], registered: bool) -> None:
        self.ground_truth.record("target_registration", target_group=self.target_group_arn, target=target, registered=registered)

    def _record(self, desired: int) -> None:
        self.ground_truth.record("ecs_tasks", service=self.service, desired=desired, running=self.running)
