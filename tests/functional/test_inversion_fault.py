"""Health-check inversion: write-ahead undo, idempotent apply and restore."""

from __future__ import annotations

import pytest

from drillkit import drill
from drillkit.errors import AwsCallFailed, DrillStateInvalid, RestoreFailed
from drillkit.faults import health_check_inversion as inversion
from drillkit.faults.priors import InvertedCheck
from drillkit.ledger import UNDO_APPLIED, UNDO_RESTORED, Ledger
from drillkit.model import DrillContext

from .conftest import TABLE, recorded


@pytest.fixture
def context(account, request_for) -> DrillContext:
    return recorded(drill.preflight(request_for(), execution_id=None, execution_name="drill-inv-0001")).context


def inverted(account) -> bool:
    config = account.route53.get_health_check(HealthCheckId=account.primary_check_id)["HealthCheck"]["HealthCheckConfig"]
    return bool(config.get("Inverted", False))


def set_inverted(account, value: bool) -> None:
    account.route53.update_health_check(HealthCheckId=account.primary_check_id, Inverted=value)


@pytest.mark.parametrize("originally", [False, True])
def test_apply_flips_the_captured_value_and_restore_puts_it_back(account, context, originally):
    set_inverted(account, originally)
    prior = inversion.FAULT.capture(context.scenario.fault, context.target)

    inversion.FAULT.apply(context.scenario.fault, context.target, prior)
    assert inverted(account) is (not originally)
    assert inversion.FAULT.is_restored(prior) is False

    inversion.FAULT.restore(prior)
    assert inverted(account) is originally
    assert inversion.FAULT.is_restored(prior) is True


def test_a_retried_apply_does_not_toggle_the_change_back(account, context):
    prior = inversion.FAULT.capture(context.scenario.fault, context.target)
    inversion.FAULT.apply(context.scenario.fault, context.target, prior)
    inversion.FAULT.apply(context.scenario.fault, context.target, prior)  # e.g. a Lambda retry after a timeout
    assert inverted(account) is True


def test_a_retried_injection_reuses_the_first_undo_record(account, context):
    ledger = Ledger(TABLE)
    first = ledger.put_undo(context.drill_id, 1, fault=inversion.TYPE, resource_id="hc", prior={"inverted": False})
    # the retry captures after the first attempt had already inverted the check
    second = ledger.put_undo(context.drill_id, 1, fault=inversion.TYPE, resource_id="hc", prior={"inverted": True})
    assert second.prior == first.prior == {"inverted": False}
    assert len(ledger.list_undo(context.drill_id)) == 1


def test_an_undo_record_that_does_not_read_is_named_not_replayed_half_understood(account, context):
    ledger = Ledger(TABLE)
    ledger.put_undo(context.drill_id, 1, fault=inversion.TYPE, resource_id="hc", prior={"inverted": False})
    # Written by hand (another tool, a broken version): its status is no undo status and its prior is gone.
    ledger.table.update_item(
        Key={"pk": f"DRILL#{context.drill_id}", "sk": "UNDO#001"},
        UpdateExpression="SET #s = :s REMOVE #p",
        ExpressionAttributeNames={"#s": "status", "#p": "prior"},
        ExpressionAttributeValues={":s": "half-done"},
    )
    with pytest.raises(DrillStateInvalid, match=r"undo record UNDO#001: prior: Field required; status: "):
        ledger.list_undo(context.drill_id)
    with pytest.raises(DrillStateInvalid, match="undo record UNDO#001"):  # Restore fails naming it: the safety net reports
        drill.restore({"drill": context.model_dump(mode="json")})


def test_restore_step_replays_undo_records_and_is_idempotent(account, context):
    ledger = Ledger(TABLE)
    prior = inversion.FAULT.capture(context.scenario.fault, context.target)
    ledger.put_undo(context.drill_id, 1, fault=inversion.TYPE, resource_id=prior.resource_id, prior=prior.stored())
    inversion.FAULT.apply(context.scenario.fault, context.target, prior)
    ledger.mark_undo(context.drill_id, 1, UNDO_APPLIED)
    state = {"drill": context.model_dump(mode="json")}

    first = drill.restore(state)
    assert inverted(account) is False
    assert [r["status"] for r in first["records"]] == ["restored"]
    assert ledger.get_undo(context.drill_id, 1).status == UNDO_RESTORED

    second = drill.restore(state)
    assert [r["status"] for r in second["records"]] == ["already restored"]
    assert inverted(account) is False


def test_restore_reports_a_record_it_cannot_replay_by_resource_id(account, context):
    ledger = Ledger(TABLE)
    missing = {"resource_id": "00000000-dead-beef-0000-000000000000", "method": "default", "inverted": False}
    ledger.put_undo(context.drill_id, 1, fault=inversion.TYPE, resource_id=missing["resource_id"], prior=missing)

    with pytest.raises(RestoreFailed, match=missing["resource_id"]):
        drill.restore({"drill": context.model_dump(mode="json")})
    assert ledger.get_undo(context.drill_id, 1).status != UNDO_RESTORED


def test_aws_errors_name_the_operation_and_the_health_check(account, context):
    with pytest.raises(AwsCallFailed) as raised:
        inversion.FAULT.restore(InvertedCheck(resource_id="00000000-dead-beef-0000-000000000000", inverted=False))
    assert raised.value.operation == "UpdateHealthCheck"
    assert raised.value.resource_id == "00000000-dead-beef-0000-000000000000"
