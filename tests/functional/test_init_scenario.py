"""`drillkit init`: a scenario written from what the account holds behind a failover record, sized from AWS's timings."""

from __future__ import annotations

import boto3
import pytest
import yaml
from typer.testing import CliRunner

from drillkit import cli
from drillkit.spec import parse_scenario

ZONE, RECORD = "shop.test.", "www.shop.test."


def _alb(region: str, name: str, cidr: str, delay: int) -> dict:
    """An internet-facing ALB with an HTTPS listener forwarding to a target group (deregistration delay ``delay``)."""
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    base = cidr.split("/")[0].rsplit(".", 2)[0]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base}.{i}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    elbv2 = boto3.client("elbv2", region_name=region)
    balancer = elbv2.create_load_balancer(Name=name, Subnets=subnets, Type="application")["LoadBalancers"][0]
    group = elbv2.create_target_group(
        Name=f"{name}-tg", Protocol="HTTP", Port=8080, VpcId=vpc, HealthCheckIntervalSeconds=15, HealthyThresholdCount=4
    )["TargetGroups"][0]
    attribute = {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}
    elbv2.modify_target_group_attributes(TargetGroupArn=group["TargetGroupArn"], Attributes=[attribute])
    certificate = boto3.client("acm", region_name=region).request_certificate(DomainName="www.shop.test")["CertificateArn"]
    elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    return {**balancer, "target_group_arn": group["TargetGroupArn"]}


