"""Test helpers for drill reports: schema validation and report building without AWS."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from drillkit.measure import MilestoneTracker
from drillkit.model import DrillContext, FailoverEndpoint, Injection, ResolvedTarget, RestoreProgress, UndoRecord
from drillkit.readings import DnsClientReading, DnsReading, HealthCheckReading, HttpReading, Reading
from drillkit.record import Approval, DrillRecord, Observation
from drillkit.spec import parse_scenario

from .conftest import ROOT

SCHEMA_PATH = ROOT / "docs" / "report.schema.json"


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def schema_errors(document: dict[str, Any]) -> list[str]:
    errors = sorted(validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]


def assert_valid_report(document: dict[str, Any]) -> None:
    """Fail naming every field of report.json that does not match docs/report.schema.json."""
    problems = schema_errors(document)
    assert not problems, "report.json does not match docs/report.schema.json:\n  " + "\n  ".join(problems)


# -- building reports without AWS -----------------------------------------------------
T0 = 1_795_000_000.0  # 2026-11-17T...Z
T_INJECT = T0 + 5.0


# The replicated stores of the data-stores tests: a DynamoDB global table and an S3 bucket that replicates.
PRIMARY, STANDBY = "us-east-1", "us-west-2"
TABLE_STORE = {"kind": "dynamodb-global-table", "table": "payments", "primary_region": PRIMARY, "standby_region": STANDBY}
BUCKET_STORE = {
    "kind": "s3-replication",
    "name": "records",
    "bucket": "lab-records",
    "destination_bucket": "lab-records-replica",
    "prefix": "records/",
    "primary_region": PRIMARY,
    "standby_region": STANDBY,
}


def with_stores(scenario_dict: dict, *stores: dict, rpo_seconds: float | None = None) -> dict:
    """A copy of the scenario whose data are these replicated stores (and its RPO objective, if given)."""
    changed = copy.deepcopy(scenario_dict)
    changed["data"] = {"stores": list(stores)}
    if rpo_seconds is not None:
        changed["objectives"]["rpo_seconds"] = rpo_seconds
    return changed


def drill_context(scenario_dict: dict, drill_id: str = "region-failover-health-check-20261117T000000Z-ab12") -> DrillContext:
    target = ResolvedTarget(
        hosted_zone_id="Z123",
        record_name="app.drillkit.lab.",
        record_type="A",
        primary=FailoverEndpoint(side="primary", set_identifier="primary", values=("127.10.0.1",), health_check_id="hc-1"),
        standby=FailoverEndpoint(side="standby", set_identifier="standby", values=("127.20.0.1",)),
    )
    return DrillContext(
        drill_id=drill_id,
        environment_key="route53/Z123/app.drillkit.lab.",
        requested_by="alice",
        scenario=parse_scenario(scenario_dict),
        network={},
        target=target,
        started_at=T0,
        execution_id="arn:aws:states:us-east-1:123456789012:execution:drill:x",
    )


def samples_after_injection(detection: float, dns: float, recovery: float) -> list[Reading]:
    """Readings once a second; each milestone shows from its offset on."""
    readings: list[Reading] = []
    for i in range(0, 40):
        t = T_INJECT + i * 1.0
        offset = t - T_INJECT
        readings.append(HealthCheckReading(t=t, healthy=offset < detection))
        readings.append(DnsReading(t=t, side="standby" if offset >= dns else "primary"))
        readings.append(DnsClientReading(t=t, side="standby" if offset >= dns else "primary"))
        readings.append(HttpReading(t=t, ok=True, side="standby" if offset >= recovery else "primary"))
    return readings


def finished_state(context: DrillContext, verified: bool = True) -> dict:
    """Each step's piece of a drill that ran to its end, by the $ key the machine carries it under."""
    injection = Injection(
        fault="health-check-inversion", resource_id="hc-1", undo_seq=1, t_before=T_INJECT - 0.1, t_inject=T_INJECT
    )
    tracker = MilestoneTracker(t_inject=T_INJECT, hold_samples=context.scenario.sampling.hold_samples)
    return {
        "drill": {"drill_id": context.drill_id},
        "steady": {"done": True, "reached": True, "started_at": T0 + 1, "deadline": T0 + 61, "reached_at": T0 + 3, "samples": 9},
        "injection": injection.model_dump(mode="json"),
        "observation": Observation(batch=1, tracker=tracker, done=True, reason="complete").model_dump(mode="json"),
        "restore": finished_restore(T0 + 50, [{"seq": 1, "resource_id": "hc-1", "status": "restored", "t": T0 + 51}]),
        "verification": {
            "done": True,
            "verified": verified,
            "t": T0 + 55,
            "resources": {"hc-1": verified},
            "problems": [] if verified else ["primary not serving"],
        },
    }


def finished_restore(started_at: float, records: list[dict]) -> dict:
    return RestoreProgress(
        started_at=started_at, ended_at=started_at + 1, records=records, done=True, budget_seconds=300, retry_in_seconds=2
    ).model_dump(mode="json")


CAUGHT = ("error", "restore_error", "verify_error", "approval_error")


def record_of(context: DrillContext, state: dict, plan: str | None = None) -> DrillRecord:
    """The record of a drill whose steps saved these pieces (``state``: by the $ keys, as finished_state writes them).

    An ``approval`` here is what the approval task returned ({approved_by, approved_at}): recorded as approved.
    """
    granted = state.get("approval")
    approval = (
        Approval(
            status="approved",
            task_token="token",
            requested_at=T0 - 60,
            expires_at=T0 + 1800,
            decided_by=granted["approved_by"],
            decided_at=granted["approved_at"],
        )
        if granted
        else None
    )
    pieces = {key: value for key, value in state.items() if key not in ("drill", "steady", "approval", *CAUGHT)}
    return DrillRecord.model_validate(
        {
            "context": context,
            "plan": plan,
            "approval": approval,
            "steady_state": state.get("steady"),
            "caught": {key: state[key] for key in CAUGHT if key in state},
            **pieces,
        }
    )


UNDO = [
    UndoRecord(
        seq=1,
        fault="health-check-inversion",
        resource_id="hc-1",
        prior={"resource_id": "hc-1", "method": "default", "inverted": False},
        status="restored",
        restored_at=T0 + 51,
    )
]
