"""Start and follow drills from a workstation: the CLI's side of the state machine.

A Deployment says where drillkit runs: the local lab (lab.json) or a deployed stack
(its CloudFormation outputs). Nothing here changes the target environment; it only
starts executions, reads the ledger and downloads reports.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict

from drillkit import aws, clock
from drillkit.errors import (
    AwsCallFailed,
    DeploymentNotFound,
    DrillError,
    DrillNotFound,
    DrillNotRunning,
    DrillRejected,
    EnvironmentLocked,
    NotAwaitingApproval,
    error_message,
)
from drillkit.ledger import UNDO_RESTORED, Ledger
from drillkit.model import UndoRecord
from drillkit.record import Phase, StopRequested, new_drill_id
from drillkit.spec import Scenario

CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5})


@dataclass(frozen=True)
class Deployment:
    state_machine_arn: str
    ledger_table: str
    evidence_bucket: str
    region: str
    endpoint_url: str | None = None
    network: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    gameday_state_machine_arn: str | None = None  # None: a lab or stack from before game-days
    scheduler_role_arn: str | None = None  # the role an EventBridge Scheduler schedule starts game-days with
    # One session, one client per service and one DynamoDB resource, each made on first use: making any of them reads
    # and parses the service's model (tens of ms of CPU), and a follow asks for a client on every poll of the drill.
    _made: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _made_lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)

    def gameday_machine(self) -> str:
        if not self.gameday_state_machine_arn:
            raise DeploymentNotFound(f"{self.label} has no game-day machine (deploy or restart it from this version)")
        return self.gameday_state_machine_arn

    def scheduler_role(self) -> str:
        if not self.scheduler_role_arn:
            raise DeploymentNotFound(f"{self.label} has no game-day schedule role (deploy or restart it from this version)")
        return self.scheduler_role_arn

    def _once(self, key: str, make: Callable[[], Any]) -> Any:
        """What ``make`` made the first time ``key`` was asked for (a boto3 session is not for several threads at once;
        its clients and resources may be shared)."""
        with self._made_lock:
            if key not in self._made:
                self._made[key] = make()
            return self._made[key]

    def session(self) -> boto3.session.Session:
        """This deployment's session, the same one each time."""
        lab_key = ("testing", "testing") if self.endpoint_url else None
        session: boto3.session.Session = self._once("session", lambda: aws.new_session(self.region, lab_key))
        return session

    def client(self, service: str) -> Any:
        """This deployment's client for a service, made once."""
        make = lambda: self.session().client(service, endpoint_url=self.endpoint_url, config=CLIENT_CONFIG)  # noqa: E731
        return self._once(f"client {service}", make)

    def ledger(self) -> Ledger:
        """The deployment's ledger, read with this workstation's credentials."""
        return Ledger(self.ledger_table, self.dynamodb())

    def dynamodb(self) -> Any:
        """This deployment's DynamoDB resource, made once."""
        return self._once("dynamodb resource", lambda: self.session().resource("dynamodb", endpoint_url=self.endpoint_url))


def live_lab(path: Path) -> dict[str, Any]:
    """The lab a lab file describes, once it is known to be alive: a one-line DeploymentNotFound naming the file otherwise."""
    if not path.exists():
        raise DeploymentNotFound(f"no lab is running: {path} does not exist (start one with `drillkit lab up`)")
    try:
        lab = json.loads(path.read_text())
        endpoint = str(lab["endpoint_url"])
        host, port = urllib.parse.urlsplit(endpoint).hostname, urllib.parse.urlsplit(endpoint).port
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DeploymentNotFound(f"{path} is not a lab description ({error}); start a lab with `drillkit lab up`") from None
    try:
        socket.create_connection((host or "127.0.0.1", port or 80), timeout=2).close()
    except OSError:
        raise DeploymentNotFound(
            f"{path} is stale: the lab it describes ({endpoint}, pid {lab.get('pid')}) is not answering; "
            f"start one with `drillkit lab up`"
        ) from None
    return dict(lab)


