"""Every message drillkit sends to people: SNS publishes to the drill topic (notify_config().topic_arn)."""

from __future__ import annotations

import json
from typing import Any

from drillkit import aws, clock
from drillkit.evidence import summary
from drillkit.model import DrillContext

SUBJECT_LIMIT = 100  # SNS refuses a longer subject


def _publish(topic_arn: str, subject: str, message: str, attributes: dict[str, str] | None = None) -> None:
    """One SNS publish; attributes let a subscription filter (on verdict, on scenario)."""
    extra: dict[str, Any] = {}
    if attributes:
        extra["MessageAttributes"] = {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()}
    with aws.aws_call("Publish", topic_arn):
        aws.client("sns").publish(TopicArn=topic_arn, Subject=subject[:SUBJECT_LIMIT], Message=message, **extra)


def approval_needed(topic_arn: str, context: DrillContext, plan: Any, expires_at: float) -> None:
    """A protected environment's drill waits: who asked, what it would change, and the two commands that answer."""
    _publish(
        topic_arn,
        f"drillkit: approval needed for {context.scenario.name}",
        f"Drill {context.drill_id} ({context.scenario.name}) on {context.environment_key}, requested by "
        f"{context.requested_by}, waits for approval until {clock.iso(expires_at)}.\n"
        f"Plan: {json.dumps(plan)}\n\n"
        f"  drillkit approve {context.drill_id}\n  drillkit reject {context.drill_id} --reason '...'",
    )


def drill_reported(topic_arn: str, document: dict[str, Any], keys: dict[str, str]) -> None:
    """The drill's summary.md, plus where its sealed artifacts are."""
    lines = [summary.render(document).decode(), "Artifacts in the evidence bucket:"]
    lines += [f"  {key}" for key in keys.values()]
    _publish(
        topic_arn,
        f"drillkit {document['verdict']}: {document['scenario']['name']}",
        "\n".join(lines),
        {"verdict": document["verdict"], "scenario": document["scenario"]["name"]},
    )


def gameday_starts(topic_arn: str, subject: str, message: str) -> None:
    """The game-day's announcement before its first drill (gameday.run.announcement words it)."""
    _publish(topic_arn, subject, message, {"kind": "gameday-announcement"})


def gameday_reported(topic_arn: str, document: dict[str, Any], keys: dict[str, str]) -> None:
    """The game-day's verdict, each drill's, why it stopped early (if it did), and where its report is."""
    lines = [f"Game-day {document['name']} ({document['gameday_id']}): {document['verdict']}"]
    lines += [f"  {d['index']:02d} {d['scenario']} on {d['environment']}: {d['verdict']}" for d in document["drills"]]
    if document["stop_reason"]:
        lines.append(document["stop_reason"])
    lines += ["Report in the evidence bucket:", *(f"  {k}" for k in keys.values())]
    subject = f"drillkit game-day {document['verdict']}: {document['name']}"
    _publish(topic_arn, subject, "\n".join(lines), {"verdict": document["verdict"]})
