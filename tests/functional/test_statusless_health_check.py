"""A PRIMARY record whose health check has no GetHealthCheckStatus (calculated) is blocked by readiness, by name."""

from __future__ import annotations

from drillkit import drill

from .conftest import recorded, tag_list


def test_a_calculated_health_check_on_the_primary_record_is_a_blocking_readiness_finding(account, request_for):
    # Given the PRIMARY record's health check is a calculated one over the endpoint check
    calculated = account.route53.create_health_check(
        CallerReference="calculated-primary",
        HealthCheckConfig={"Type": "CALCULATED", "ChildHealthChecks": [account.primary_check_id], "HealthThreshold": 1},
    )["HealthCheck"]["Id"]
    account.route53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=calculated, AddTags=tag_list())
    records = account.route53.list_resource_record_sets(HostedZoneId=account.zone_id)["ResourceRecordSets"]
    primary = next(r for r in records if r.get("Failover") == "PRIMARY")
    account.route53.change_resource_record_sets(
        HostedZoneId=account.zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {**primary, "HealthCheckId": calculated}}]},
    )

    # When preflight runs
    ref = drill.preflight(request_for(), execution_id=None, execution_name="drill-calc-0001")

    # Then the drill is blocked by a finding that names the check and its type, and nothing was written to undo
    assert ref["blocked"] is True
    [finding] = [f for f in recorded(ref).context.readiness if f.blocking]
    assert finding.code == "HEALTH_CHECK_STATUS_UNREADABLE"
    assert finding.severity == "critical"
    assert calculated in finding.message and "CALCULATED" in finding.message
    assert not [i for i in account.table.scan()["Items"] if i["sk"].startswith("UNDO#")]
