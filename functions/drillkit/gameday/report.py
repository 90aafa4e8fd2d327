"""The game-day report: one JSON document (versioned schema), its HTML twin and a JUnit file (one testsuite per drill).

Built from the drills' own sealed reports (each linked, never copied in full) and their executions. Pure:
``build`` takes what was read; ``collect`` (in gameday/run.py terms, the Report step) does the reading.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 (writing XML, never parsing it)

from jinja2 import Environment, PackageLoader, select_autoescape

from drillkit import clock
from drillkit.gameday.run import DrillOutcome, Prepared
from drillkit.milestones import LABELS as OBJECTIVE_LABELS

GAMEDAY_SCHEMA_VERSION = "1.0"
GAMEDAY_SCHEMA_ID = "https://drillkit.dev/schemas/gameday/1.0/gameday.schema.json"
ARTIFACTS = ("gameday.json", "gameday.html", "junit.xml")
FAILED = ("FAIL", "ERROR", "ABORTED")

_templates = Environment(
    loader=PackageLoader("drillkit.gameday", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    keep_trailing_newline=True,
)


def gameday_prefix(gameday_id: str) -> str:
    return f"gamedays/{gameday_id}/"


def verdict_of(outcomes: list[DrillOutcome]) -> str:
    """PASS only when every drill ran and passed; FAIL when any failed or never started; ERROR when one did not finish."""
    verdicts = [o.verdict for o in outcomes]
    if all(v == "PASS" for v in verdicts):
        return "PASS"
    if any(v in ("ERROR", "ABORTED", "RUNNING") for v in verdicts):
        return "ERROR"
    return "FAIL"


def build(
    prepared: Prepared,
    outcomes: list[DrillOutcome],
    *,
    requested_by: str,
    execution_id: str | None,
    plan_hash: str,
    run_error: dict[str, Any] | None,
    ended_at: float,
    schedule: str | None = None,
) -> dict[str, Any]:
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("PASS", "FAIL", "ERROR", "ABORTED", "NOT_STARTED", "RUNNING")}
    failed = sum(counts[v] for v in FAILED)
    ran = len(outcomes) - counts["NOT_STARTED"]
    stopped = counts["NOT_STARTED"] > 0
    if stopped and run_error is not None:
        reason = f"the game-day stopped ({run_error.get('Error', 'error')}): failure_policy {prepared.failure_policy}"
        if prepared.tolerated_failure_percentage:
            reason += f", tolerated failure percentage {prepared.tolerated_failure_percentage:g}"
    elif stopped:
        reason = "the game-day ended before every drill started"
    else:
        reason = None
    return {
        "schema_version": GAMEDAY_SCHEMA_VERSION,
        "$schema": GAMEDAY_SCHEMA_ID,
        "gameday_id": prepared.gameday_id,
        "name": prepared.name,
        "plan_content_hash": plan_hash,
        "verdict": verdict_of(outcomes),
        "automated": True,
        "requested_by": requested_by,
        "schedule": schedule,
        "execution_id": execution_id,
        "started_at": clock.iso(prepared.started_at),
        "ended_at": clock.iso(ended_at),
        "policy": {
            "failure_policy": prepared.failure_policy,
            "max_concurrency": prepared.max_concurrency,
            "tolerated_failure_percentage": prepared.tolerated_failure_percentage,
            "pause_seconds": max((d.pause_seconds for d in prepared.drills), default=0),
        },
        "change_calendar": prepared.change_calendar.model_dump(mode="json") if prepared.change_calendar else None,
        "counts": {**counts, "drills": len(outcomes), "ran": ran, "failed": failed},
        "stopped_early": stopped,
        "stop_reason": reason,
        "drills": [o.model_dump(mode="json") for o in outcomes],
    }


def render_html(document: dict[str, Any]) -> str:
    return _templates.get_template("gameday.html.j2").render(gameday=document, labels=OBJECTIVE_LABELS)


def _seconds(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.3f} s"


def render_junit(document: dict[str, Any]) -> bytes:
    """One testsuite per drill (named by its index, scenario and environment), one testcase per objective and the restore."""
    suites = ET.Element("testsuites", name=f"drillkit.gameday.{document['name']}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for drill in document["drills"]:
        suite_name = f"{drill['index']:02d} {drill['scenario']} on {drill['environment']}"
        suite = ET.SubElement(suites, "testsuite", name=suite_name, hostname="drillkit", timestamp=drill["started_at"] or "")
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("drill_id", drill["drill_id"]),
            ("verdict", drill["verdict"]),
            ("report", drill["report_key"] or ""),
        ):
            ET.SubElement(properties, "property", name=name, value=str(value))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

        classname = f"drillkit.gameday.{drill['scenario']}"

        def case(
            name: str,
            time: float | None = None,
            suite: ET.Element = suite,
            counts: dict[str, int] = counts,
            classname: str = classname,
        ) -> ET.Element:
            counts["tests"] += 1
            element = ET.SubElement(suite, "testcase", classname=classname, name=name)
            element.set("time", f"{max(time or 0.0, 0.0):.3f}")
            return element

        if drill["verdict"] == "NOT_STARTED":
            counts["skipped"] += 1
            ET.SubElement(case("drill"), "skipped", message=f"not started: {document.get('stop_reason') or 'the game-day ended'}")
        elif drill["report_key"] is None:
            counts["errors"] += 1
            ET.SubElement(
                case("drill completed"), "error", type=drill["verdict"], message=drill["error"] or "the drill wrote no report"
            )
        else:
            for name, m in drill["measurements"].items():
                label = OBJECTIVE_LABELS.get(name, name)
                element = case(f"objective: {label}", m.get("seconds"))
                detail = f"measured {_seconds(m.get('seconds'))} ± {m.get('uncertainty_seconds', 0):.3f} s"
                if m.get("kind") == "not_applicable" or m.get("passed") is None:
                    counts["skipped"] += 1
                    ET.SubElement(element, "skipped", message=m.get("reason") or f"no target set; {detail}")
                elif m["passed"] is False:
                    counts["failures"] += 1
                    ET.SubElement(
                        element, "failure", type="ObjectiveMissed", message=f"{label}: {detail}, target {m['target_seconds']:g} s"
                    )
                else:
                    ET.SubElement(element, "system-out").text = f"{detail}, target {m['target_seconds']:g} s"
            restore = case("restore verified")
            if not drill["restore_verified"]:
                counts["failures"] += 1
                ET.SubElement(restore, "failure", type="RestoreNotVerified", message="restore not verified")
            if drill["verdict"] in ("ERROR", "ABORTED"):
                counts["errors"] += 1
                serious = [f for f in drill["findings"] if f.get("severity") in ("critical", "high")]
                first = serious[0] if serious else {"code": drill["verdict"], "message": "the drill did not run to the end"}
                ET.SubElement(case("drill completed"), "error", type=first["code"], message=first["message"])
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key in ("tests", "failures", "errors"):
        suites.set(key, str(totals[key]))
    ET.indent(suites)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode").encode() + b"\n"


def render_artifacts(document: dict[str, Any]) -> dict[str, bytes]:
    return {
        "gameday.json": json.dumps(document, indent=2).encode(),
        "gameday.html": render_html(document).encode(),
        "junit.xml": render_junit(document),
    }
