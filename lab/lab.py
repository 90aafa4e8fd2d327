"""The local lab: local cloud + physics + the two-region stack, started and stopped as one."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from werkzeug.serving import make_server

from drillkit_lab import moto_backends, template
from drillkit_lab.events import ExecutionEvents, rules_from_template
from drillkit_lab.extensions import LabExtensions, install_moto_patches, install_step_functions_patches, quiet_request_handler
from drillkit_lab.in_process import InProcessSession
from drillkit_lab.lambda_runtime import LambdaRuntime
from drillkit_lab.physics.alarms import AlarmEvaluator, MetricSource
from drillkit_lab.physics.dns import LabDNSServer
from drillkit_lab.physics.groundtruth import GroundTruth
from drillkit_lab.physics.network import Serving
from drillkit_lab.physics.replication import Replication
from drillkit_lab.physics.route53 import Route53Physics
from drillkit_lab.ports import PortMap
from drillkit_lab.schedules import ScheduleRunner
from drillkit_lab.stack import StackBuilder, all_addresses, wait_until
from drillkit_lab.stackspec import StackSpec, load_stack
from drillkit_lab.throttle import Route53Throttle

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOME_REGION = "us-east-1"
STACK_NAME = "drillkit-lab"


class Lab:
    def __init__(
        self,
        work_dir: Path | None = None,
        project_root: Path = PROJECT_ROOT,
        observe_batch_seconds: int = 60,
        stack: StackSpec | None = None,
    ):
        self.stack = stack or load_stack()
        self.project_root = project_root
        self.work_dir = (work_dir or Path.cwd() / ".drillkit").resolve()
        self.observe_batch_seconds = observe_batch_seconds
        self.info: dict[str, Any] = {}
        self._server: Any = None
        self._stoppers: list[Any] = []

    @property
    def lab_file(self) -> Path:
        return self.work_dir / "lab.json"

    def start(self, progress: Any = None) -> dict[str, Any]:
        say = progress or (lambda message: None)
        started = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        ground_truth_path = self.work_dir / "ground-truth.jsonl"
        ground_truth_path.unlink(missing_ok=True)
        ground_truth = GroundTruth(ground_truth_path)
        self._stoppers.append(ground_truth.close)

        install_moto_patches({HOME_REGION, *(r.region for r in self.stack.regions().values())})
        ports = PortMap(all_addresses(self.stack))
        physics = Route53Physics(moto_backends.route53(), ground_truth, ports)
        self._server = make_server("127.0.0.1", 0, None, threaded=True, request_handler=quiet_request_handler())
        port = self._server.server_address[1]
        endpoint = f"http://127.0.0.1:{port}"
        runtime = LambdaRuntime(endpoint, self.work_dir / "logs")
        extensions = LabExtensions(moto_backends.app(), physics, runtime, Route53Throttle(self.stack.route53.api_rate_scale))
        self._server.app = extensions
        os.environ["MOTO_PORT"] = str(port)  # moto's Step Functions interpreter calls Lambda here
        self._stoppers.append(runtime.close)
        self._stoppers.append(Serving(self._server, "local-cloud").stop)
        say(f"local cloud on {endpoint}")

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=HOME_REGION)
        client_session = InProcessSession(session, endpoint, extensions)
        # What the stack serves with first: its apps and target health checks then come up while the CPU creates what
        # they do not need: the stack's replicated data stores and template.yaml's resources.
        self._start_replication(ground_truth)  # before provisioning: UpdateTable ReplicaUpdates needs it
        builder = StackBuilder(self.stack, client_session, physics, ground_truth, ports)
        self._stoppers.append(builder.stop)
        stack_info = builder.create(moto_backends.region, moto_backends.rds(), self.work_dir)
        # Route 53's checkers start once the endpoints they check are up (as they did when the checks were created last).
        physics.start()
        # What the physics follows changes through these services' APIs: each part looks again after such a call.
        extensions.watch(("route53",), physics.look_again)
        for balancer in builder.load_balancers:
            extensions.watch(("ec2", "elasticloadbalancing"), balancer.look_again)
        for service in builder.services:
            extensions.watch(("ecs",), service.look_again)
        for peer in builder.peer_services:
            extensions.watch(("ec2",), peer.look_again)
        self._stoppers.append(physics.stop)
        extensions.database = builder.database
        if builder.database is not None:
            # A cluster stopped or started through the API: its availability is recorded as the call returns.
            extensions.watch(("rds",), builder.database.look_again)
        self._start_alarms(stack_info, physics, builder, client_session, ground_truth)
        dns_server = LabDNSServer(physics)
        dns_server.start()
        self._stoppers.append(dns_server.stop)
        # Ready once every health check has a status and every target its verdict (healthy or not: a stack may be
        # broken on purpose), as a stack that has been up for a while: a drill starts from a settled stack.
        wait_until(lambda: all(b.targets_judged() for b in builder.load_balancers), 15, "target health checks reporting")

        builder.create_data_stores()
        install_step_functions_patches()
        stack = template.LabStack(template.load(self.project_root / "template.yaml"), STACK_NAME, HOME_REGION)
        stack.parameters["ObserveBatchSeconds"] = str(self.observe_batch_seconds)
        created = template.provision(stack, client_session, self.project_root)
        for config in created["functions"].values():
            runtime.register(config)
        say(f"template.yaml: {len(created['functions'])} functions, {len(created['state_machines'])} state machine")
        # What EventBridge does in AWS: execution status changes reach the functions subscribed to them (the safety net).
        execution_events = ExecutionEvents(
            client_session,
            rules_from_template(stack, created["state_machines"]),
            lambda name, event: runtime.invoke(name, event),
            moto_backends.execution_statuses,
        )
        execution_events.start()
        self._stoppers.append(execution_events.stop)
        schedules = ScheduleRunner(client_session)  # EventBridge Scheduler: schedules fire when their time comes
        extensions.watch(("scheduler",), schedules.look_again)  # a schedule created, changed or deleted
        schedules.start()
        self._stoppers.append(schedules.stop)

        # A Route 53 checker that probed while the apps were starting took that failure as its status and needs its
        # failure threshold of passing checks to come back: start the checks' verdicts afresh from the settled
        # targets, so that no health check changes its status after the lab says it is ready. Done last, once the
        # lab's own start no longer holds the CPU: a check's request answered late is a failure.
        physics.settle_checks()
        checks = [r["health_check_id"] for r in stack_info["regions"].values() if r["health_check_id"]]
        wait_until(physics.checks_settled, 45, "health checks reporting")
        wait_until(lambda: all(physics.healthy(c) is not None for c in checks), 15, "health checks reporting")
        primary = stack_info["regions"]["primary"]
        say(
            f"stack {self.stack.name}: {stack_info['public_name']} -> {primary['dns_answer']} ({primary['region']}), "
            f"DNS on 127.0.0.1:{dns_server.port}"
        )

        self.info = {
            "endpoint_url": endpoint,
            "region": HOME_REGION,
            "dns": {"host": dns_server.host, "port": dns_server.port},
            "public_name": stack_info["public_name"],
            "hosted_zone": stack_info["hosted_zone"],
            "hosted_zone_id": stack_info["hosted_zone_id"],
            "http_port": ports.real(80),
            "ports": ports.as_dict(),
            "stack": stack_info["stack"],
            "global_cluster_id": stack_info["global_cluster_id"],
            "alarms": stack_info["alarms"],
            "tls_ca_pem": stack_info["tls_ca_pem"],
            "alerts": stack_info["alerts"],
            "automation_rules": stack_info["automation_rules"],
            "tables": stack_info["tables"],
            "buckets": stack_info["buckets"],
            "peering_connection_id": stack_info["peering_connection_id"],
            "backup_plan_id": stack_info["backup_plan_id"],
            "record_type": stack_info["record_type"],
            "ground_truth_log": str(ground_truth_path),
            "state_machines": {
                "drill": created["state_machines"]["DrillStateMachine"],
                "safety_net": created["state_machines"].get("SafetyNetStateMachine"),
                "gameday": created["state_machines"].get("GameDayStateMachine"),
            },
            "ledger_table": created["tables"]["LedgerTable"],
            # The role a game-day schedule's target runs with (the template's GameDayScheduleRole in AWS).
            "scheduler_role_arn": created["execution_role"],
            "evidence_bucket": created["buckets"]["EvidenceBucket"],
            "topic_arn": created["topics"]["DrillTopic"],
            "regions": stack_info["regions"],
            "pid": os.getpid(),
            "ready_seconds": round(time.monotonic() - started, 3),
        }
        # No worker starts before its function is invoked; the template they are forked from starts once the stack is up.
        runtime.prepare()
        # Written whole, then renamed: whoever waits for the file to exist never reads half of it.
        partial = self.lab_file.with_suffix(".json.partial")
        partial.write_text(json.dumps(self.info, indent=2))
        partial.replace(self.lab_file)
        return self.info

    def _start_alarms(
        self, stack_info: dict[str, Any], physics: Route53Physics, builder: StackBuilder, session: Any, ground_truth: GroundTruth
    ) -> None:
        """CloudWatch's alarm evaluation, for the regions the stack has alarms in."""
        alarm_regions = sorted({a["region"] for a in stack_info["alarms"]})
        if not alarm_regions:
            return
        evaluator = AlarmEvaluator(
            moto_backends.cloudwatch(),
            MetricSource(physics, builder.load_balancers),
            lambda region, topic, subject, message: session.client("sns", region_name=region).publish(
                TopicArn=topic, Subject=subject, Message=message
            ),
            ground_truth,
            alarm_regions,
        )
        evaluator.start()
        self._stoppers.append(evaluator.stop)

    def _start_replication(self, ground_truth: GroundTruth) -> None:
        """DynamoDB global tables and S3 replication, each table and bucket with its lag from the stack spec."""
        physics = Replication(moto_backends.dynamodb, moto_backends.s3, moto_backends.iam, ground_truth)
        for table in self.stack.tables:
            physics.tables.configure(table.name, table.replication_lag_seconds)
        for bucket in self.stack.buckets:
            physics.buckets.configure(bucket.name, bucket.replication_lag_seconds)
        physics.start()
        self._stoppers.append(physics.stop)

    def stop(self) -> None:
        for stopper in reversed(self._stoppers):
            try:
                stopper()
            except Exception as error:  # noqa: BLE001 stop everything, whatever one part says
                print(f"lab: while stopping: {error}", file=sys.stderr)
        self._stoppers.clear()
        self.lab_file.unlink(missing_ok=True)

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
