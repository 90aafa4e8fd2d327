"""The game-day machine's Report step: read every drill's outcome, write the game-day report, announce it."""

from __future__ import annotations

from typing import Any

from drillkit import aws, clock, notify
from drillkit.errors import AwsCallFailed, ChainMoved, DrillStateInvalid
from drillkit.evidence import manifest
from drillkit.evidence.store import EvidenceStore
from drillkit.gameday import report as gameday_report
from drillkit.gameday import run
from drillkit.gameday.run import DrillOutcome, Prepared, execution_arn_of, gameday_config, outcome_of, parse_gameday_request


def _execution(sfn: Any, arn: str) -> dict[str, Any] | None:
    try:
        with aws.aws_call("DescribeExecution", arn):
            return dict(sfn.describe_execution(executionArn=arn))
    except AwsCallFailed as error:
        if error.code == "ExecutionDoesNotExist":
            return None
        raise


def collect(prepared: Prepared, store: EvidenceStore, sfn: Any, drill_machine_arn: str) -> list[DrillOutcome]:
    outcomes = []
    for item in prepared.drills:
        execution = _execution(sfn, execution_arn_of(drill_machine_arn, item.drill_id))
        report = store.get_json(f"drills/{item.drill_id}/report.json") if execution is not None else None
        outcomes.append(outcome_of(item, execution, report))
    return outcomes


def report(event: dict[str, Any]) -> dict[str, Any]:
    """event: {request: the machine's input, gameday: Prepared, execution_id, run_error?}."""
    request = parse_gameday_request(event["request"])
    prepared = Prepared.model_validate(event["gameday"])
    config = gameday_config()
    store = EvidenceStore(config.evidence_bucket)
    outcomes = collect(prepared, store, aws.client("stepfunctions"), config.drill_state_machine_arn)
    document = gameday_report.build(
        prepared,
        outcomes,
        requested_by=request.requested_by,
        execution_id=event.get("execution_id"),
        plan_hash=request.plan.content_hash(),
        run_error=event.get("run_error"),
        ended_at=clock.now(),
        schedule=request.schedule,
    )
    signer = manifest.Signer(config.signing_key_arn) if config.signing_key_arn else None
    keys = seal(document, manifest.Sealer(store, signer, manifest.GAMEDAYS))
    # What was sealed is what counts (a retried Report step keeps the first sealed report).
    document = store.get_json(keys["gameday.json"]) or document
    if config.topic_arn:
        notify.gameday_reported(config.topic_arn, document, keys)
    return {
        "gameday_id": prepared.gameday_id,
        "verdict": document["verdict"],
        "counts": document["counts"],
        "drills": [{"drill_id": d["drill_id"], "verdict": d["verdict"]} for d in document["drills"]],
        "artifacts": keys,
    }


def seal(document: dict[str, Any], sealer: manifest.Sealer, attempts: int = 5) -> dict[str, str]:
    """Write gameday.json, its twins, manifest.json and manifest.sig as the next link of the game-days' chain.

    A game-day sealed already (a retried Report step) is not sealed again: the keys of its sealed artifacts
    come back. When another game-day advanced the chain meanwhile, its place is planned again on top of it.
    """
    sealed = sealer.already_sealed(document["gameday_id"])
    if sealed is not None:
        return sealed
    for _ in range(attempts - 1):
        document["integrity"] = sealer.integrity(gameday_report.ARTIFACTS)
        try:
            return sealer.seal_gameday(document, gameday_report.render_artifacts(document))
        except ChainMoved:
            continue  # another game-day took the chain's head: plan this one on top of it
    document["integrity"] = sealer.integrity(gameday_report.ARTIFACTS)
    return sealer.seal_gameday(document, gameday_report.render_artifacts(document))


def step(event: dict[str, Any]) -> dict[str, Any]:
    """One step of the game-day machine, as its state machine names it: preflight or report."""
    if event.get("step") == "preflight":
        return run.preflight(event["request"], event.get("execution_id"))
    if event.get("step") == "report":
        return report(event)
    raise DrillStateInvalid(f"step: {event.get('step')!r} is not preflight or report")