@pytest.fixture
def failover_stack(aws_env):
    """www.shop.test: alias failover records to an ALB per region, a health check (10 s x 3) on the primary, an alarm."""
    primary = _alb("us-east-1", "shop-east", "10.1.0.0/16", delay=120)
    standby = _alb("us-west-2", "shop-west", "10.2.0.0/16", delay=30)
    route53 = boto3.client("route53")
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference="init-test")["HostedZone"]["Id"].split("/")[-1]
    check = {"Type": "HTTPS", "FullyQualifiedDomainName": primary["DNSName"], "Port": 443, "ResourcePath": "/health"}
    check_id = route53.create_health_check(
        CallerReference="init-primary", HealthCheckConfig={**check, "RequestInterval": 10, "FailureThreshold": 3}
    )["HealthCheck"]["Id"]
    changes = []
    for role, balancer, health in (("PRIMARY", primary, check_id), ("SECONDARY", standby, None)):
        alias = {"HostedZoneId": balancer["CanonicalHostedZoneId"], "DNSName": balancer["DNSName"], "EvaluateTargetHealth": False}
        record = {"Name": RECORD, "Type": "A", "SetIdentifier": role.lower(), "Failover": role, "AliasTarget": alias}
        changes.append({"Action": "CREATE", "ResourceRecordSet": {**record, **({"HealthCheckId": health} if health else {})}})
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_alarm(
        AlarmName="shop-primary-down",
        Namespace="AWS/Route53",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": "HealthCheckId", "Value": check_id}],
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=2,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_alarm(
        AlarmName="someone-elses-alarm",
        Namespace="AWS/Route53",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": "HealthCheckId", "Value": "not-ours"}],
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )
    return {"check_id": check_id, "primary": primary, "standby": standby}


def test_init_writes_a_valid_scenario_sized_from_the_health_check_ttl_and_alarms(failover_stack, tmp_path):
    out = tmp_path / "drills" / "shop.yaml"

    result = CliRunner().invoke(cli.app, ["init", ZONE, RECORD, "--out", str(out), "--region", "us-east-1"])

    assert result.exit_code == 0, result.output
    text = out.read_text()
    scenario = parse_scenario(yaml.safe_load(text))
    assert scenario.target.record_name == RECORD and scenario.target.url_scheme == "https"
    assert scenario.fault.type == "health-check-inversion"
    # Route 53: 10 s checks x 3 failures, one more for the checkers' stagger and a 5 s sample; 60 s to reach its name
    # servers; then the alias's 60 s TTL; recovery holds two samples
    assert scenario.sampling.interval_seconds == 5
    assert scenario.objectives.detection_seconds == 45
    assert scenario.objectives.dns_cutover_seconds == 105
    assert scenario.objectives.client_cutover_seconds == 165
    assert scenario.objectives.recovery_seconds == 175
    assert scenario.objectives.alerting_seconds == 45 + 2 * 60
    assert scenario.sampling.observe_timeout_seconds == 350
    # only the alarm that watches the primary's health check
    assert [(a.name, a.region) for a in scenario.alarms] == [("shop-primary-down", "us-east-1")]
    # what it found is said in the file: the check, both ALBs, the target groups' delays
    assert f"health check {failover_stack['check_id']}: HTTPS, every 10 s, failure threshold 3" in text
    assert "ALB shop-east in us-east-1, listeners HTTPS:443" in text and "ALB shop-west in us-west-2" in text
    assert "deregistration delay 120 s" in text and "deregistration delay 30 s" in text
    assert "interval_seconds: 5  # half the health check's 10 s interval" in text


def test_fail_targets_observes_through_the_deregistration_delay_and_names_the_primary_alb(failover_stack, tmp_path):
    out = tmp_path / "fail.yaml"

    result = CliRunner().invoke(cli.app, ["init", ZONE, RECORD, "-o", str(out), "--fault=fail-targets", "--region", "us-west-2"])

    assert result.exit_code == 0, result.output
    scenario = parse_scenario(yaml.safe_load(out.read_text()))
    assert scenario.fault.type == "fail-targets"
    assert scenario.sampling.observe_timeout_seconds == 350 + 120  # the primary's target group drains for 120 s
    assert "acts on the primary ALB the record points at: shop-east (us-east-1)" in out.read_text()


def test_init_refuses_to_overwrite_unless_forced(failover_stack, tmp_path):
    out = tmp_path / "mine.yaml"
    out.write_text("# my own scenario\n")

    refused = CliRunner().invoke(cli.app, ["init", ZONE, RECORD, "-o", str(out), "--region", "us-east-1"])

    assert refused.exit_code == 2 and "exists" in refused.output and "--force" in refused.output
    assert out.read_text() == "# my own scenario\n"
    forced = CliRunner().invoke(cli.app, ["init", ZONE, RECORD, "-o", str(out), "--force", "--region", "us-east-1"])
    assert forced.exit_code == 0, forced.output
    assert parse_scenario(yaml.safe_load(out.read_text())).name == "www-health-check-inversion"


def test_a_record_that_is_not_there_is_named_and_nothing_is_written(failover_stack, tmp_path):
    out = tmp_path / "none.yaml"

    result = CliRunner().invoke(cli.app, ["init", ZONE, "api.shop.test.", "-o", str(out), "--region", "us-east-1"])

    assert result.exit_code == 2
    assert "target.record_name: no record api.shop.test." in " ".join(result.output.split())
    assert not out.exists()


def test_a_fault_the_stack_cannot_take_is_refused_by_name(failover_stack, tmp_path):
    out = tmp_path / "db.yaml"

    result = CliRunner().invoke(cli.app, ["init", ZONE, RECORD, "-o", str(out), "--fault", "stop-cluster"])

    assert result.exit_code == 2 and "no Aurora global cluster" in " ".join(result.output.split())
    assert not out.exists()


def test_a_zone_that_is_not_a_dns_name_is_named_by_field_and_nothing_is_written(aws_env, tmp_path):
    out = tmp_path / "bad.yaml"

    result = CliRunner().invoke(cli.app, ["init", "shop test", RECORD, "-o", str(out), "--region", "us-east-1"])

    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "target.hosted_zone: 'shop test' is not a DNS name" in " ".join(result.output.split())
    assert not out.exists()


def test_a_global_cluster_writing_in_the_primary_s_region_gives_the_heartbeat_and_the_stop_cluster_fault(
    failover_stack, tmp_path
):
    # Given an Aurora global database: its writer in us-east-1 (the primary ALB's region), RDS managing its secret
    boto3.client("rds", region_name="us-east-1").create_global_cluster(
        GlobalClusterIdentifier="shop-global", Engine="aurora-postgresql"
    )
    writer = boto3.client("rds", region_name="us-east-1").create_db_cluster(
        DBClusterIdentifier="shop-east-db",
        Engine="aurora-postgresql",
        MasterUsername="app",
        ManageMasterUserPassword=True,
        GlobalClusterIdentifier="shop-global",
    )["DBCluster"]
    reader = boto3.client("rds", region_name="us-west-2").create_db_cluster(
        DBClusterIdentifier="shop-west-db", Engine="aurora-postgresql", GlobalClusterIdentifier="shop-global"
    )["DBCluster"]
    out = tmp_path / "db.yaml"

    result = CliRunner().invoke(cli.app, ["init", ZONE, RECORD, "-o", str(out), "--fault=stop-cluster", "--region", "us-east-1"])

    assert result.exit_code == 0, result.output
    scenario = parse_scenario(yaml.safe_load(out.read_text()))
    assert scenario.fault.type == "stop-cluster" and scenario.fault.method == "global-failover"
    assert scenario.fault.cluster == writer["DBClusterArn"]
    heartbeat = scenario.data.heartbeat
    assert heartbeat is not None
    assert (heartbeat.primary_cluster_arn, heartbeat.standby_cluster_arn) == (writer["DBClusterArn"], reader["DBClusterArn"])
    assert heartbeat.secret_arn == writer["MasterUserSecret"]["SecretArn"]
