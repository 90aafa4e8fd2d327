"""Start and follow drills from a workstation: the CLI's side of the state machine.

A Deployment says where drillkit runs: the local lab (lab.json) or a deployed stack
(its CloudFormation outputs). Nothing here changes the target environment; it only
starts executions, reads the ledger and downloads reports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from drillkit.errors import DeploymentNotFound, DrillRejected, NotAwaitingApproval, error_message
from drillkit.ledger import Ledger
from drillkit.record import DrillRecord, Phase, new_drill_id
from drillkit.spec import Scenario


@dataclass(frozen=True)
class Deployment:
    state_machine_arn: str
    ledger_table: str
    evidence_bucket: str
    region: str
    endpoint_url: str | None = None
    network: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def session(self) -> boto3.session.Session:
        if self.endpoint_url:
            return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=self.region)
        return boto3.session.Session(region_name=self.region)

    def client(self, service: str) -> Any:
        return self.session().client(
            service, endpoint_url=self.endpoint_url, config=Config(retries={"mode": "adaptive", "max_attempts": 5})
        )

    def ledger(self) -> Ledger:
        """The deployment's ledger, read with this workstation's credentials."""
        return Ledger(self.ledger_table, self.session().resource("dynamodb", endpoint_url=self.endpoint_url))


def from_lab_file(path: Path, endpoint_url: str | None = None) -> Deployment:
    if not path.exists():
        raise DeploymentNotFound(f"no lab is running: {path} does not exist (start one with `drillkit lab up`)")
    lab = json.loads(path.read_text())
    if endpoint_url and endpoint_url.rstrip("/") != lab["endpoint_url"].rstrip("/"):
        raise DeploymentNotFound(f"--endpoint {endpoint_url} is not the lab described in {path} ({lab['endpoint_url']})")
    return Deployment(
        state_machine_arn=lab["state_machines"]["drill"],
        ledger_table=lab["ledger_table"],
        evidence_bucket=lab["evidence_bucket"],
        region=lab["region"],
        endpoint_url=lab["endpoint_url"],
        network={
            "resolver": lab["dns"],
            "ports": {int(k): v for k, v in lab["ports"].items()},
            **({"ca_pem": lab["tls_ca_pem"]} if lab.get("tls_ca_pem") else {}),
        },
        label=f"local lab at {lab['endpoint_url']}",
    )


def from_stack(stack_name: str, region: str | None = None) -> Deployment:
    session = boto3.session.Session(region_name=region)
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise DeploymentNotFound(f"stack {stack_name}: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [k for k in ("DrillStateMachineArn", "LedgerTableName", "EvidenceBucketName") if k not in outputs]
    if missing:
        raise DeploymentNotFound(f"stack {stack_name} is not a drillkit stack: outputs {', '.join(missing)} are missing")
    return Deployment(
        state_machine_arn=outputs["DrillStateMachineArn"],
        ledger_table=outputs["LedgerTableName"],
        evidence_bucket=outputs["EvidenceBucketName"],
        region=session.region_name or "us-east-1",
        label=f"stack {stack_name} in {session.region_name}",
    )


def drill_request(deployment: Deployment, scenario: Scenario, requested_by: str) -> dict[str, Any]:
    """The state machine's input for a validated scenario, with a fresh drill id and the deployment's network."""
    return {
        "drill_id": new_drill_id(scenario.name),
        "requested_by": requested_by,
        "scenario": scenario.model_dump(mode="json"),
        "network": deployment.network,
    }


def start(deployment: Deployment, request: dict[str, Any]) -> str:
    sfn = deployment.client("stepfunctions")
    return sfn.start_execution(stateMachineArn=deployment.state_machine_arn, name=request["drill_id"], input=json.dumps(request))[
        "executionArn"
    ]


@dataclass
class Progress:
    phase: Phase | None = None
    injected_at: float | None = None
    milestones: dict[str, float] = field(default_factory=dict)


def follow(
    deployment: Deployment,
    drill_id: str,
    execution_arn: str,
    on_change: Callable[[str, Any], None],
    poll_seconds: float = 0.25,
    timeout_seconds: float = 3600,
) -> dict[str, Any]:
    """Poll the drill record and the execution; report phases and milestones as they appear."""
    sfn = deployment.client("stepfunctions")
    ledger = deployment.ledger()
    seen = Progress()
    deadline = time.monotonic() + timeout_seconds
    while True:
        record = ledger.load(drill_id)  # None until preflight has written it
        if record is not None:
            _report_progress(record, seen, on_change)
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        if time.monotonic() > deadline:
            raise TimeoutError(f"drill {drill_id} still running after {timeout_seconds:g}s")
        time.sleep(poll_seconds)


def _report_progress(record: DrillRecord, seen: Progress, on_change: Callable[[str, Any], None]) -> None:
    if record.phase != seen.phase:
        seen.phase = record.phase
        on_change("phase", record.phase)
    if record.injection is not None and seen.injected_at is None:
        seen.injected_at = record.injection.t_inject
        on_change("injected", seen.injected_at)
    for name, t in sorted(record.milestones.items(), key=lambda kv: kv[1]):
        if name not in seen.milestones:
            seen.milestones[name] = t
            on_change("milestone", (name, t - (seen.injected_at or t)))


def download_report(deployment: Deployment, drill_id: str, destination: Path) -> Path:
    s3 = deployment.client("s3")
    prefix = f"drills/{drill_id}/"
    target = destination / drill_id
    target.mkdir(parents=True, exist_ok=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=deployment.evidence_bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(prefix) :]
            if relative.startswith("samples/"):
                continue  # the per-batch parts are merged into samples.jsonl
            (target / relative).write_bytes(s3.get_object(Bucket=deployment.evidence_bucket, Key=obj["Key"])["Body"].read())
    return target


def execution_error(execution: dict[str, Any]) -> tuple[str, str]:
    return execution.get("error") or execution["status"], error_message(execution.get("cause"))


def with_aws_of(deployment: Deployment, work: Callable[[], Any]) -> Any:
    """Run drill code (which makes its clients through drillkit.aws) against the deployment's cloud."""
    import os

    from drillkit import aws

    saved = {
        name: os.environ.get(name)
        for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ["AWS_DEFAULT_REGION"] = deployment.region
    if deployment.endpoint_url:
        os.environ.update(AWS_ENDPOINT_URL=deployment.endpoint_url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    aws.client.cache_clear()
    aws.forget_roles()
    try:
        return work()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        aws.client.cache_clear()
        aws.forget_roles()


def answer_approval(deployment: Deployment, drill_id: str, approve: bool, by: str, reason: str = "") -> dict[str, Any]:
    """Approve or reject a drill waiting on a protected environment: answer the machine's task token.

    The decision is recorded first with a conditional write, so that two people answering at once
    cannot both win; the token is then handed back to Step Functions.
    """
    ledger = deployment.ledger()
    record = ledger.load(drill_id)
    if record is None:
        raise NotAwaitingApproval(f"DRILL_ID: no drill {drill_id} in this deployment")
    approval = record.approval
    if approval is None or approval.status != "pending":
        state = approval.status if approval else f"it never asked for one (phase {record.phase.value})"
        raise NotAwaitingApproval(f"DRILL_ID: drill {drill_id} is not waiting for approval: {state}")
    if approval.expires_at < time.time():
        raise NotAwaitingApproval(f"DRILL_ID: the approval window of drill {drill_id} has closed; the drill ends ABORTED")
    requested_by = record.context.requested_by
    if approve and requested_by and by == requested_by:
        raise NotAwaitingApproval(f"--by: {by} requested drill {drill_id} and cannot also approve it")
    decided_at = time.time()
    decision = "approved" if approve else "rejected"
    if not ledger.decide_approval(drill_id, decision, by, decided_at, reason):
        raise NotAwaitingApproval(f"DRILL_ID: drill {drill_id} was answered by someone else meanwhile")
    sfn = deployment.client("stepfunctions")
    token = approval.task_token
    if approve:
        sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": by, "approved_at": decided_at}))
    else:
        cause = f"rejected by {by}" + (f": {reason}" if reason else "")
        sfn.send_task_failure(taskToken=token, error=DrillRejected.__name__, cause=cause[:32768])
    return {"drill_id": drill_id, "decision": decision, "by": by, "at": decided_at}


def caller(deployment: Deployment) -> str | None:
    """Who is answering, as AWS knows them (the caller's ARN), for the record."""
    try:
        return str(deployment.client("sts").get_caller_identity()["Arn"])
    except (BotoCoreError, ClientError):
        return None
