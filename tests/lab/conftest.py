"""One running lab for the lab tests (a child process, exactly as `drillkit demo` starts it)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import dns.resolver
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from drillkit import client
from drillkit.cli import LabChild, LabProcess, start_lab_process
from drillkit_lab.launcher import LabLauncher

pytestmark = pytest.mark.lab


@dataclass
class RunningLab:
    work_dir: Path
    info: dict
    deployment: client.Deployment
    _status_read_at: float = 0.0
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)  # made once: a test polls with them

    @property
    def ground_truth(self) -> list[dict]:
        lines = Path(self.info["ground_truth_log"]).read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def primary_inverted(self) -> bool:
        check_id = self.info["regions"]["primary"]["health_check_id"]
        check = self.deployment.client("route53").get_health_check(HealthCheckId=check_id)["HealthCheck"]
        return bool(check["HealthCheckConfig"].get("Inverted", False))

    def dns_answer(self) -> list[str]:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [self.info["dns"]["host"]]
        resolver.port = self.info["dns"]["port"]
        resolver.lifetime = 2
        return sorted(r.address for r in resolver.resolve(self.info["public_name"], "A"))

    def ledger_items(self) -> list[dict]:
        return self.deployment.dynamodb().Table(self.deployment.ledger_table).scan()["Items"]

    def client(self, service: str, region: str = "us-east-1") -> Any:
        # The lab throttles Route 53 as AWS does (GetHealthCheckStatus: 1 a second): the tests' own polls wait their turn.
        if (service, region) not in self._clients:
            config = Config(retries={"mode": "standard", "max_attempts": 10}) if service == "route53" else None
            self._clients[service, region] = self.deployment.session().client(
                service, endpoint_url=self.deployment.endpoint_url, region_name=region, config=config
            )
        return self._clients[service, region]

    def region(self, role: str) -> dict:
        return self.info["regions"][role]

    def health_check_healthy(self, role: str = "primary") -> bool | None:
        """What GetHealthCheckStatus says, by Route 53's 18% rule (Inverted applied)."""
        check_id = self.region(role)["health_check_id"]
        route53 = self.client("route53")
        observations = self.health_check_status(check_id)
        inverted = route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"].get("Inverted", False)
        if not observations:
            return None
        healthy = sum(o["StatusReport"]["Status"].startswith("Success") for o in observations) / len(observations) > 0.18
        return healthy != inverted

    def get(self, address: str, logical_port: int = 80, path: str = "/", timeout: float = 1.0) -> tuple[int, dict]:
        """A plain HTTP GET to an address, on the real port behind a logical one."""
        connection = http.client.HTTPConnection(address, self.info["ports"][str(logical_port)], timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            try:
                return response.status, json.loads(body or b"{}")
            except ValueError:
                return response.status, {"text": body.decode(errors="replace")}
        finally:
            connection.close()

    def events_since(self, t: float, event: str, **match: Any) -> list[dict]:
        found = [e for e in self.ground_truth if e["event"] == event and e["t"] >= t]
        return [e for e in found if all(e.get(k) == v for k, v in match.items())]

    def observations(self, role: str) -> list[dict]:
        return self.health_check_status(self.region(role)["health_check_id"])

    def health_check_status(self, check_id: str) -> list[dict]:
        """GetHealthCheckStatus, paced to its sustained rate (1 a second) so that polling tests are not throttled."""
        wait = self._status_read_at + 1.0 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._status_read_at = time.monotonic()
        return self.client("route53").get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]

    def drill_phase(self, drill_id: str) -> str | None:
        """The drill's phase (None before preflight wrote its record): what a test polls while it waits, read as the
        CLI's follower reads it (a projection: the whole record is tens of kilobytes by the end of a drill)."""
        progress = self.deployment.ledger().progress(drill_id)
        return progress.phase.value if progress else None

    def drill_record(self, drill_id: str) -> dict:
        """The drill's record as JSON ({} before preflight wrote it)."""
        record = self.deployment.ledger().load(drill_id)
        return record.model_dump(mode="json") if record else {}

    def sabotage(self, function: str, **spec: Any) -> dict:
        """Break one drillkit function (template logical id) in the lab: kind crash, timeout or throttle; mend=True mends it."""
        body = json.dumps({"function": function, **spec}).encode()
        request = urllib.request.Request(self.deployment.endpoint_url + "/_lab/sabotage", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def executions(self) -> list[dict]:
        sfn = self.deployment.client("stepfunctions")
        return sfn.list_executions(stateMachineArn=self.deployment.state_machine_arn)["executions"]


# -- what the drill may touch, described through the AWS APIs ----------------------------------
def _quietly(call: Any, default: Any = None) -> Any:
    try:
        return call()
    except ClientError:
        return default


def snapshot(lab: RunningLab) -> dict[str, Any]:
    described: dict[str, Any] = {}
    route53 = lab.client("route53")
    for role in ("primary", "standby"):
        region = lab.region(role)
        name = region["region"]
        if region.get("health_check_id"):
            described[f"{role}.health_check"] = route53.get_health_check(HealthCheckId=region["health_check_id"])["HealthCheck"][
                "HealthCheckConfig"
            ]
        if region.get("alb_arn"):
            elbv2, ec2 = lab.client("elbv2", name), lab.client("ec2", name)
            balancer = elbv2.describe_load_balancers(LoadBalancerArns=[region["alb_arn"]])["LoadBalancers"][0]
            described[f"{role}.alb.security_groups"] = sorted(balancer["SecurityGroups"])
            described[f"{role}.targets"] = sorted(
                (t["Target"]["Id"], t["Target"].get("Port"), t["Target"].get("AvailabilityZone"))
                for t in elbv2.describe_target_health(TargetGroupArn=region["target_group_arn"])["TargetHealthDescriptions"]
            )
            vpc = [{"Name": "vpc-id", "Values": [region["vpc_id"]]}]
            groups = ec2.describe_security_groups(Filters=vpc)["SecurityGroups"]
            described[f"{role}.security_groups"] = sorted((g["GroupId"], g["GroupName"]) for g in groups)
            described[f"{role}.alb.ingress"] = sorted(
                json.dumps(g["IpPermissions"], sort_keys=True) for g in groups if g["GroupId"] in balancer["SecurityGroups"]
            )
            acls = ec2.describe_network_acls(Filters=vpc)["NetworkAcls"]
            described[f"{role}.network_acls"] = sorted(
                (acl["NetworkAclId"], tuple(sorted(a["SubnetId"] for a in acl.get("Associations", [])))) for acl in acls
            )
        for target in region.get("targets") or []:
            if str(target["Id"]).startswith("arn:aws:lambda:"):
                concurrency = lab.client("lambda", name).get_function_concurrency(FunctionName=target["Id"])
                described[f"{role}.lambda_concurrency"] = concurrency.get("ReservedConcurrentExecutions")
        if region.get("function_arn"):
            concurrency = lab.client("lambda", name).get_function_concurrency(FunctionName=region["function_arn"])
            described[f"{role}.lambda_concurrency"] = concurrency.get("ReservedConcurrentExecutions")
        if region.get("ecs_service"):
            service = lab.client("ecs", name).describe_services(cluster=region["ecs_cluster"], services=[region["ecs_service"]])
            described[f"{role}.ecs_desired"] = service["services"][0]["desiredCount"]
        if region.get("db_cluster_id"):
            cluster = lab.client("rds", name).describe_db_clusters(DBClusterIdentifier=region["db_cluster_id"])["DBClusters"][0]
            described[f"{role}.db_status"] = cluster["Status"]
    if lab.info.get("global_cluster_id"):
        rds = lab.client("rds", lab.region("primary")["region"])
        members = rds.describe_global_clusters(GlobalClusterIdentifier=lab.info["global_cluster_id"])["GlobalClusters"][0]
        described["global.writer"] = [m["DBClusterArn"] for m in members["GlobalClusterMembers"] if m["IsWriter"]]
    return described


def run_drill(lab: RunningLab, scenario: dict, reports: Path) -> dict:
    """Start a drill as the CLI does, follow it to the end, return its report.json."""
    from drillkit.spec import parse_scenario

    request = client.drill_request(lab.deployment, parse_scenario(scenario), requested_by="test")
    execution_arn = client.start(lab.deployment, request)
    execution = client.follow(lab.deployment, request["drill_id"], execution_arn, lambda *_: None, timeout_seconds=300)
    assert execution["status"] == "SUCCEEDED", client.execution_error(execution)
    folder = client.download_report(lab.deployment, request["drill_id"], reports)
    return json.loads((folder / "report.json").read_text())


DRILL_POLL = 0.25  # seconds between polls of a drill's phase or an execution's status (wait_for's ``every``)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> float:
    """Poll until the condition holds; returns when (epoch seconds). Fails the test on timeout.

    ``every``: the poll's period. A condition that asks the lab's APIs (a drill's phase, an execution's status) costs
    the lab and the test a few milliseconds of CPU each time, which the drills of the other workers lack: such waits
    poll every 0.25 s (DRILL_POLL); 50 ms is for conditions whose time the test measures.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:g}s")


# This worker's labs are forked from one launcher that has imported the lab and parsed the API models once
# (drillkit_lab/launcher.py): about 1.3 s of CPU less, and ready as much sooner, for each of the run's twenty-odd
# labs. DRILLKIT_TEST_FORK_LABS=0 starts each as a new process, as `drillkit demo` does.
# (Linux only: the launcher hands out pidfds.)
FORK_LABS = os.environ.get("DRILLKIT_TEST_FORK_LABS", "1") != "0" and hasattr(os, "pidfd_open")
_launcher: LabLauncher | None = None


def spawn_lab(arguments: list[str], output: TextIO | None) -> LabChild:
    global _launcher
    if not FORK_LABS:
        return start_lab_process(arguments, output)
    if _launcher is None:
        _launcher = LabLauncher()
    return _launcher.spawn(arguments, output)


@pytest.fixture(scope="session", autouse=True)
def lab_launcher() -> Iterator[None]:
    """Closes this worker's launcher once its labs are stopped (set up first, torn down last)."""
    yield
    if _launcher is not None:
        _launcher.close()


@contextlib.contextmanager
def running_lab(work_dir: Path, stack: Path | None = None) -> Iterator[RunningLab]:
    process = LabProcess(work_dir, stack, spawn=spawn_lab)
    # Ready in seconds alone; several labs starting at once on a busy 2-core machine take longer.
    deployment = process.start(timeout=180)
    try:
        yield RunningLab(work_dir, json.loads(process.lab_file.read_text()), deployment)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    with running_lab(tmp_path_factory.mktemp("lab")) as started:
        yield started


def store_truth(lab: RunningLab, replicated_as: str, drill_id: str, at: float, interval: float) -> float:
    """The ground truth of a store's recovery point: what losing the primary at ``at`` would have lost of this
    drill's heartbeats (``replicated_as``: the table, or the source bucket) if it wrote without pause: the time the
    last heartbeat written before ``at`` took to reach the standby (the first one after ``at`` when sampling paused
    there); with nothing delivered, the gap between the newest heartbeat written and the newest visible."""
    from drillkit_lab.truth import replications

    delivered = [
        r for r in replications(Path(lab.info["ground_truth_log"]), name=replicated_as) if drill_id in r.key and not r.deleted
    ]
    written = [r.written_at for r in delivered if r.written_at <= at]
    visible = [r.written_at for r in delivered if r.visible_at <= at]
    held = max(written) - max(visible, default=min(written)) if written else 0.0
    before = [r for r in delivered if r.written_at <= at]
    nearest = max(before, key=lambda r: r.written_at) if before else None
    if nearest is None or at - nearest.written_at > 1.5 * interval:
        nearest = min((r for r in delivered if r.written_at >= at), key=lambda r: r.written_at, default=None)
    return nearest.visible_at - nearest.written_at if nearest is not None else held
