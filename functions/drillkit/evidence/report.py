"""Shape the drill report (report.json) from the drill's outcome, render its readable twins and seal them.

Judging (findings, verdict, remedies) is drillkit.outcome's; this module decides nothing about how the
drill went, it only says it: the document's sections, the timeline, the step log, the artifacts.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from drillkit import clock, faults, outcome, readings
from drillkit import timeline as tl
from drillkit.errors import ChainMoved
from drillkit.evidence import chart, frameworks, junit, summary, where
from drillkit.evidence.manifest import Sealer
from drillkit.evidence.store import EvidenceStore
from drillkit.faults import Resource
from drillkit.measure import expected_milestones, objective_targets
from drillkit.milestones import LABELS
from drillkit.model import DrillContext, UndoRecord
from drillkit.outcome import DrillSteps, Outcome
from drillkit.probes import keepalive
from drillkit.readings import Reading
from drillkit.record import DrillRecord

REPORT_SCHEMA_VERSION = "1.4"
SCHEMA_ID = "https://drillkit.dev/schemas/report/1.4/report.schema.json"
ARTIFACTS = ("report.json", "report.html", "junit.xml", "summary.md", "samples.jsonl")
DNS_READS = "DNS to the zone's name servers (authoritative) and through a caching resolver (client)"


def build(
    drill_record: DrillRecord,
    samples: list[Reading],
    undo_records: list[UndoRecord],
    ended_at: float,
    *,
    previous: dict[str, Any] | None = None,
    notify_targets: list[str] | None = None,
) -> dict[str, Any]:
    """The report.json document: the drill record judged by outcome.judge, in the sections an auditor reads."""
    context, fault_plan = drill_record.context, drill_record.plan
    steps = DrillSteps.from_record(drill_record)
    judged = outcome.judge(context, steps, samples, ended_at)
    scenario = context.scenario
    injection = steps.injection
    verification = judged.verification
    document: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "drill_id": context.drill_id,
        "scenario": {
            "name": scenario.name,
            "version": scenario.version,
            "content_hash": scenario.content_hash(),
            "description": scenario.description,
        },
        "verdict": judged.verdict,
        "restore_verified": judged.restore_verified,
        "automated": True,
        "requested_by": context.requested_by,
        "execution_id": context.execution_id,
        "environment": context.environment_key,
        "deployment": _deployment(context, undo_records),
        "started_at": clock.iso(context.started_at),
        "injected_at": clock.iso(injection.t_inject) if injection else None,
        "ended_at": clock.iso(ended_at),
        "identity": _identity(context, undo_records, previous),
        "plan": _plan(context, fault_plan),
        "people": _people(context, steps, notify_targets),
        "execution": _execution(context, steps, judged, ended_at, fault_plan),
        "target": context.target.model_dump(mode="json"),
        "fault": {
            "type": scenario.fault.type,
            "resource_id": injection.resource_id if injection else None,
            "spec": scenario.fault.model_dump(mode="json"),
        },
        "sampling": scenario.sampling.model_dump(mode="json"),
        "measurements": {name: measurement.report() for name, measurement in judged.measurements.items()},
        "results": _results(judged, samples, steps),
        "findings": [finding.report() for finding in judged.findings],
        "lessons_learned": [],
        "restore": {
            "records": [_undo_record(record) for record in undo_records],
            "verification": verification.model_dump(mode="json", exclude_unset=True) if verification else {},
        },
        "timeline": tl.report(_events(context, steps, judged, ended_at)),
        "samples": {"count": len(samples), "artifact": "samples.jsonl"},
        "integrity": _unsealed_integrity(),
    }
    document["identity"]["frameworks"] = frameworks.served_by(document)
    return document


def _deployment(context: DrillContext, undo_records: list[UndoRecord]) -> dict[str, Any]:
    """Where the drill ran (account, regions, stack, or the local lab): lab evidence never passes for production's."""
    regions = [*_scope(context, undo_records)["regions"], *where.scenario_regions(context.scenario)]
    return where.where_it_ran(context.execution_id, regions).model_dump(mode="json")


def _identity(context: DrillContext, undo_records: list[UndoRecord], previous: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "previous_drill": previous,
        "frameworks": [],  # filled in from the finished document: frameworks.served_by reads it all
        "scope": _scope(context, undo_records),
        "exercise_type": faults.fault_of(context.scenario.fault.type).exercise_type,
        "automated": True,
    }


