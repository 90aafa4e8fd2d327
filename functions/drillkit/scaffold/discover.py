"""What `drillkit init` finds behind a failover record: read-only, through the readiness survey's reads.

From a hosted zone and a record name: the PRIMARY and SECONDARY failover records, their Route 53 health checks,
the load balancers their alias (or CNAME) targets name with the target groups behind them, the Aurora global
cluster whose writer is in the primary's region, and the CloudWatch alarms that watch any of these.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

from drillkit import discovery
from drillkit.discovery import LoadBalancer
from drillkit.errors import ScenarioInvalid
from drillkit.model import FailoverEndpoint, Side
from drillkit.readiness.survey import Survey
from drillkit.spec import HealthCheckInversion, Network, Scenario, Target, describe_validation_error

ROUTE53_METRICS_REGION = "us-east-1"  # Route 53 publishes health-check metrics in us-east-1 only


class _Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HealthCheckFacts(_Fact):
    id: str
    type: str
    request_interval_seconds: int | None  # None: a calculated check (its children are checked)
    failure_threshold: int | None
    inverted: bool = False


class TargetGroupFacts(_Fact):
    arn: str
    deregistration_delay_seconds: int
    health_interval_seconds: int
    healthy_threshold: int


class BalancerFacts(_Fact):
    name: str
    arn: str
    region: str
    listeners: tuple[tuple[str, int], ...]
    target_groups: tuple[TargetGroupFacts, ...]


class SideFacts(_Fact):
    side: Side
    values: tuple[str, ...]
    ttl_seconds: int | None  # None: an alias record (Route 53 answers an alias to a load balancer with 60 s)
    health_check: HealthCheckFacts | None
    balancer: BalancerFacts | None


class GlobalClusterFacts(_Fact):
    identifier: str
    primary_cluster_arn: str
    standby_cluster_arn: str | None
    secret_arn: str | None  # the writer's MasterUserSecret, when RDS manages it


class AlarmFacts(_Fact):
    name: str
    region: str
    watches: str
    period_seconds: int
    evaluation_periods: int


class DiscoveredStack(_Fact):
    hosted_zone: str
    record_name: str
    record_type: str
    primary: SideFacts
    standby: SideFacts | None
    global_cluster: GlobalClusterFacts | None
    alarms: tuple[AlarmFacts, ...]

    @property
    def primary_region(self) -> str | None:
        return self.primary.balancer.region if self.primary.balancer else None

    @property
    def standby_region(self) -> str | None:
        return self.standby.balancer.region if self.standby and self.standby.balancer else None


def discover(hosted_zone: str, record_name: str, record_type: str = "A") -> DiscoveredStack:
    """Everything a scenario for this record needs, read from the account (raises TargetNotFound naming the field)."""
    try:
        target = Target.model_validate({"hosted_zone": hosted_zone, "record_name": record_name, "record_type": record_type})
    except ValidationError as error:
        raise ScenarioInvalid(describe_validation_error(error, prefix="target.")) from None
    resolved = discovery.resolve_target(target)
    provisional = Scenario(name="init", target=target, fault=HealthCheckInversion(type="health-check-inversion"))
    survey = Survey(scenario=provisional, target=resolved, network=Network())
    primary = _side(survey, resolved.primary)
    standby = _side(survey, resolved.standby) if resolved.standby else None
    cluster = _global_cluster(survey, primary, standby)
    return DiscoveredStack(
        hosted_zone=target.hosted_zone,
        record_name=target.record_name,
        record_type=target.record_type,
        primary=primary,
        standby=standby,
        global_cluster=cluster,
        alarms=tuple(_alarms(survey, primary, cluster)),
    )


def _side(survey: Survey, endpoint: FailoverEndpoint) -> SideFacts:
    check = None
    if endpoint.health_check_id:
        config = survey.health_check(endpoint.health_check_id)
        check = HealthCheckFacts(
            id=endpoint.health_check_id,
            type=str(config.get("Type", "")),
            request_interval_seconds=config.get("RequestInterval") if config.get("Type") != "CALCULATED" else None,
            failure_threshold=config.get("FailureThreshold") if config.get("Type") != "CALCULATED" else None,
            inverted=bool(config.get("Inverted", False)),
        )
    balancer = survey.balancer(endpoint.side)
    return SideFacts(
        side=endpoint.side,
        values=endpoint.values,
        ttl_seconds=endpoint.ttl,
        health_check=check,
        balancer=_balancer(survey, balancer) if balancer else None,
    )


def _balancer(survey: Survey, balancer: LoadBalancer) -> BalancerFacts:
    groups = []
    for arn in survey.target_groups(balancer):
        described = survey.target_group(balancer.region, arn)
        attributes = survey.target_group_attributes(balancer.region, arn)
        groups.append(
            TargetGroupFacts(
                arn=arn,
                # 300 s is the documented default when the attribute is absent
                deregistration_delay_seconds=int(attributes.get("deregistration_delay.timeout_seconds", "300")),
                health_interval_seconds=int(described.get("HealthCheckIntervalSeconds", 30)),
                healthy_threshold=int(described.get("HealthyThresholdCount", 5)),
            )
        )
    listeners = tuple((str(item.get("Protocol", "")), int(item.get("Port", 0))) for item in survey.listeners(balancer))
    return BalancerFacts(
        name=balancer.name, arn=balancer.arn, region=balancer.region, listeners=listeners, target_groups=tuple(groups)
    )


def _global_cluster(survey: Survey, primary: SideFacts, standby: SideFacts | None) -> GlobalClusterFacts | None:
    """The global cluster whose writer is in the primary's region (its secondary in the standby's, when known)."""
    if primary.balancer is None:
        return None
    region = primary.balancer.region
    standby_region = standby.balancer.region if standby and standby.balancer else None
    for cluster in survey.global_clusters(region):
        members = cluster.get("GlobalClusterMembers", [])
        writer = next((m["DBClusterArn"] for m in members if m.get("IsWriter")), None)
        if writer is None or writer.split(":")[3] != region:
            continue
        readers = [m["DBClusterArn"] for m in members if not m.get("IsWriter")]
        standby_arn = next((arn for arn in readers if arn.split(":")[3] == standby_region), readers[0] if readers else None)
        described = survey.db_cluster(region, writer) or {}
        secret = (described.get("MasterUserSecret") or {}).get("SecretArn")
        return GlobalClusterFacts(
            identifier=str(cluster["GlobalClusterIdentifier"]),
            primary_cluster_arn=writer,
            standby_cluster_arn=standby_arn,
            secret_arn=secret,
        )
    return None


def _watched(primary: SideFacts, cluster: GlobalClusterFacts | None) -> dict[tuple[str, str], str]:
    """(dimension name, value) -> what it is, for everything of the primary an alarm may watch."""
    watched: dict[tuple[str, str], str] = {}
    if primary.health_check:
        watched[("HealthCheckId", primary.health_check.id)] = f"the primary's health check {primary.health_check.id}"
    if primary.balancer:
        watched[("LoadBalancer", primary.balancer.arn.split(":loadbalancer/")[-1])] = f"the primary ALB {primary.balancer.name}"
        for group in primary.balancer.target_groups:
            watched[("TargetGroup", group.arn.split(":")[-1])] = "the primary's target group"
    if cluster:
        identifier = cluster.primary_cluster_arn.split(":")[-1]
        watched[("DBClusterIdentifier", identifier)] = f"the primary cluster {identifier}"
    return watched


def _alarms(survey: Survey, primary: SideFacts, cluster: GlobalClusterFacts | None) -> list[AlarmFacts]:
    watched = _watched(primary, cluster)
    regions = [ROUTE53_METRICS_REGION] + ([primary.balancer.region] if primary.balancer else [])
    found: list[AlarmFacts] = []
    for region in dict.fromkeys(regions):
        for alarm in survey.metric_alarms(region):
            what = next(
                (watched[(d["Name"], d["Value"])] for d in alarm.get("Dimensions", []) if (d["Name"], d["Value"]) in watched),
                None,
            )
            if what is None or any(a.name == alarm["AlarmName"] and a.region == region for a in found):
                continue
            found.append(
                AlarmFacts(
                    name=alarm["AlarmName"],
                    region=region,
                    watches=f"{alarm.get('MetricName', '?')} of {what}",
                    period_seconds=int(alarm.get("Period", 60)),
                    evaluation_periods=int(alarm.get("EvaluationPeriods", 1)),
                )
            )
    return found
