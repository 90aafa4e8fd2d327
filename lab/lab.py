"""The local lab: local cloud + physics + the two-region stack, started and stopped as one."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from werkzeug.serving import make_server

from drillkit_lab import template
from drillkit_lab.events import ExecutionEvents, install_stop_at_once, rules_from_template
from drillkit_lab.extensions import LabExtensions
from drillkit_lab.lambda_runtime import LambdaRuntime
from drillkit_lab.physics.alarms import AlarmEvaluator, MetricSource, install_describe_alarm_history
from drillkit_lab.physics.alb import Backends, install_describe_target_health, install_target_draining
from drillkit_lab.physics.database import install_global_cluster_state
from drillkit_lab.physics.dns import LabDNSServer
from drillkit_lab.physics.groundtruth import GroundTruth
from drillkit_lab.physics.route53 import Route53Physics
from drillkit_lab.ports import PortMap
from drillkit_lab.stack import StackBuilder, all_addresses, wait_until
from drillkit_lab.stackspec import StackSpec, load_stack
from drillkit_lab.throttle import Route53Throttle

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOME_REGION = "us-east-1"
STACK_NAME = "drillkit-lab"


def _enable_step_functions_execution() -> None:
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True


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

        # The lab registers the images it launches; loading moto's catalogue of public AMIs costs seconds and memory.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        _trim_instance_type_offerings({HOME_REGION, *(r.region for r in self.stack.regions().values())})
        _enable_step_functions_execution()
        install_stop_at_once()
        install_describe_alarm_history()
        install_describe_target_health()
        install_target_draining()
        install_global_cluster_state()
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from moto.route53.models import route53_backends

        ports = PortMap(all_addresses(self.stack))
        physics = Route53Physics(route53_backends[template.ACCOUNT_ID]["aws"], ground_truth, ports)
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        class QuietRequestHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                return

        self._server = make_server("127.0.0.1", 0, None, threaded=True, request_handler=QuietRequestHandler)
        port = self._server.server_address[1]
        endpoint = f"http://127.0.0.1:{port}"
        runtime = LambdaRuntime(endpoint, self.work_dir / "logs")
        extensions = LabExtensions(
            DomainDispatcherApplication(create_backend_app), physics, runtime, Route53Throttle(self.stack.route53.api_rate_scale)
        )
        self._server.app = extensions
        os.environ["MOTO_PORT"] = str(port)  # moto's Step Functions interpreter calls Lambda here
        threading.Thread(target=self._server.serve_forever, name="local-cloud", daemon=True).start()
        self._stoppers.append(runtime.close)
        self._stoppers.append(self._server.shutdown)
        say(f"local cloud on {endpoint}")

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=HOME_REGION)
        client_session = _EndpointSession(session, endpoint)
        stack = template.LabStack(template.load(self.project_root / "template.yaml"), STACK_NAME, HOME_REGION)
        stack.parameters["ObserveBatchSeconds"] = str(self.observe_batch_seconds)
        created = template.provision(stack, client_session, self.project_root)
        for config in created["functions"].values():
            runtime.register(config)
        say(f"template.yaml: {len(created['functions'])} functions, {len(created['state_machines'])} state machine")
        # What EventBridge does in AWS: execution status changes reach the functions subscribed to them (the safety net).
        execution_events = ExecutionEvents(
            client_session, rules_from_template(stack, created["state_machines"]), lambda name, event: runtime.invoke(name, event)
        )
        execution_events.start()
        self._stoppers.append(execution_events.stop)

        physics.start()
        self._stoppers.append(physics.stop)
        builder = StackBuilder(self.stack, client_session, physics, ground_truth, ports)
        self._stoppers.append(builder.stop)
        stack_info = builder.create(_backends, _rds_backends(), self.work_dir)
        extensions.database = builder.database
        alarm_regions = sorted({a["region"] for a in stack_info["alarms"]})
        if alarm_regions:
            evaluator = AlarmEvaluator(
                _cloudwatch_backends(),
                MetricSource(physics, builder.load_balancers),
                lambda region, topic, subject, message: client_session.client("sns", region_name=region).publish(
                    TopicArn=topic, Subject=subject, Message=message
                ),
                ground_truth,
                alarm_regions,
            )
            evaluator.start()
            self._stoppers.append(evaluator.stop)
        dns_server = LabDNSServer(physics)
        dns_server.start()
        self._stoppers.append(dns_server.stop)
        primary = stack_info["regions"]["primary"]
        checks = [r["health_check_id"] for r in stack_info["regions"].values() if r["health_check_id"]]
        # Ready once every health check has a status (healthy or not: a stack may be broken on purpose).
        wait_until(lambda: all(physics.healthy(c) is not None for c in checks), 15, "health checks reporting")
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
            "record_type": stack_info["record_type"],
            "ground_truth_log": str(ground_truth_path),
            "state_machines": {
                "drill": created["state_machines"]["DrillStateMachine"],
                "safety_net": created["state_machines"].get("SafetyNetStateMachine"),
            },
            "ledger_table": created["tables"]["LedgerTable"],
            "evidence_bucket": created["buckets"]["EvidenceBucket"],
            "topic_arn": created["topics"]["DrillTopic"],
            "regions": stack_info["regions"],
            "pid": os.getpid(),
            "ready_seconds": round(time.monotonic() - started, 3),
        }
        # No worker starts before its function is invoked; the template they are forked from starts once the stack is up.
        runtime.prepare()
        self.lab_file.write_text(json.dumps(self.info, indent=2))
        return self.info

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


def _backends(region: str) -> Backends:
    from moto.awslambda.models import lambda_backends
    from moto.ec2.models import ec2_backends
    from moto.ecs.models import ecs_backends
    from moto.elbv2.models import elbv2_backends

    account = template.ACCOUNT_ID
    return Backends(
        ec2=ec2_backends[account][region],
        elbv2=elbv2_backends[account][region],
        awslambda=lambda_backends[account][region],
        ecs=ecs_backends[account][region],
    )


def _trim_instance_type_offerings(regions: set[str]) -> None:
    """Load moto's EC2 instance-type offerings only for the lab's regions (about 40 MB less).

    Must run before moto's EC2 models are imported; describe_instance_type_offerings for other
    regions then answers empty, which no drill asks for.
    """
    import moto.utilities.utils as moto_utils

    if getattr(moto_utils.load_resource, "_lab", False):
        return
    original = moto_utils.load_resource

    def load_resource(path: str, *args: Any, **kwargs: Any) -> Any:
        if "instance_type_offerings" in path and not any(f"/{region}." in path for region in regions):
            return []
        return original(path, *args, **kwargs)

    load_resource._lab = True  # type: ignore[attr-defined]
    moto_utils.load_resource = load_resource


def _cloudwatch_backends() -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[template.ACCOUNT_ID]


def _rds_backends() -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[template.ACCOUNT_ID]


class _EndpointSession:
    """A boto3 session whose clients all talk to the lab endpoint."""

    def __init__(self, session: boto3.session.Session, endpoint: str):
        self._session = session
        self._endpoint = endpoint

    def client(self, service: str, **kwargs: Any) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint, **kwargs)