def _people(context: DrillContext, steps: DrillSteps, notify_targets: list[str] | None) -> dict[str, Any]:
    return {
        "requested_by": context.requested_by,
        "approved_by": steps.approval.approved_by if steps.approval else None,  # None: not a protected environment
        "notified": [{"channel": "sns", "target": t, "when": "after the report is sealed"} for t in notify_targets or []],
    }


def _results(judged: Outcome, samples: list[Reading], steps: DrillSteps) -> dict[str, Any]:
    return {
        "objectives": judged.objectives,
        "restore": "PASS" if judged.restore_verified else "FAIL",
        "overall": judged.verdict,
        "estimates": {},  # estimated figures would go here, never into measurements
        "data_integrity": judged.data_integrity.report() if judged.data_integrity else None,
        "data_stores": [point.model_dump(mode="json") for point in judged.data_stores],
        "existing_clients": keepalive.existing_clients(samples, steps.injection.t_inject if steps.injection else None),
    }


def _undo_record(record: UndoRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "fault": record.fault,
        "resource_id": record.resource_id,
        "prior": record.prior,
        "status": record.status,
        "restored_at": clock.iso(record.restored_at),
    }


def _execution(
    context: DrillContext, steps: DrillSteps, judged: Outcome, ended_at: float, fault_plan: str | None
) -> dict[str, Any]:
    restore = steps.restore
    verification = judged.verification
    logged = _step_log(context, steps, judged, ended_at, fault_plan)
    return {
        "started_at": clock.iso(context.started_at),
        "injected_at": clock.iso(steps.injection.t_inject) if steps.injection else None,
        "restore_started_at": clock.iso(restore.started_at if restore else None),
        "restore_ended_at": clock.iso(restore.ended_at if restore else None),
        "restore_verified_at": clock.iso(verification.t if verification else None),
        "ended_at": clock.iso(ended_at),
        "steps": sorted(logged, key=lambda s: s["t"] if s["t"] is not None else ended_at),
        "deviations": judged.deviations,
    }


def _step_log(
    context: DrillContext, steps: DrillSteps, judged: Outcome, ended_at: float, fault_plan: str | None
) -> list[dict[str, Any]]:
    """What drillkit did, step by step, with the AWS calls each step makes (the report's execution.steps)."""
    preflight = _step(
        context.started_at,
        "Preflight",
        "validate the request, resolve the failover records, take the environment lock",
        "route53:ListResourceRecordSets, route53:GetHealthCheck, dynamodb:PutItem",
        "ok",
    )
    report = _step(
        ended_at, "Report", "measure, write and seal the report artifacts, notify", "s3:PutObject, kms:Sign, sns:Publish", "ok"
    )
    return [
        preflight,
        *_steps_before_injection(context, steps, ended_at),
        *_steps_from_injection(context, steps, judged, fault_plan),
        report,
    ]


def _steps_before_injection(context: DrillContext, steps: DrillSteps, ended_at: float) -> list[dict[str, Any]]:
    logged = []
    if ended := steps.ended:
        logged.append(
            _step(
                ended_at,
                "SafetyNet",
                f"the execution ended {ended.status}: replay pending undo records, verify, report, release the lock",
                "events:Step Functions Execution Status Change",
                "ran",
            )
        )
    if (approval := steps.approval) and approval.approved_by:
        logged.append(
            _step(
                approval.decided_at,
                "AwaitApproval",
                f"protected environment: wait for a person's approval; approved by {approval.approved_by}",
                "states:SendTaskSuccess",
                "approved",
            )
        )
    if steps.steady and steps.steady.reached_at is not None:
        logged.append(
            _step(
                steps.steady.reached_at,
                "SteadyState",
                f"sample every probe until {context.scenario.sampling.steady_state_samples} healthy readings in a row",
                f"route53:GetHealthCheckStatus, {DNS_READS}, HTTP GET",
                "steady",
            )
        )
    return logged