def from_lab_file(path: Path, endpoint_url: str | None = None) -> Deployment:
    lab = live_lab(path)
    if endpoint_url and endpoint_url.rstrip("/") != lab["endpoint_url"].rstrip("/"):
        raise DeploymentNotFound(f"--endpoint {endpoint_url} is not the lab described in {path} ({lab['endpoint_url']})")
    try:
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
            gameday_state_machine_arn=lab["state_machines"].get("gameday"),
            scheduler_role_arn=lab.get("scheduler_role_arn"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DeploymentNotFound(
            f"{path} is not a lab description (missing {error}); start a lab with `drillkit lab up`"
        ) from None


def from_stack(stack_name: str, region: str | None = None) -> Deployment:
    session = aws.new_session(region)
    try:
        with aws.aws_call("DescribeStacks", stack_name):
            stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except DrillError as error:
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
        gameday_state_machine_arn=outputs.get("GameDayStateMachineArn"),
        scheduler_role_arn=outputs.get("GameDayScheduleRoleArn"),
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


class HistoryEvent(BaseModel):
    """One event of an execution's history (GetExecutionHistory), as the CLI shows it: a state entered or exited."""

    model_config = ConfigDict(frozen=True)
    id: int
    type: str
    timestamp: datetime
    state: str | None = None  # the state's name, on StateEntered/StateExited events

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> HistoryEvent:
        details = raw.get("stateEnteredEventDetails") or raw.get("stateExitedEventDetails") or {}
        return cls(id=raw["id"], type=raw["type"], timestamp=raw["timestamp"], state=details.get("name"))

    @property
    def entered(self) -> bool:
        return self.type.endswith("StateEntered")

    @property
    def exited(self) -> bool:
        return self.type.endswith("StateExited")

    @property
    def kind(self) -> str:
        """The state's type (Task, Choice, Wait, ...) from the event's type."""
        return self.type.removesuffix("StateEntered").removesuffix("StateExited")

    @property
    def ends_execution(self) -> bool:
        return self.type in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


class HistoryReader:
    """Reads an execution's history again and again and hands back only the events not seen yet, in order.

    GetExecutionHistory has no "since", but it pages newest first (reverseOrder): each read takes pages until one
    reaches an event already seen, so a poll reads what is new and at most a page more, however long the execution
    (a drill's Observe loop adds events every few seconds for as long as it observes), and none is dropped however
    many a poll brings. Without the events' input and output, which the follower does not read.
    """

    PAGE_SIZE = 20  # a poll every half second seldom finds more than a few new events (botocore parses each one)

    def __init__(self, sfn: Any, execution_arn: str):
        self.sfn = sfn
        self.execution_arn = execution_arn
        self.last_id = 0

    def new_events(self) -> list[HistoryEvent]:
        fresh: list[HistoryEvent] = []
        pages = self.sfn.get_paginator("get_execution_history").paginate(
            executionArn=self.execution_arn,
            includeExecutionData=False,
            reverseOrder=True,
            PaginationConfig={"PageSize": self.PAGE_SIZE},
        )
        for page in pages:
            fresh.extend(HistoryEvent.from_wire(raw) for raw in page["events"] if raw["id"] > self.last_id)
            if any(raw["id"] <= self.last_id for raw in page["events"]):
                break
        # Events written while the pages were read shift the later pages: an event may come twice, never lost.
        fresh = sorted({event.id: event for event in fresh}.values(), key=lambda e: e.id)
        if fresh:
            self.last_id = fresh[-1].id
        return fresh


@dataclass
class Progress:
    """Where a followed drill is: for the spinner shown while a state runs."""

    started_at: float
    state: str | None = None
    state_since: float | None = None
    injected_at: float | None = None
    milestones: dict[str, float] = field(default_factory=dict)

    def elapsed(self, now: float) -> float:
        return max(0.0, now - self.started_at)

    def in_state(self, now: float) -> float:
        return max(0.0, now - (self.state_since if self.state_since is not None else now))


def ledger(deployment: Deployment) -> Ledger:
    """The deployment's ledger, on the CLI's own session: the only way the CLI reads a drill record or a lock."""
    return deployment.ledger()


def follow(
    deployment: Deployment,
    drill_id: str,
    execution_arn: str,
    on_change: Callable[[str, Any], None],
    poll_seconds: float = 0.5,
    timeout_seconds: float | None = None,
    on_tick: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Follow an execution to its end: every state entered and exited, from its history, and the drill's milestones.

    ``on_change`` gets ("state", HistoryEvent) for each state entered or exited and for the execution's end, in
    history order, then ("injected", t) and ("milestone", (name, seconds after injection)) from the drill record.
    ``on_tick`` gets the Progress between polls (the CLI's spinner). Returns DescribeExecution of the ended execution.
    """
    sfn = deployment.client("stepfunctions")
    history = HistoryReader(sfn, execution_arn)
    records = ledger(deployment)
    execution = sfn.describe_execution(executionArn=execution_arn)
    progress = Progress(started_at=execution["startDate"].timestamp())
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        # Status first, history after: when the status says ended, the history read next holds the very end.
        execution = sfn.describe_execution(executionArn=execution_arn)
        for event in history.new_events():
            if event.entered:
                progress.state, progress.state_since = event.state, event.timestamp.timestamp()
            elif event.exited and event.state == progress.state:
                progress.state, progress.state_since = None, None
            if event.entered or event.exited or event.ends_execution:
                on_change("state", event)
        record = records.progress(drill_id)  # None until preflight has written it
        if record is not None and record.injected_at is not None and progress.injected_at is None:
            progress.injected_at = record.injected_at
            on_change("injected", progress.injected_at)
        for name, t in sorted((record.milestones if record else {}).items(), key=lambda kv: float(kv[1])):
            if name not in progress.milestones:
                progress.milestones[name] = float(t)
                on_change("milestone", (name, float(t) - (progress.injected_at or float(t))))
        if execution["status"] != "RUNNING":
            return dict(execution)
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"drill {drill_id} still running after {timeout_seconds:g}s")
        if on_tick is not None:
            on_tick(progress)
        time.sleep(poll_seconds)


def execution_of(deployment: Deployment, drill_id: str) -> dict[str, Any]:
    """DescribeExecution of a drill's execution: the one its record names, else the drill machine's of that name.

    The drill id is the execution's name, so a drill that never wrote its record (preflight failed) is found too.
    """
    sfn = deployment.client("stepfunctions")
    record = ledger(deployment).load(drill_id)
    arn = (record.context.execution_id if record else None) or execution_arn_for(deployment.state_machine_arn, drill_id)
    try:
        with aws.aws_call("DescribeExecution", arn):
            return dict(sfn.describe_execution(executionArn=arn))
    except AwsCallFailed as error:
        if error.code in ("ExecutionDoesNotExist", "InvalidArn"):
            raise DrillNotFound(f"DRILL_ID: no drill {drill_id} in {deployment.label} (no record, no execution {arn})") from None
        raise


def execution_arn_for(state_machine_arn: str, name: str) -> str:
    """arn:aws:states:R:A:stateMachine:M -> arn:aws:states:R:A:execution:M:NAME."""
    head, machine = state_machine_arn.rsplit(":stateMachine:", 1)
    return f"{head}:execution:{machine}:{name}"


STOPPED_ERROR = "DrillStopped"


def stop(deployment: Deployment, drill_id: str, by: str, reason: str) -> dict[str, Any]:
    """StopExecution of a running drill, with who and why as its cause. The safety net (EventBridge on ABORTED) restores.

    Raises DrillNotRunning when the execution has already ended: there is nothing to stop.
    """
    execution = execution_of(deployment, drill_id)
    if execution["status"] != "RUNNING":
        raise DrillNotRunning(f"DRILL_ID: drill {drill_id} is not running: its execution ended {execution['status']}")
    cause = f"stopped by {by}: {reason}"
    records = ledger(deployment)
    recorded = records.load(drill_id) is not None
    if recorded:
        # Who and why, in the record first: the safety net's report says it, whatever the status event carries.
        records.save_step(drill_id, "stop_requested", StopRequested(by=by, reason=reason, at=time.time(), cause=cause))
    deployment.client("stepfunctions").stop_execution(
        executionArn=execution["executionArn"], error=STOPPED_ERROR, cause=cause[:32768]
    )
    # No record yet: preflight had not finished, nothing was touched, and the safety net has nothing to do or report.
    return {"execution_arn": execution["executionArn"], "by": by, "reason": reason, "cause": cause, "recorded": recorded}


class RestoreOutcome(BaseModel):
    """What the safety net's report says of a stopped drill's restore, read from the drill record and its report."""

    drill_id: str
    verdict: str | None
    restore_verified: bool | None
    records: list[UndoRecord]  # each undo record as the ledger holds it: status pending, applied or restored
    report_key: str | None = None


def wait_until_reported(
    deployment: Deployment,
    drill_id: str,
    timeout_seconds: float,
    poll_seconds: float = 0.5,
    on_tick: Callable[[float], None] | None = None,
) -> RestoreOutcome:
    """Wait for the drill's record to say it was reported (phase done: restored, verified, sealed), then read the outcome."""
    records = ledger(deployment)
    started = time.monotonic()
    while True:
        progress = records.progress(drill_id)
        if progress is not None and progress.phase == Phase.DONE:
            break
        if time.monotonic() - started > timeout_seconds:
            phase = progress.phase.value if progress else "no record yet"
            raise TimeoutError(
                f"drill {drill_id} not reported after {timeout_seconds:g}s (phase {phase}); the safety net "
                f"goes on: `drillkit follow {drill_id}` or `drillkit report {drill_id}` later"
            )
        if on_tick is not None:
            on_tick(time.monotonic() - started)
        time.sleep(poll_seconds)
    record = records.require(drill_id)
    verified: bool | None = None
    if record.report_key:
        body = deployment.client("s3").get_object(Bucket=deployment.evidence_bucket, Key=record.report_key)["Body"].read()
        verified = bool(json.loads(body).get("restore_verified"))
    return RestoreOutcome(
        drill_id=drill_id,
        verdict=record.verdict,
        restore_verified=verified,
        records=records.list_undo(drill_id),
        report_key=record.report_key,
    )


def unlock(deployment: Deployment, environment: str, by: str, reason: str, force: bool = False) -> dict[str, Any]:
    """Release a stale environment lock, with an audit item. Refuses while the holding drill's execution runs.

    A drill whose execution ended badly but that is not reported yet is in its safety net's hands (restoring,
    verifying): refused too, unless ``force`` (the safety net itself broke).
    """
    records = ledger(deployment)
    holder = records.lock_holder(environment)
    if not holder:
        raise DeploymentNotFound(f"ENV: {environment} is not locked in {deployment.label}; nothing to release")
    drill_id = str(holder["drill_id"])
    try:
        execution = execution_of(deployment, drill_id)
    except DrillNotFound:
        why = f"drill {drill_id} has no execution"
    else:
        if execution["status"] == "RUNNING":
            raise EnvironmentLocked(
                f"ENV: {environment} is held by drill {drill_id}, whose execution is RUNNING: not released. "
                f"Stop the drill first (`drillkit stop {drill_id} --reason ...`); its safety net restores and releases the lock"
            )
        why = f"drill {drill_id}'s execution ended {execution['status']}"
        record = records.load(drill_id)
        phase = record.phase.value if record else None
        rescuing = execution["status"] != "SUCCEEDED" and record is not None and record.phase != Phase.DONE
        if rescuing and not force:
            raise EnvironmentLocked(
                f"ENV: {environment} is held by drill {drill_id}, which ended {execution['status']} and is not reported "
                f"yet (phase {phase}): its safety net may still be restoring. Wait for it (`drillkit follow "
                f"{drill_id}`); if the safety net itself failed, check the environment and give --force"
            )
        if rescuing:
            why += f", not reported (phase {phase}); released with --force"
        if float(holder.get("expires_at", 0)) < time.time():
            why += f"; the lock expired at {clock.iso(holder.get('expires_at'))}"
    pending = [u for u in records.list_undo(drill_id) if u.status != UNDO_RESTORED]
    audit = records.release_stale_lock(environment, drill_id, by, reason, why)
    return {**audit, "unrestored": [f"{u.resource_id} ({u.status})" for u in pending]}


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
    return with_aws_in(deployment.region, deployment.endpoint_url, work)


def with_aws_in(region: str, endpoint_url: str | None, work: Callable[[], Any]) -> Any:
    """Run drill code in a region, against a lab's endpoint or (None) AWS with this workstation's credentials."""
    import os

    from drillkit import aws

    saved = {
        name: os.environ.get(name)
        for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ["AWS_DEFAULT_REGION"] = region
    if endpoint_url:
        os.environ.update(AWS_ENDPOINT_URL=endpoint_url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    aws.forget_clients()
    try:
        return work()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        aws.forget_clients()


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
        with aws.aws_call("GetCallerIdentity", "the caller"):
            return str(deployment.client("sts").get_caller_identity()["Arn"])
    except DrillError:
        return None
