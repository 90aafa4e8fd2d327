"""Build the drill report (report.json) and its readable twin (report.html)."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from drillkit import aws, clock, faults
from drillkit.errors import ChainMoved, DrillRejected
from drillkit.evidence import chart, frameworks, junit, summary
from drillkit.evidence.junit import OBJECTIVE_LABELS
from drillkit.evidence.manifest import Sealer
from drillkit.evidence.store import EvidenceStore
from drillkit.measure import (
    MilestoneTracker,
    expected_milestones,
    measurements,
    objective_targets,
    rpo,
    rpo_measurement,
    rpo_not_applicable,
    rpo_not_applicable_because,
    verdict,
)
from drillkit.model import DrillContext, Injection
from drillkit.probes import keepalive
from drillkit.timeline import event, ordered

REPORT_SCHEMA_VERSION = "1.2"
SCHEMA_ID = "https://drillkit.dev/schemas/report/1.2/report.schema.json"
ARTIFACTS = ("report.json", "report.html", "junit.xml", "summary.md", "samples.jsonl")
LABELS = OBJECTIVE_LABELS
DNS_READS = "DNS to the zone's name servers (authoritative) and through a caching resolver (client)"
NOT_REACHED = {
    "detection": "the primary health check never read unhealthy by Route 53's rule",
    "alerting": "none of the scenario's alarms went into ALARM",
    "dns_cutover": "the authoritative DNS answer never moved to the standby",
    "client_cutover": "a caching resolver never answered with the standby",
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


REMEDIES = {
    "DETECTION_NOT_REACHED": "Check that the health check monitors the primary endpoint and that its interval and "
    "failure threshold allow detection within the observe timeout.",
    "ALERTING_NOT_REACHED": "Check that each alarm watches a metric that has data when the primary fails (dimensions "
    "spelled as CloudWatch publishes them) and that its threshold and evaluation periods fit the outage.",
    "CLIENT_CUTOVER_NOT_REACHED": "Check the record's TTL: clients keep the old answer until it expires in their "
    "resolver's cache.",
    "DATA_LOST_ENTIRELY": "Check that the standby cluster replicates from the primary (a member of the same global "
    "database) and that replication is healthy.",
    "DNS_CUTOVER_NOT_REACHED": "Check that the record's PRIMARY carries the health check and that a SECONDARY record "
    "exists with the standby's value.",
    "RECOVERY_NOT_REACHED": "Check that the standby serves the public name (listener, certificate, capacity) "
    "and that clients honour the record's TTL.",
    "OBJECTIVE_MISSED": "Shorten the health check's interval or failure threshold, lower the record's TTL, "
    "or revise the target with the service owner.",
    "RESTORE_NOT_VERIFIED": "Inspect the resources named in restore.verification, put the prior state back "
    "(restore.records holds it) and run the drill again.",
}
ERROR_REMEDY = "Read the step log and the execution's error, fix the cause and run the drill again."


def _finding(severity: str, code: str, message: str, evidence: str | None, remedy: str | None) -> dict[str, Any]:
    finding = {"severity": severity, "code": code, "message": message}
    if evidence:
        finding["evidence"] = evidence
    if remedy:
        finding["remedy"] = remedy
    return finding


def _scope(context: DrillContext, undo_records: list[dict[str, Any]]) -> dict[str, Any]:
    """Accounts and resources the drill touched or read; regions only where known."""
    accounts, regions = [], []
    if context.execution_id and context.execution_id.startswith("arn:"):
        parts = context.execution_id.split(":")
        if len(parts) > 4 and parts[4]:
            accounts.append(parts[4])
    target = context.target
    resources = [
        {"type": "AWS::Route53::HostedZone", "id": target.hosted_zone_id, "role": "target zone"},
        {"type": "AWS::Route53::RecordSet", "id": target.record_name, "role": "failover record"},
    ]
    for endpoint in target.endpoints():
        if endpoint.health_check_id:
            resources.append(
                {"type": "AWS::Route53::HealthCheck", "id": endpoint.health_check_id, "role": f"{endpoint.side} health check"}
            )
    for record in undo_records:
        for touched in faults.fault_module(record["fault"]).resources(record["prior"]):
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
        if name in expected_milestones(bool(scenario.alarms)) or (name == "rpo" and scenario.data.heartbeat is not None)
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


def build(
    context: DrillContext,
    state: dict[str, Any],
    samples: list[dict[str, Any]],
    undo_records: list[dict[str, Any]],
    ended_at: float,
    *,
    previous: dict[str, Any] | None = None,
    notify_targets: list[str] | None = None,
    fault_plan: str | None = None,
) -> dict[str, Any]:
    scenario = context.scenario
    sampling = scenario.sampling
    injection = Injection.model_validate(state["injection"]) if state.get("injection") else None
    verification = state.get("verification") or {}
    restore_state = state.get("restore") or {}
    observation = state.get("observation") or {}
    fault_api = faults.api_calls(scenario.fault.type, injection.method if injection else getattr(scenario.fault, "method", None))
    findings: list[dict[str, Any]] = [
        _finding(f.severity, f.code, f.message, str(f.evidence), f.remedy) for f in context.readiness
    ]
    deviations: list[str] = []
    events = [event(context.started_at, "drill_started", requested_by=context.requested_by)]
    steps = [
        _step(
            context.started_at,
            "Preflight",
            "validate the request, resolve the failover records, take the environment lock",
            "route53:ListResourceRecordSets, route53:GetHealthCheck, dynamodb:PutItem",
            "ok",
        )
    ]

    stopped_by = (state.get("observation") or {}).get("stopped_by") or []
    if stopped_by:
        message = (
            f"stop condition {', '.join(stopped_by)} went into ALARM during observation: the drill stopped observing "
            "and restored at once"
        )
        findings.append(
            _finding("high", "STOP_CONDITION", message, "samples.jsonl (alarms readings)", "Find out why the alarm fired.")
        )
        deviations.append(message)
    ended = state.get("ended")  # set by the safety net: the execution itself ended ABORTED, TIMED_OUT or FAILED
    if ended:
        cause = ": ".join(str(part) for part in (ended.get("error"), ended.get("cause")) if part)
        message = (
            f"the drill's execution ended {ended['status']} during {ended.get('phase') or 'an unknown phase'}"
            + (f" ({cause})" if cause else "")
            + "; the safety net replayed the undo records, verified the restore and wrote this report"
        )
        findings.append(
            _finding(
                "high",
                f"EXECUTION_{ended['status']}",
                message,
                f"Step Functions execution {ended.get('execution_arn')}",
                "Read the execution's history to see why it ended; the environment was restored as recorded below.",
            )
        )
        deviations.append(message)
        events.append(event(ended_at, "execution_ended", status=ended["status"], phase=ended.get("phase")))
        steps.append(
            _step(
                ended_at,
                "SafetyNet",
                f"the execution ended {ended['status']}: replay pending undo records, verify, report, release the lock",
                "events:Step Functions Execution Status Change",
                "ran",
            )
        )
    granted = state.get("approval") or {}
    if granted.get("approved_by"):
        events.append(event(granted.get("approved_at"), "approval_granted", by=granted["approved_by"]))
        steps.append(
            _step(
                granted.get("approved_at"),
                "AwaitApproval",
                f"protected environment: wait for a person's approval; approved by {granted['approved_by']}",
                "states:SendTaskSuccess",
                "approved",
            )
        )
    caught = _error_of(state.get("approval_error"))
    # A person said no, or nobody answered in time.
    declined = caught if caught and caught[0] in (DrillRejected.__name__, "States.Timeout") else None
    if declined:
        code = "APPROVAL_TIMED_OUT" if declined[0] == "States.Timeout" else "APPROVAL_REJECTED"
        message = (
            f"the environment is protected and the drill was not approved: {declined[1] or declined[0]}; nothing was injected"
        )
        findings.append(
            _finding(
                "medium",
                code,
                message,
                "drill record approval (ledger)",
                "Agree the drill window with the environment's owner, then run the drill again.",
            )
        )
        deviations.append(message)
        events.append(event(ended_at, "approval_declined", reason=declined[1] or declined[0]))
    errors = {key: _error_of(state.get(key)) for key in ("error", "restore_error", "verify_error")}
    errors["error"] = errors["error"] or (caught if caught and not declined else None)  # the approval step itself broke
    stage_of = {"error": "drill", "restore_error": "restore", "verify_error": "restore verification"}
    for key, error in errors.items():
        if error:
            severity = "critical" if key != "error" else "high"
            findings.append(
                _finding(severity, error[0], error[1], f"execution error {error[0]} in the {stage_of[key]} stage", ERROR_REMEDY)
            )
            events.append(event(ended_at, "error", stage=key, error=error[0], message=error[1]))
            deviations.append(f"the {stage_of[key]} stage failed with {error[0]}: {error[1]}")

    # $.steady also carries an unfinished wait's progress (SteadyState continues across invocations): only a reached one counts.
    if (state.get("steady") or {}).get("reached_at") is not None:
        events.append(event(state["steady"]["reached_at"], "steady_state_reached"))
        steps.append(
            _step(
                state["steady"]["reached_at"],
                "SteadyState",
                f"sample every probe until {sampling.steady_state_samples} healthy readings in a row",
                f"route53:GetHealthCheckStatus, {DNS_READS}, HTTP GET",
                "steady",
            )
        )

    measured: dict[str, dict[str, Any]] = {}
    data_integrity: dict[str, Any] | None = None
    if injection:
        events.append(event(injection.t_before, "inject_requested", fault=injection.fault, resource_id=injection.resource_id))
        events.append(event(injection.t_inject, "fault_injected", fault=injection.fault, resource_id=injection.resource_id))
        steps.append(
            _step(
                injection.t_inject,
                "Inject",
                fault_plan or f"{injection.fault} on {injection.resource_id}",
                fault_api,
                "acknowledged",
            )
        )
        tracker = MilestoneTracker(
            t_inject=injection.t_inject,
            t_before_inject=injection.t_before,
            hold_samples=sampling.hold_samples,
            expected=expected_milestones(bool(scenario.alarms)),
        )
        for sample in samples:
            if sample["t"] <= (restore_state.get("started_at") or ended_at):
                tracker.feed(sample)
        measured = measurements(tracker, scenario.objectives, sampling.interval_seconds)
        if tracker.alerting_alarm:
            events.append(event(tracker.alerting, "alarm", alarm=tracker.alerting_alarm))
        for name in tracker.expected:
            reached = getattr(tracker, name)
            if reached is not None:
                events.append(event(reached, name, seconds=measured[name]["seconds"]))
            elif not errors["error"] and not ended and not stopped_by:
                code = f"{name.upper()}_NOT_REACHED"
                message = NOT_REACHED[name] + f" within {sampling.observe_timeout_seconds:g}s of injection"
                findings.append(_finding("high", code, message, "samples.jsonl (observation readings)", REMEDIES[code]))
                deviations.append(message)
            if measured[name]["passed"] is False and reached is not None:
                findings.append(
                    _finding(
                        "high",
                        "OBJECTIVE_MISSED",
                        f"{LABELS[name]} took {measured[name]['seconds']:.1f}s, target {measured[name]['target_seconds']:g}s",
                        f"measurements.{name}",
                        REMEDIES["OBJECTIVE_MISSED"],
                    )
                )
        if scenario.data.heartbeat is not None:
            data_integrity = _measure_rpo(scenario, injection, samples, observation, measured, findings, events, deviations)
        if observation:
            steps.append(
                _step(
                    injection.t_inject,
                    "Observe",
                    f"sample every probe each {sampling.interval_seconds:g} s in {observation.get('batch', 0)} batch(es)",
                    f"route53:GetHealthCheckStatus, {DNS_READS}, HTTP GET, s3:PutObject",
                    str(observation.get("reason", "")),
                )
            )

    for record in restore_state.get("records", []):
        t = record.get("t", restore_state.get("ended_at"))
        events.append(event(t, "restore", resource_id=record["resource_id"], status=record["status"]))
        steps.append(
            _step(t, "Restore", f"replay undo record {record['seq']} on {record['resource_id']}", fault_api, record["status"])
        )
    if caught and not injection:
        verification = {"verified": True, "t": ended_at, "resources": {}, "note": "not approved: nothing was injected"}
    if context.blocked and not injection:
        verification = {
            "verified": True,
            "t": ended_at,
            "resources": {},
            "note": "readiness refused the drill: nothing was injected",
        }
        deviations.append(
            "readiness refused the drill before injection: " + "; ".join(f.code for f in context.readiness if f.blocking)
        )
    restore_verified = bool(verification.get("verified"))
    if verification:
        events.append(event(verification.get("t"), "restore_verified" if restore_verified else "restore_not_verified"))
        steps.append(
            _step(
                verification.get("t"),
                "VerifyRestore",
                "read every changed resource back and wait for steady state on the primary",
                f"route53:GetHealthCheck, route53:GetHealthCheckStatus, {DNS_READS}, HTTP GET",
                "verified" if restore_verified else "not verified",
            )
        )
    if not restore_verified:
        problems = "; ".join(verification.get("problems", [])) or "the restore could not be verified"
        findings.append(
            _finding("critical", "RESTORE_NOT_VERIFIED", problems, "restore.verification", REMEDIES["RESTORE_NOT_VERIFIED"])
        )
    events.append(event(ended_at, "drill_ended"))
    steps.append(
        _step(
            ended_at,
            "Report",
            "measure, write and seal the report artifacts, notify",
            "s3:PutObject, kms:Sign, sns:Publish",
            "ok",
        )
    )

    status = (ended or {}).get("status")
    result = verdict(
        measured,
        restore_verified,
        error=any(errors.values()) or status == "FAILED",
        aborted=status in ("ABORTED", "TIMED_OUT") or bool(stopped_by) or bool(declined),
    )
    if context.blocked and result == "PASS":
        result = "FAIL"  # a blocking readiness finding: the stack cannot fail over, whatever else holds
    if result in ("ERROR", "ABORTED") and not injection:
        # Nothing was injected; verification trivially holds but there is nothing to judge.
        measured = {}
    objective_verdicts = {name: _objective_verdict(m) for name, m in measured.items()}
    document: dict[str, Any] = {
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
        "identity": {
            "previous_drill": previous,
            "frameworks": [],
            "scope": _scope(context, undo_records),
            "exercise_type": faults.fault_module(scenario.fault.type).EXERCISE_TYPE,
            "automated": True,
        },
        "plan": _plan(context, fault_plan),
        "people": {
            "requested_by": context.requested_by,
            "approved_by": (state.get("approval") or {}).get("approved_by"),  # None: not a protected environment
            "notified": [{"channel": "sns", "target": t, "when": "after the report is sealed"} for t in notify_targets or []],
        },
        "execution": {
            "started_at": clock.iso(context.started_at),
            "injected_at": clock.iso(injection.t_inject) if injection else None,
            "restore_started_at": clock.iso(restore_state.get("started_at")),
            "restore_ended_at": clock.iso(restore_state.get("ended_at")),
            "restore_verified_at": clock.iso(verification.get("t")),
            "ended_at": clock.iso(ended_at),
            "steps": sorted(steps, key=lambda s: s["t"] if s["t"] is not None else ended_at),
            "deviations": deviations,
        },
        "target": context.target.model_dump(mode="json"),
        "fault": {
            "type": scenario.fault.type,
            "resource_id": injection.resource_id if injection else None,
            "spec": scenario.fault.model_dump(mode="json"),
        },
        "sampling": sampling.model_dump(mode="json"),
        "measurements": measured,
        "results": {
            "objectives": objective_verdicts,
            "restore": "PASS" if restore_verified else "FAIL",
            "overall": result,
            "estimates": {},  # estimated figures would go here, never into measurements
            "data_integrity": data_integrity,
            "existing_clients": keepalive.existing_clients(samples, injection.t_inject if injection else None),
        },
        "findings": findings,
        "lessons_learned": [],
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
        "integrity": _unsealed_integrity(),
    }
    document["identity"]["frameworks"] = frameworks.served_by(document)
    return document


def _measure_rpo(
    scenario: Any,
    injection: Injection,
    samples: list[dict[str, Any]],
    observation: dict[str, Any],
    measured: dict[str, dict[str, Any]],
    findings: list[dict[str, Any]],
    events: list[dict[str, Any]],
    deviations: list[str],
) -> dict[str, Any]:
    """RPO from the heartbeat canary; returns the data-integrity detail for results."""
    heartbeats = [s for s in samples if s["probe"] == "heartbeat"]
    surviving = observation.get("surviving_heartbeat")
    window = rpo(heartbeats, surviving, injection.t_inject)
    if reason := rpo_not_applicable_because(scenario, injection.resource_id):
        return _rpo_not_applicable(scenario, window, reason, measured, findings)
    measured["rpo"] = {
        **rpo_measurement(window, scenario.objectives.rpo_seconds, scenario.sampling.interval_seconds),
        "kind": "measured",
    }
    if window["seconds"] is None:
        reason = (surviving or {}).get("error") or "the newest surviving heartbeat was not read (observation did not finish)"
        message = f"RPO not measured: {reason}"
        findings.append(_finding("high", "RPO_NOT_MEASURED", message, "samples.jsonl (heartbeat readings)", ERROR_REMEDY))
        deviations.append(message)
    elif window.get("nothing_survived"):
        message = (
            f"no heartbeat of this drill is readable in {window['serving_store']}: everything written during the drill "
            f"({window['heartbeats_acknowledged']} acknowledged heartbeats) is missing from the store that serves after failover"
        )
        findings.append(
            _finding("critical", "DATA_LOST_ENTIRELY", message, "measurements.rpo.detail", REMEDIES["DATA_LOST_ENTIRELY"])
        )
    elif surviving is not None:
        events.append(event(surviving["t"], "rpo_read", store=window["serving_store"], seconds=window["seconds"]))
    if measured["rpo"]["passed"] is False and window["seconds"] is not None:
        findings.append(
            _finding(
                "high",
                "OBJECTIVE_MISSED",
                f"{LABELS['rpo']} was {window['seconds']:.1f}s, target {measured['rpo']['target_seconds']:g}s",
                "measurements.rpo",
                "Check replication lag and the failover method (an unplanned failover loses what has not replicated).",
            )
        )
    return {"method": "heartbeat canary", **window}


def _objective_verdict(m: dict[str, Any]) -> str:
    if m.get("kind") == "not_applicable":
        return "NOT_APPLICABLE"
    return "NOT_JUDGED" if m["passed"] is None else ("PASS" if m["passed"] else "FAIL")


def _rpo_not_applicable(
    scenario: Any, window: dict[str, Any], reason: str, measured: dict[str, dict[str, Any]], findings: list[dict[str, Any]]
) -> dict[str, Any]:
    """No writer moved: the RPO objective is not applicable; what the canary saw stays as context."""
    heartbeat = scenario.data.heartbeat
    # A store other than the heartbeat's own writer is a replica: the gap read there is replication lag.
    replica = window["serving_store"] not in (None, heartbeat.primary_cluster_arn)
    lag = window["seconds"] if replica else None
    context = {
        **window,
        "seconds": None,
        "observed_replication_lag_seconds": lag,
        "replication_lag_note": (
            f"newest heartbeat readable in replica {window['serving_store']}"
            if replica
            else "not observed: the canary read the writer itself (the Data API cannot read an unpromoted Aurora secondary)"
        ),
    }
    measured["rpo"] = rpo_not_applicable(context, scenario.objectives.rpo_seconds, scenario.sampling.interval_seconds, reason)
    if scenario.objectives.rpo_seconds is not None:
        findings.append(
            _finding(
                "info",
                "RPO_NOT_APPLICABLE",
                f"{LABELS['rpo']} not judged: {reason}; the target of {scenario.objectives.rpo_seconds:g}s applies to drills "
                "that fail the database over (stop-cluster)",
                "measurements.rpo",
                "Judge the RPO in a drill that moves the writer: stop-cluster with global-failover or global-switchover.",
            )
        )
    return {"method": "heartbeat canary", "rpo_applicable": False, "reason": reason, **context}


def _step(t: float | None, actor: str, action: str, api_call: str, result: str) -> dict[str, Any]:
    return {"t": t, "at": clock.iso(t), "actor": f"drillkit:{actor}", "action": action, "api_call": api_call, "result": result}


_templates = Environment(
    loader=PackageLoader("drillkit.evidence", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(document: dict[str, Any], samples: list[dict[str, Any]] | None = None) -> str:
    """The report for a non-engineer: verdict first, a timeline chart, then the detail."""
    injected = next((e["t"] for e in document["timeline"] if e["event"] == "fault_injected"), None)
    return _templates.get_template("report.html.j2").render(
        report=document, labels=LABELS, t_inject=injected, chart=chart.timeline(document, samples or [])
    )


def render_artifacts(document: dict[str, Any], samples: list[dict[str, Any]]) -> dict[str, bytes]:
    """Every artifact of a drill, in the order of ARTIFACTS."""
    rendered = {
        "report.json": json.dumps(document, indent=2, sort_keys=False).encode(),
        "report.html": render_html(document, samples).encode(),
        "junit.xml": junit.render(document),
        "summary.md": summary.render(document),
        "samples.jsonl": "".join(json.dumps(s, separators=(",", ":")) + "\n" for s in samples).encode(),
    }
    return {name: rendered[name] for name in ARTIFACTS}


def publish(
    store: EvidenceStore, document: dict[str, Any], samples: list[dict[str, Any]], sealer: Sealer | None = None, attempts: int = 5
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
    for attempt in range(1, attempts + 1):
        document["integrity"] = sealer.integrity(ARTIFACTS)
        document["identity"]["frameworks"] = frameworks.served_by(document)
        try:
            return sealer.seal(document, render_artifacts(document, samples))
        except ChainMoved:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def notify(topic_arn: str, document: dict[str, Any], keys: dict[str, str]) -> None:
    """The drill's summary.md, plus where its sealed artifacts are, to the drill topic."""
    lines = [summary.render(document).decode(), "Artifacts in the evidence bucket:"]
    lines += [f"  {key}" for key in keys.values()]
    with aws.aws_call("Publish", topic_arn):
        aws.client("sns").publish(
            TopicArn=topic_arn,
            Subject=f"drillkit {document['verdict']}: {document['scenario']['name']}"[:100],
            Message="\n".join(lines),
            MessageAttributes={
                "verdict": {"DataType": "String", "StringValue": document["verdict"]},
                "scenario": {"DataType": "String", "StringValue": document["scenario"]["name"]},
            },
        )
