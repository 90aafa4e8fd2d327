"""Build the drill report (report.json) and its readable twin (report.html)."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from drillkit import aws, clock
from drillkit.evidence.store import EvidenceStore, drill_prefix
from drillkit.measure import MILESTONES, MilestoneTracker, measurements, verdict
from drillkit.model import DrillContext, Injection
from drillkit.timeline import event, ordered

REPORT_SCHEMA_VERSION = "1"
LABELS = {
    "detection": "Detection",
    "dns_cutover": "DNS cutover (authoritative)",
    "recovery": "Recovery (achieved RTO)",
}
NOT_REACHED = {
    "detection": "the primary health check never read unhealthy",
    "dns_cutover": "the authoritative DNS answer never moved to the standby",
    "recovery": "clients were never served by the standby through the public name",
}


def _error_of(caught: dict[str, Any] | None) -> tuple[str, str] | None:
    """A Step Functions Catch result {Error, Cause}; Lambda causes are JSON."""
    if not caught:
        return None
    name = caught.get("Error", "Error")
    cause = caught.get("Cause", "")
    try:
        parsed = json.loads(cause)
        cause = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except (TypeError, ValueError):
        pass
    return name, str(cause)


def build(
    context: DrillContext,
    state: dict[str, Any],
    samples: list[dict[str, Any]],
    undo_records: list[dict[str, Any]],
    ended_at: float,
) -> dict[str, Any]:
    scenario = context.scenario
    sampling = scenario.sampling
    injection = Injection.model_validate(state["injection"]) if state.get("injection") else None
    verification = state.get("verification") or {}
    restore_state = state.get("restore") or {}
    findings: list[dict[str, str]] = []
    events = [event(context.started_at, "drill_started", requested_by=context.requested_by)]

    errors = {key: _error_of(state.get(key)) for key in ("error", "restore_error", "verify_error")}
    for key, error in errors.items():
        if error:
            severity = "critical" if key != "error" else "high"
            findings.append({"severity": severity, "code": error[0], "message": error[1]})
            events.append(event(ended_at, "error", stage=key, error=error[0], message=error[1]))

    if state.get("steady"):
        events.append(event(state["steady"]["reached_at"], "steady_state_reached"))

    measured: dict[str, dict[str, Any]] = {}
    if injection:
        events.append(event(injection.t_before, "inject_requested", fault=injection.fault, resource_id=injection.resource_id))
        events.append(event(injection.t_inject, "fault_injected", fault=injection.fault, resource_id=injection.resource_id))
        tracker = MilestoneTracker(
            t_inject=injection.t_inject, t_before_inject=injection.t_before, hold_samples=sampling.hold_samples
        )
        for sample in samples:
            if sample["t"] <= (restore_state.get("started_at") or ended_at):
                tracker.feed(sample)
        measured = measurements(tracker, scenario.objectives, sampling.interval_seconds)
        for name in MILESTONES:
            reached = getattr(tracker, name)
            if reached is not None:
                events.append(event(reached, name, seconds=measured[name]["seconds"]))
            elif not errors["error"]:
                findings.append(
                    {
                        "severity": "high",
                        "code": f"{name.upper()}_NOT_REACHED",
                        "message": NOT_REACHED[name] + f" within {sampling.observe_timeout_seconds:g}s of injection",
                    }
                )
            if measured[name]["passed"] is False and reached is not None:
                findings.append(
                    {
                        "severity": "high",
                        "code": "OBJECTIVE_MISSED",
                        "message": f"{LABELS[name]} took {measured[name]['seconds']:.1f}s, "
                        f"target {measured[name]['target_seconds']:g}s",
                    }
                )

    for record in restore_state.get("records", []):
        events.append(
            event(
                record.get("t", restore_state.get("ended_at")),
                "restore",
                resource_id=record["resource_id"],
                status=record["status"],
            )
        )
    restore_verified = bool(verification.get("verified"))
    if verification:
        events.append(event(verification.get("t"), "restore_verified" if restore_verified else "restore_not_verified"))
    if not restore_verified:
        problems = "; ".join(verification.get("problems", [])) or "the restore could not be verified"
        findings.append({"severity": "critical", "code": "RESTORE_NOT_VERIFIED", "message": problems})
    events.append(event(ended_at, "drill_ended"))

    result = verdict(measured, restore_verified, error=any(errors.values()))
    if result == "ERROR" and not injection:
        # Nothing was injected; verification trivially holds but there is nothing to judge.
        measured = {}
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "drill_id": context.drill_id,
        "scenario": {
            "name": scenario.name,
            "version": scenario.version,
            "content_hash": scenario.content_hash(),
            "description": scenario.description,
        },
        "verdict": result,
        "restore_verified": restore_verified,
        "automated": True,
        "requested_by": context.requested_by,
        "execution_id": context.execution_id,
        "environment": context.environment_key,
        "started_at": clock.iso(context.started_at),
        "injected_at": clock.iso(injection.t_inject) if injection else None,
        "ended_at": clock.iso(ended_at),
        "target": context.target.model_dump(mode="json"),
        "fault": {
            "type": scenario.fault.type,
            "resource_id": injection.resource_id if injection else None,
            "spec": scenario.fault.model_dump(mode="json"),
        },
        "sampling": sampling.model_dump(mode="json"),
        "measurements": measured,
        "findings": findings,
        "restore": {
            "records": [
                {
                    "seq": r["seq"],
                    "fault": r["fault"],
                    "resource_id": r["resource_id"],
                    "prior": r["prior"],
                    "status": r["status"],
                    "restored_at": clock.iso(r.get("restored_at")),
                }
                for r in undo_records
            ],
            "verification": verification,
        },
        "timeline": [{**e, "at": clock.iso(e["t"])} for e in ordered(events)],
        "samples": {"count": len(samples), "artifact": "samples.jsonl"},
    }


_templates = Environment(
    loader=PackageLoader("drillkit.evidence", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(document: dict[str, Any]) -> str:
    injected = document["timeline"] and next((e["t"] for e in document["timeline"] if e["event"] == "fault_injected"), None)
    return _templates.get_template("report.html.j2").render(report=document, labels=LABELS, t_inject=injected)


def publish(store: EvidenceStore, document: dict[str, Any], samples: list[dict[str, Any]]) -> dict[str, str]:
    prefix = drill_prefix(document["drill_id"])
    artifacts = {
        "report.json": json.dumps(document, indent=2, sort_keys=False).encode(),
        "report.html": render_html(document).encode(),
        "samples.jsonl": "".join(json.dumps(s, separators=(",", ":")) + "\n" for s in samples).encode(),
    }
    keys = {}
    for name, body in artifacts.items():
        store.put(prefix + name, body)
        keys[name] = prefix + name
    return keys


def notify(topic_arn: str, document: dict[str, Any], keys: dict[str, str]) -> None:
    lines = [f"drillkit {document['drill_id']}: {document['verdict']} (restore verified: {document['restore_verified']})"]
    for name, m in document["measurements"].items():
        lines.append(f"  {name}: {m['seconds']}s (target {m['target_seconds']})")
    lines.append(f"report: {keys['report.json']}")
    with aws.aws_call("Publish", topic_arn):
        aws.client("sns").publish(
            TopicArn=topic_arn,
            Subject=f"drillkit {document['verdict']}: {document['scenario']['name']}"[:100],
            Message="\n".join(lines),
        )