def _steps_from_injection(
    context: DrillContext, steps: DrillSteps, judged: Outcome, fault_plan: str | None
) -> list[dict[str, Any]]:
    injection, observation, fault = steps.injection, steps.observation, context.scenario.fault
    fault_api = faults.api_calls(fault.type, injection.method if injection else getattr(fault, "method", None))
    logged = []
    if injection:
        action = fault_plan or f"{injection.fault} on {injection.resource_id}"
        logged.append(_step(injection.t_inject, "Inject", action, fault_api, "acknowledged"))
    if injection and observation:
        logged.append(
            _step(
                injection.t_inject,
                "Observe",
                f"sample every probe each {context.scenario.sampling.interval_seconds:g} s in {observation.batch} batch(es)",
                f"route53:GetHealthCheckStatus, {DNS_READS}, HTTP GET, s3:PutObject",
                str(observation.reason),
            )
        )
    for record, t in steps.restore.record_times() if steps.restore else []:
        action = f"replay undo record {record.seq} on {record.resource_id}"
        logged.append(_step(t, "Restore", action, fault_api, record.status))
    if judged.verification:
        logged.append(
            _step(
                judged.verification.t,
                "VerifyRestore",
                "read every changed resource back and wait for steady state on the primary",
                f"route53:GetHealthCheck, route53:GetHealthCheckStatus, {DNS_READS}, HTTP GET",
                "verified" if judged.restore_verified else "not verified",
            )
        )
    return logged


def _events(context: DrillContext, steps: DrillSteps, judged: Outcome, ended_at: float) -> list[tl.Event | None]:
    """The report's timeline; events at the same instant keep this order."""
    events: list[tl.Event | None] = [tl.happened(context.started_at, tl.DrillStarted, requested_by=context.requested_by)]
    if steps.ended:
        events.append(tl.happened(ended_at, tl.ExecutionEnded, status=steps.ended.status, phase=steps.ended.phase))
    if steps.approval and steps.approval.approved_by:
        events.append(tl.happened(steps.approval.decided_at, tl.ApprovalGranted, by=steps.approval.approved_by))
    if judged.declined:
        events.append(tl.happened(ended_at, tl.ApprovalDeclined, reason=judged.declined.message or judged.declined.error))
    for failure in judged.failures:
        error, message = failure.error.error, failure.error.message
        events.append(tl.happened(ended_at, tl.ErrorCaught, stage=failure.key, error=error, message=message))
    if steps.steady:
        events.append(tl.happened(steps.steady.reached_at, tl.SteadyStateReached))
    if injection := steps.injection:
        touched = {"fault": injection.fault, "resource_id": injection.resource_id}
        events.append(tl.happened(injection.t_before, tl.InjectRequested, **touched))
        events.append(tl.happened(injection.t_inject, tl.FaultInjected, **touched))
    if judged.alerting_alarm:
        events.append(tl.happened(judged.milestones.get("alerting"), tl.AlarmFired, alarm=judged.alerting_alarm))
    for name, reached in judged.milestones.items():
        events.append(tl.happened(reached, tl.MilestoneReached, event=name, seconds=judged.measurements[name].seconds))
    if judged.rpo_read:
        read = judged.rpo_read
        events.append(tl.happened(read.t, tl.RpoRead, store=read.store, seconds=read.seconds))
    for record, t in steps.restore.record_times() if steps.restore else []:
        events.append(tl.happened(t, tl.Restored, resource_id=record.resource_id, status=record.status))
    if judged.verification:
        t = judged.verification.t
        events.append(tl.happened(t, tl.RestoreVerified) if judged.restore_verified else tl.happened(t, tl.RestoreNotVerified))
    events.append(tl.happened(ended_at, tl.DrillEnded))
    return events


def _scope(context: DrillContext, undo_records: list[UndoRecord]) -> dict[str, Any]:
    """Accounts and resources the drill touched or read; regions only where known."""
    accounts, regions = [], []
    if context.execution_id and context.execution_id.startswith("arn:"):
        parts = context.execution_id.split(":")
        if len(parts) > 4 and parts[4]:
            accounts.append(parts[4])
    target = context.target
    resources: list[Resource] = [
        {"type": "AWS::Route53::HostedZone", "id": target.hosted_zone_id, "role": "target zone"},
        {"type": "AWS::Route53::RecordSet", "id": target.record_name, "role": "failover record"},
    ]
    for endpoint in target.endpoints():
        if endpoint.health_check_id:
            resources.append(
                {"type": "AWS::Route53::HealthCheck", "id": endpoint.health_check_id, "role": f"{endpoint.side} health check"}
            )
    for record in undo_records:
        for touched in faults.fault_of(record.fault).resources(faults.read_prior(record.prior)):
            if touched not in resources:
                resources.append(touched)
                region = touched["id"].split(":")[3] if touched["id"].startswith("arn:") else None
                if region and region not in regions:
                    regions.append(region)
    return {"accounts": accounts, "regions": regions, "resources": resources}


