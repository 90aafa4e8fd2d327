"""Preflight against a mocked account: it resolves, locks and records, and touches nothing."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from drillkit import aws, drill
from drillkit.errors import ChangeFreeze, EnvironmentLocked, ScenarioInvalid, TargetNotAllowed, TargetNotFound
from drillkit.ledger import Ledger
from drillkit.record import Phase

from .conftest import RECORD, STANDBY_ADDRESS, TABLE, recorded


def inverted(account) -> bool:
    config = account.route53.get_health_check(HealthCheckId=account.primary_check_id)["HealthCheck"]["HealthCheckConfig"]
    return bool(config.get("Inverted", False))


def ledger_items(account) -> list[dict]:
    return account.table.scan()["Items"]


def test_preflight_resolves_both_failover_records_and_takes_the_lock(account, request_for):
    ref = drill.preflight(request_for(), execution_id="arn:exec", execution_name="drill-one-0001")

    # $.drill carries only the id and what the Choice states read; the context is in the record.
    assert ref == {"drill_id": "drill-one-0001", "blocked": False, "approval_required": False, "approval_timeout_seconds": 1800}
    record = recorded(ref)
    context = record.context
    assert record.phase == Phase.PREFLIGHT and context.execution_id == "arn:exec"
    assert context.target.primary.health_check_id == account.primary_check_id
    assert context.target.primary.values == ("192.0.2.10",)
    assert context.target.standby is not None and context.target.standby.values == (STANDBY_ADDRESS,)
    assert (Ledger(TABLE).lock_holder(context.environment_key) or {})["drill_id"] == "drill-one-0001"
    assert f"Inverted=True on Route 53 health check {account.primary_check_id}" in (record.plan or "")
    assert inverted(account) is False  # preflight never changes anything


def test_a_second_drill_on_the_same_environment_is_refused_naming_the_running_one(account, request_for):
    drill.preflight(request_for(), execution_id=None, execution_name="drill-one-0001")

    with pytest.raises(EnvironmentLocked, match="locked by drill drill-one-0001"):
        drill.preflight(request_for(), execution_id=None, execution_name="drill-two-0002")

    assert Ledger(TABLE).load("drill-two-0002") is None


def test_invalid_field_is_rejected_by_name_before_anything_is_read_or_written(account, request_for):
    with pytest.raises(ScenarioInvalid) as raised:
        drill.preflight(request_for(sampling__interval_seconds=0), execution_id=None, execution_name="drill-bad-0001")

    assert [field for field, _ in raised.value.problems] == ["scenario.sampling.interval_seconds"]
    assert "scenario.sampling.interval_seconds" in str(raised.value)
    assert ledger_items(account) == []
    assert inverted(account) is False


def test_a_stack_without_secondary_record_is_blocked_by_readiness_because_there_is_nothing_to_fail_over_to(account, request_for):
    standby = account.route53.list_resource_record_sets(HostedZoneId=account.zone_id)["ResourceRecordSets"]
    secondary = next(r for r in standby if r.get("Failover") == "SECONDARY")
    account.route53.change_resource_record_sets(
        HostedZoneId=account.zone_id, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": secondary}]}
    )

    ref = drill.preflight(request_for(), execution_id=None, execution_name="drill-one-0001")

    # The drill goes on to its report (FAIL) without injecting: the machine's Ready choice skips to Report.
    assert ref["blocked"] is True
    [finding] = [f for f in recorded(ref).context.readiness if f.blocking]
    assert finding.code == "NO_SECONDARY_RECORD"
    assert f"no SECONDARY failover record for {RECORD}" in finding.message
    assert not [i for i in ledger_items(account) if i["sk"].startswith("UNDO#")]


def test_an_unknown_zone_is_named(account, request_for):
    request = request_for()
    request["scenario"]["target"].update(hosted_zone="nowhere.test.", record_name="app.nowhere.test.")

    with pytest.raises(TargetNotFound, match="target.hosted_zone: no public hosted zone named nowhere.test."):
        drill.preflight(request, execution_id=None, execution_name="drill-one-0001")


def test_a_health_check_without_the_allow_tag_is_refused_before_anything_is_written(account, request_for):
    account.route53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=account.primary_check_id, RemoveTagKeys=["drillkit:allow"]
    )

    with pytest.raises(TargetNotAllowed, match=f"{account.primary_check_id}.*does not carry the tag drillkit:allow=true"):
        drill.preflight(request_for(), execution_id=None, execution_name="drill-untagged-0001")

    assert ledger_items(account) == []


def calendar_says(state: str) -> Stubber:
    """SSM GetCalendarState for the calendar the scenario names (moto has no Change Calendar state)."""
    stubber = Stubber(aws.client("ssm"))
    answer = {"State": state, "AtTime": "2026-12-02T08:00:00Z", "NextTransitionTime": "2026-12-03T00:00:00Z"}
    stubber.add_response("get_calendar_state", answer, {"CalendarNames": ["release-freeze"]})
    stubber.activate()
    return stubber


def test_a_scenario_whose_change_calendar_is_closed_is_refused_naming_it_before_anything_is_written(account, request_for):
    # Given a scenario that names a change calendar, CLOSED now
    with calendar_says("CLOSED") as stubber:
        # When its drill's preflight runs
        with pytest.raises(ChangeFreeze) as raised:
            drill.preflight(request_for(change_calendar="release-freeze"), "arn:exec", execution_name="drill-frozen-1")
        stubber.assert_no_pending_responses()
    # Then it is refused naming the calendar, the drill and when the calendar opens again; no lock, no record
    message = str(raised.value)
    assert "change_calendar release-freeze is CLOSED" in message and "drill drill-frozen-1 of scenario" in message
    assert "opens again at 2026-12-03T00:00:00Z" in message
    assert ledger_items(account) == []


def test_a_scenario_whose_change_calendar_is_open_starts(account, request_for):
    with calendar_says("OPEN") as stubber:
        ref = drill.preflight(request_for(change_calendar="release-freeze"), "arn:exec", execution_name="drill-open-1")
        stubber.assert_no_pending_responses()
    assert recorded(ref).context.scenario.change_calendar == "release-freeze"
    assert (Ledger(TABLE).lock_holder(recorded(ref).context.environment_key) or {})["drill_id"] == "drill-open-1"
