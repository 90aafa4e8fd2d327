"""junit.xml: one testcase per objective and one for the restore, for CI dashboards and test tools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 (writing XML, never parsing it)

from drillkit.evidence.summary import store_words
from drillkit.milestones import label as objective_label


def _seconds(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.3f} s"


def render(document: dict[str, Any]) -> bytes:
    """A JUnit XML document: failures for missed objectives and any FAIL verdict, an error when the drill did not finish.

    The suite is red whenever the verdict is not PASS: FAIL has a failure, ERROR and ABORTED an error.
    """
    scenario = document["scenario"]
    suite_name = f"drillkit.{scenario['name']}"
    suite = ET.Element("testsuite", name=suite_name, timestamp=document["started_at"], hostname="drillkit")
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("drill_id", document["drill_id"]),
        ("scenario_version", scenario["version"]),
        ("scenario_content_hash", scenario.get("content_hash", "")),
        ("verdict", document["verdict"]),
        ("injected_at", document.get("injected_at") or ""),
    ):
        ET.SubElement(properties, "property", name=name, value=str(value))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(name: str, time: float | None = None) -> ET.Element:
        counts["tests"] += 1
        element = ET.SubElement(suite, "testcase", classname=suite_name, name=name)
        element.set("time", f"{max(time or 0.0, 0.0):.3f}")
        return element

    for name, m in document.get("measurements", {}).items():
        label = objective_label(name)
        element = case(f"objective: {label}", m["seconds"])
        detail = f"measured {_seconds(m['seconds'])} ± {m['uncertainty_seconds']:.3f} s"
        if m.get("kind") == "not_applicable":
            counts["skipped"] += 1
            ET.SubElement(element, "skipped", message=f"not applicable: {m.get('reason', '')}")
        elif m["passed"] is None:
            counts["skipped"] += 1
            ET.SubElement(element, "skipped", message=f"no target set; {detail}")
        elif m["passed"] is False:
            counts["failures"] += 1
            failure = ET.SubElement(
                element, "failure", type="ObjectiveMissed", message=f"{label}: {detail}, target {m['target_seconds']:g} s"
            )
            failure.text = f"{label} was {_seconds(m['seconds'])} after injection; target {m['target_seconds']:g} s"
        else:
            ET.SubElement(element, "system-out").text = f"{detail}, target {m['target_seconds']:g} s"

    _store_cases(document, case, counts)

    restore = case("restore verified")
    if not document["restore_verified"]:
        counts["failures"] += 1
        problems = [f["message"] for f in document.get("findings", []) if f["code"] == "RESTORE_NOT_VERIFIED"]
        ET.SubElement(restore, "failure", type="RestoreNotVerified", message="; ".join(problems) or "restore not verified")

    if document["verdict"] == "FAIL" and counts["failures"] == 0:
        # A FAIL with no missed objective (readiness refused the drill before injecting): CI must still go red.
        element = case("drill verdict")
        counts["failures"] += 1
        refused = [d for d in document.get("execution", {}).get("deviations", []) if d.startswith("readiness refused")]
        serious = [f for f in document.get("findings", []) if f["severity"] in ("critical", "high")]
        kind = "ReadinessFailed" if refused else "DrillFailed"
        message = refused[0] if refused else (serious[0]["message"] if serious else "the drill's verdict is FAIL")
        failure = ET.SubElement(element, "failure", type=kind, message=message)
        failure.text = "\n".join([*refused, *(f"{f['code']}: {f['message']}" for f in serious)]) or message

    if document["verdict"] in ("ERROR", "ABORTED"):
        element = case("drill completed")
        counts["errors"] += 1
        errors = [f for f in document.get("findings", []) if f["severity"] in ("critical", "high")]
        first = errors[0] if errors else {"code": document["verdict"], "message": "the drill did not run to the end"}
        error = ET.SubElement(element, "error", type=first["code"], message=first["message"])
        error.text = "\n".join(f"{f['code']}: {f['message']}" for f in errors) or first["message"]

    for key, value in counts.items():
        suite.set(key, str(value))
    suites = ET.Element("testsuites", {"name": "drillkit", **{k: str(v) for k, v in counts.items() if k != "skipped"}})
    suites.append(suite)
    ET.indent(suites)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode").encode() + b"\n"


def _store_cases(document: dict[str, Any], case: Callable[..., ET.Element], counts: dict[str, int]) -> None:
    """One testcase per replicated store: its recovery point against its objective."""
    for point in (document.get("results") or {}).get("data_stores") or []:
        element = case(f"data store: {point['store']} ({point['kind']})", point["seconds"])
        words = store_words(point)
        if point["passed"] is False:
            counts["failures"] += 1
            target = point["target_seconds"]
            reason = "DataNotReplicated" if point["not_replicated"] else "ObjectiveMissed"
            message = f"{point['store']}: {words}" + (f", target {target:g} s" if target is not None else "")
            ET.SubElement(element, "failure", type=reason, message=message)
        elif point["passed"] is None:
            counts["skipped"] += 1
            ET.SubElement(element, "skipped", message=words)
        else:
            ET.SubElement(element, "system-out").text = f"{words}, target {point['target_seconds']:g} s"