def _plan(context: DrillContext, fault_plan: str | None) -> dict[str, Any]:
    scenario = context.scenario
    targets = {
        name: target
        for name, target in objective_targets(scenario.objectives).items()
        if name in expected_milestones(bool(scenario.alarms)) or (name == "rpo" and scenario.data.measured)
    }
    objectives = [
        {
            "name": name,
            "label": LABELS[name],
            "target_seconds": target,
            "success_criterion": (
                f"{LABELS[name]} within {target:g} s of the acknowledged injection" if target is not None else None
            ),
        }
        for name, target in targets.items()
    ]
    return {
        "scenario": scenario.name,
        "description": scenario.description or None,
        "rationale": None,  # scenarios carry no "why chosen" field yet
        "fault": fault_plan,
        "objectives": objectives,
        "success_criteria": [
            "every objective with a target is met",
            "the restore is verified: the fault's resources read their prior state and the primary serves again",
        ],
        "targets_source": f"scenario {scenario.name} v{scenario.version} ({scenario.content_hash()}), field objectives",
    }


def _unsealed_integrity() -> dict[str, Any]:
    """The integrity section of a report not sealed yet: ``publish`` replaces it with the manifest's."""
    return {
        "hash_algorithm": "SHA-256",
        "manifest": "manifest.json",
        "signature": None,
        "artifacts": list(ARTIFACTS),
        "signing": None,
        "chain": None,
        "retention": None,
    }


def _step(t: float | None, actor: str, action: str, api_call: str, result: str) -> dict[str, Any]:
    return {"t": t, "at": clock.iso(t), "actor": f"drillkit:{actor}", "action": action, "api_call": api_call, "result": result}


_templates = Environment(
    loader=PackageLoader("drillkit.evidence", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(document: dict[str, Any], samples: list[Reading] | None = None) -> str:
    """The report for a non-engineer: verdict first, a timeline chart, then the detail."""
    injected = tl.first(tl.read(document["timeline"]), "fault_injected")
    return _templates.get_template("report.html.j2").render(
        report=document,
        labels=LABELS,
        t_inject=injected,
        chart=chart.timeline(document, samples or []),
        store_words=summary.store_words,
    )


def render_artifacts(document: dict[str, Any], samples: list[Reading]) -> dict[str, bytes]:
    """Every artifact of a drill, in the order of ARTIFACTS."""
    rendered = {
        "report.json": json.dumps(document, indent=2, sort_keys=False).encode(),
        "report.html": render_html(document, samples).encode(),
        "junit.xml": junit.render(document),
        "summary.md": summary.render(document),
        "samples.jsonl": readings.dump_lines(samples).encode(),
    }
    return {name: rendered[name] for name in ARTIFACTS}


def publish(
    store: EvidenceStore, document: dict[str, Any], samples: list[Reading], sealer: Sealer | None = None, attempts: int = 5
) -> dict[str, str]:
    """Write the artifacts and seal them: manifest.json, manifest.sig and the next link of the chain.

    When another report advanced the chain meanwhile, the integrity section is planned again
    on top of the new head and everything is written again (new object versions). A drill that is
    sealed already (a retried Report step) is not sealed again: the keys of its sealed artifacts come back.
    """
    sealer = sealer or Sealer(store, None)
    sealed = sealer.already_sealed(document["drill_id"])
    if sealed is not None:
        # A retried Report step: the drill holds its place in the chain already; sealing again would fork it.
        return sealed
    attempt = 1
    while True:
        document["integrity"] = sealer.integrity(ARTIFACTS)
        document["identity"]["frameworks"] = frameworks.served_by(document)
        try:
            return sealer.seal(document, render_artifacts(document, samples))
        except ChainMoved:
            if attempt >= attempts:
                raise  # still moving after every attempt: the step fails with ChainMoved
        attempt += 1
