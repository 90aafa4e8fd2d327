"""unlock's rules against a mocked account: never under a running drill or its safety net, and always recorded."""

from __future__ import annotations

import json

import boto3
import pytest

from drillkit import client
from drillkit.errors import EnvironmentLocked
from drillkit.record import DrillRecord, Phase

from ..reports import drill_context
from .conftest import BUCKET, TABLE

ENV = "route53/Z123/app.example.com."
DRILL = "drill-under-test-20260101T000000Z-0001"


@pytest.fixture
def deployment(account) -> client.Deployment:
    sfn = boto3.client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/drill"
    definition = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}})
    machine = sfn.create_state_machine(name="drill", definition=definition, roleArn=role)["stateMachineArn"]
    return client.Deployment(machine, TABLE, BUCKET, "us-east-1", label="test account")


@pytest.fixture
def drill(deployment, scenario_dict):
    def start(phase: str, stopped: bool) -> str:
        sfn = deployment.client("stepfunctions")
        execution = sfn.start_execution(stateMachineArn=deployment.state_machine_arn, name=DRILL, input="{}")["executionArn"]
        if stopped:
            sfn.stop_execution(executionArn=execution, error="DrillStopped", cause="test")
        ledger = client.ledger(deployment)
        ledger.acquire_lock(ENV, DRILL, 7200)
        context = drill_context(scenario_dict, DRILL).model_copy(update={"execution_id": execution, "environment_key": ENV})
        ledger.create(DrillRecord(context=context, phase=Phase(phase)))
        return execution

    return start


def test_a_lock_whose_drill_runs_is_not_released(deployment, drill):
    drill("observe", stopped=False)

    with pytest.raises(EnvironmentLocked, match="whose execution is RUNNING"):
        client.unlock(deployment, ENV, "carol", "looks stuck")

    assert client.ledger(deployment).lock_holder(ENV)["drill_id"] == DRILL
    assert client.ledger(deployment).unlock_audit(ENV) == []


def test_a_lock_whose_drill_ended_unreported_waits_for_the_safety_net_unless_forced(deployment, drill):
    # Given a drill stopped mid-restore, not reported yet: its safety net may be restoring
    drill("restore", stopped=True)

    with pytest.raises(EnvironmentLocked, match="safety net may still be restoring"):
        client.unlock(deployment, ENV, "carol", "safety net crashed")
    assert client.ledger(deployment).lock_holder(ENV) is not None

    # When forced: released, and the audit item says so
    released = client.unlock(deployment, ENV, "carol", "safety net crashed", force=True)

    assert client.ledger(deployment).lock_holder(ENV) is None
    [audit] = client.ledger(deployment).unlock_audit(ENV)
    assert audit["released_by"] == "carol" and audit["reason"] == "safety net crashed"
    assert "ended ABORTED" in audit["why_stale"] and "--force" in audit["why_stale"]
    assert released["drill_id"] == DRILL


def test_a_lock_whose_drill_was_reported_is_released_and_recorded(deployment, drill):
    drill("done", stopped=True)

    released = client.unlock(deployment, ENV, "carol", "lock left behind")

    assert client.ledger(deployment).lock_holder(ENV) is None
    assert [a["drill_id"] for a in client.ledger(deployment).unlock_audit(ENV)] == [DRILL]
    assert released["unrestored"] == []
