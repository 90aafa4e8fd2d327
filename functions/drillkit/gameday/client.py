"""Start and follow game-days from a workstation: the CLI's side of the game-day machine."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drillkit import aws, client
from drillkit.errors import AwsCallFailed, GameDayInvalid
from drillkit.gameday.plan import GameDayPlan, PlannedDrill, parse_plan
from drillkit.gameday.report import gameday_prefix
from drillkit.gameday.run import DrillItem, GameDayRequest, drill_items, execution_arn_of, id_of, new_gameday_id
from drillkit.spec import Scenario, describe_validation_error


def gameday_request(deployment: client.Deployment, plan: GameDayPlan, requested_by: str) -> GameDayRequest:
    """The machine's input: a resolved plan, a fresh game-day id and the deployment's network."""
    return GameDayRequest.model_validate(
        {
            "gameday_id": new_gameday_id(plan.name),
            "requested_by": requested_by,
            "plan": plan.model_dump(mode="json"),
            "network": deployment.network,
        }
    )


def start(deployment: client.Deployment, gameday_machine_arn: str, request: GameDayRequest) -> str:
    sfn = deployment.client("stepfunctions")
    answer = sfn.start_execution(
        stateMachineArn=gameday_machine_arn, name=id_of(request), input=json.dumps(request.model_dump(mode="json"))
    )
    return str(answer["executionArn"])


def _drill_verdict(execution: dict[str, Any]) -> str:
    if execution["status"] != "SUCCEEDED":
        return execution["status"]
    output = json.loads(execution.get("output") or "{}")
    return str((output.get("report") or {}).get("verdict") or "SUCCEEDED")


def follow(
    deployment: client.Deployment,
    request: GameDayRequest,
    execution_arn: str,
    on_change: Callable[[str, DrillItem, str], None],
    poll_seconds: float = 0.5,
    timeout_seconds: float = 86400,
) -> dict[str, Any]:
    """Report each drill as it starts ("started") and ends ("verdict", with PASS/FAIL/... or the execution status)."""
    sfn = deployment.client("stepfunctions")
    items = drill_items(request)
    started: set[str] = set()
    ended: set[str] = set()
    deadline = time.monotonic() + timeout_seconds
    while True:
        game = sfn.describe_execution(executionArn=execution_arn)
        for item in items:
            if item.drill_id in ended:
                continue
            drill_arn = execution_arn_of(deployment.state_machine_arn, item.drill_id)
            try:
                with aws.aws_call("DescribeExecution", drill_arn):
                    execution = sfn.describe_execution(executionArn=drill_arn)
            except AwsCallFailed as error:
                if error.code != "ExecutionDoesNotExist":
                    raise
                continue  # not started yet
            if item.drill_id not in started:
                started.add(item.drill_id)
                on_change("started", item, execution["executionArn"])
            if execution["status"] != "RUNNING":
                ended.add(item.drill_id)
                on_change("verdict", item, _drill_verdict(execution))
        if game["status"] != "RUNNING":
            return dict(game)
        if time.monotonic() > deadline:
            raise TimeoutError(f"game-day {request.gameday_id} still running after {timeout_seconds:g}s")
        time.sleep(poll_seconds)


def download_report(deployment: client.Deployment, gameday_id: str, destination: Path) -> Path:
    s3 = deployment.client("s3")
    prefix = gameday_prefix(gameday_id)
    target = destination / gameday_id
    target.mkdir(parents=True, exist_ok=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=deployment.evidence_bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=deployment.evidence_bucket, Key=obj["Key"])["Body"].read()
            (target / obj["Key"][len(prefix) :]).write_bytes(body)
    return target


def resolved(plan: GameDayPlan, base_dir: Path) -> GameDayPlan:
    """Every scenario inline: files read relative to base_dir, each problem named by its drill's field."""
    problems: list[tuple[str, str]] = []
    drills: list[PlannedDrill] = []
    for index, drill in enumerate(plan.drills):
        if isinstance(drill.scenario, Scenario):
            drills.append(drill)
            continue
        path = Path(drill.scenario)
        path = path if path.is_absolute() else base_dir / path
        field = f"drills.{index}.scenario"
        try:
            payload = yaml.safe_load(path.read_text())
        except OSError as error:
            problems.append((field, f"cannot read {path}: {error.strerror}"))
            continue
        except yaml.YAMLError as error:
            problems.append((field, f"{path} is not valid YAML: {error}"))
            continue
        if not isinstance(payload, dict):
            problems.append((field, f"{path} must hold a scenario mapping"))
            continue
        try:
            drills.append(drill.model_copy(update={"scenario": Scenario.model_validate(payload)}))
        except ValidationError as error:
            problems.extend(describe_validation_error(error, prefix=f"{field}({path.name})."))
    if problems:
        raise GameDayInvalid(problems)
    complete = plan.model_copy(update={"drills": drills})
    complete.check_locks()
    return complete


def load_plan(path: Path) -> GameDayPlan:
    """Read a plan file, validate it and resolve its scenario files (relative to the plan)."""
    try:
        payload = yaml.safe_load(path.read_text())
    except OSError as error:
        raise GameDayInvalid([("(plan)", f"cannot read {path}: {error.strerror}")]) from None
    except yaml.YAMLError as error:
        raise GameDayInvalid([("(plan)", f"{path} is not valid YAML: {error}")]) from None
    return resolved(parse_plan(payload), path.parent)
