"""One running lab for the lab tests (a child process, exactly as `drillkit demo` starts it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.resolver
import pytest

from drillkit import client
from drillkit.cli import LabProcess

pytestmark = pytest.mark.lab


@dataclass
class RunningLab:
    work_dir: Path
    info: dict
    deployment: client.Deployment

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
        dynamodb = self.deployment.session().resource("dynamodb", endpoint_url=self.deployment.endpoint_url)
        return dynamodb.Table(self.deployment.ledger_table).scan()["Items"]

    def executions(self) -> list[dict]:
        sfn = self.deployment.client("stepfunctions")
        return sfn.list_executions(stateMachineArn=self.deployment.state_machine_arn)["executions"]


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    work_dir = tmp_path_factory.mktemp("lab")
    process = LabProcess(work_dir)
    deployment = process.start()
    try:
        yield RunningLab(work_dir, json.loads(process.lab_file.read_text()), deployment)
    finally:
        process.stop()
