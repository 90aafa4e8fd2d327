"""What the readiness checks read, described once per resource and shared between checks.

Every read is a describe/get call made through drillkit.aws (adaptive retries: throttling is retried),
paginated where the API pages. The answers are kept for the survey's lifetime (one preflight), so two
checks of the same resource cost one call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from drillkit import aws
from drillkit.discovery import LoadBalancer, load_balancer_at
from drillkit.errors import AwsCallFailed
from drillkit.findings import Finding
from drillkit.model import FailoverEndpoint, ResolvedTarget, Side
from drillkit.spec import Network, Scenario

BACKUP_PLANS_READ = 100  # drillkit's bound on GetBackupPlan calls per region and preflight


@dataclass(frozen=True)
class Check:
    """One read-only check. ``safety``: it guards the drill against making an outage (a refusal to read blocks)."""

    name: str
    run: Callable[[Survey], Iterable[Finding]]
    safety: bool = False


@dataclass
class Survey:
    scenario: Scenario
    target: ResolvedTarget
    network: Network
    _kept: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def _once(self, key: tuple[str, ...], read: Callable[[], Any]) -> Any:
        """The kept answer, or the kept refusal: a resource is described once even when the call fails."""
        if key not in self._kept:
            try:
                self._kept[key] = read()
            except AwsCallFailed as error:
                self._kept[key] = error
        kept = self._kept[key]
        if isinstance(kept, AwsCallFailed):
            raise kept
        return kept

    @property
    def probe_timeout(self) -> float:
        return self.scenario.sampling.probe_timeout_seconds

    # -- Route 53 --------------------------------------------------------------------
    def health_check(self, health_check_id: str) -> dict[str, Any]:
        """HealthCheckConfig of a health check (route53:GetHealthCheck)."""

        def read() -> dict[str, Any]:
            with aws.aws_call("GetHealthCheck", health_check_id):
                found = aws.target_client("route53").get_health_check(HealthCheckId=health_check_id)
            return dict(found["HealthCheck"]["HealthCheckConfig"])

        return dict(self._once(("GetHealthCheck", health_check_id), read))

    def health_check_status(self, health_check_id: str) -> list[dict[str, Any]]:
        """The checkers' last observations (route53:GetHealthCheckStatus)."""

        def read() -> list[dict[str, Any]]:
            with aws.aws_call("GetHealthCheckStatus", health_check_id):
                found = aws.target_client("route53").get_health_check_status(HealthCheckId=health_check_id)
            return list(found["HealthCheckObservations"])

        return list(self._once(("GetHealthCheckStatus", health_check_id), read))

    # -- load balancers ------------------------------------------------------------
    def endpoint(self, side: Side) -> FailoverEndpoint | None:
        return self.target.primary if side == "primary" else self.target.standby

    def balancer(self, side: Side) -> LoadBalancer | None:
        """The ALB a failover record points at by its DNS name (alias or CNAME), or None."""
        endpoint = self.endpoint(side)
        if endpoint is None:
            return None

        for value in endpoint.values:
            found = self.balancer_at(value)
            if found is not None:
                return found
        return None

    def balancer_at(self, dns_name: str) -> LoadBalancer | None:
        """The ALB answering to a DNS name (elasticloadbalancing:DescribeLoadBalancers), or None."""
        key = dns_name.rstrip(".").lower().removeprefix("dualstack.")
        found: LoadBalancer | None = self._once(("DescribeLoadBalancers", key), lambda: load_balancer_at(dns_name))
        return found

    def listeners(self, balancer: LoadBalancer) -> list[dict[str, Any]]:
        """elasticloadbalancing:DescribeListeners, every page."""

        def read() -> list[dict[str, Any]]:
            elbv2 = aws.target_client("elbv2", balancer.region)
            found: list[dict[str, Any]] = []
            with aws.aws_call("DescribeListeners", balancer.arn):
                for page in elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=balancer.arn):
                    found += page["Listeners"]
            return found

        return list(self._once(("DescribeListeners", balancer.arn), read))

    def target_groups(self, balancer: LoadBalancer) -> list[str]:
        """Target groups the ALB's listeners forward to by default, in listener order."""
        groups: list[str] = []
        for listener in self.listeners(balancer):
            for action in listener.get("DefaultActions", []):
                arns = [action.get("TargetGroupArn")]
                arns += [g["TargetGroupArn"] for g in action.get("ForwardConfig", {}).get("TargetGroups", [])]
                groups += [a for a in arns if a and a not in groups]
        return groups

    def target_health(self, region: str, target_group_arn: str) -> list[dict[str, Any]]:
        """elasticloadbalancing:DescribeTargetHealth of one target group."""

        def read() -> list[dict[str, Any]]:
            with aws.aws_call("DescribeTargetHealth", target_group_arn):
                found = aws.target_client("elbv2", region).describe_target_health(TargetGroupArn=target_group_arn)
            return list(found["TargetHealthDescriptions"])

        return list(self._once(("DescribeTargetHealth", target_group_arn), read))

    def target_group(self, region: str, target_group_arn: str) -> dict[str, Any]:
        """elasticloadbalancing:DescribeTargetGroups of one target group (its health check settings)."""

        def read() -> dict[str, Any]:
            with aws.aws_call("DescribeTargetGroups", target_group_arn):
                found = aws.target_client("elbv2", region).describe_target_groups(TargetGroupArns=[target_group_arn])
            return dict(found["TargetGroups"][0])

        return dict(self._once(("DescribeTargetGroups", target_group_arn), read))

    def target_group_attributes(self, region: str, target_group_arn: str) -> dict[str, str]:
        """elasticloadbalancing:DescribeTargetGroupAttributes as key -> value (deregistration_delay.timeout_seconds...)."""

        def read() -> dict[str, str]:
            with aws.aws_call("DescribeTargetGroupAttributes", target_group_arn):
                found = aws.target_client("elbv2", region).describe_target_group_attributes(TargetGroupArn=target_group_arn)
            return {str(item["Key"]): str(item["Value"]) for item in found["Attributes"]}

        return dict(self._once(("DescribeTargetGroupAttributes", target_group_arn), read))

    # -- EC2, CloudWatch, RDS ----------------------------------------------------------
    def security_groups(self, region: str, vpc_id: str) -> list[dict[str, Any]]:
        """ec2:DescribeSecurityGroups of a VPC, every page."""

        def read() -> list[dict[str, Any]]:
            ec2 = aws.target_client("ec2", region)
            found: list[dict[str, Any]] = []
            with aws.aws_call("DescribeSecurityGroups", vpc_id):
                pages = ec2.get_paginator("describe_security_groups").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
                for page in pages:
                    found += page["SecurityGroups"]
            return found

        return list(self._once(("DescribeSecurityGroups", region, vpc_id), read))

    def metric_alarms(self, region: str) -> list[dict[str, Any]]:
        """cloudwatch:DescribeAlarms (metric alarms) of a region, every page."""

        def read() -> list[dict[str, Any]]:
            cloudwatch = aws.target_client("cloudwatch", region)
            found: list[dict[str, Any]] = []
            with aws.aws_call("DescribeAlarms", region):
                for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
                    found += page.get("MetricAlarms", [])
            return found

        return list(self._once(("DescribeAlarms", region), read))

    def event_rules(self, region: str) -> list[dict[str, Any]]:
        """events:ListRules of the region's default event bus, every page."""

        def read() -> list[dict[str, Any]]:
            events = aws.target_client("events", region)
            found: list[dict[str, Any]] = []
            with aws.aws_call("ListRules", region):
                for page in events.get_paginator("list_rules").paginate():
                    found += page.get("Rules", [])
            return found

        return list(self._once(("ListRules", region), read))

    def rule_targets(self, region: str, rule_name: str) -> list[dict[str, Any]]:
        """events:ListTargetsByRule, every page."""

        def read() -> list[dict[str, Any]]:
            events = aws.target_client("events", region)
            found: list[dict[str, Any]] = []
            with aws.aws_call("ListTargetsByRule", rule_name):
                for page in events.get_paginator("list_targets_by_rule").paginate(Rule=rule_name):
                    found += page.get("Targets", [])
            return found

        return list(self._once(("ListTargetsByRule", region, rule_name), read))

    def ecs_services(self, region: str) -> list[dict[str, Any]]:
        """Every ECS service of the region (ecs:ListClusters, ListServices, DescribeServices by 10), every page."""

        def read() -> list[dict[str, Any]]:
            ecs = aws.target_client("ecs", region)
            found: list[dict[str, Any]] = []
            with aws.aws_call("ListClusters", region):
                clusters = [arn for page in ecs.get_paginator("list_clusters").paginate() for arn in page["clusterArns"]]
            for cluster in clusters:
                with aws.aws_call("ListServices", cluster):
                    pages = ecs.get_paginator("list_services").paginate(cluster=cluster)
                    arns = [arn for page in pages for arn in page["serviceArns"]]
                for start in range(0, len(arns), 10):
                    with aws.aws_call("DescribeServices", cluster):
                        found += ecs.describe_services(cluster=cluster, services=arns[start : start + 10])["services"]
            return found

        return list(self._once(("ECSServices", region), read))

    def task_definition(self, region: str, arn: str) -> dict[str, Any]:
        """ecs:DescribeTaskDefinition."""

        def read() -> dict[str, Any]:
            with aws.aws_call("DescribeTaskDefinition", arn):
                return dict(aws.target_client("ecs", region).describe_task_definition(taskDefinition=arn)["taskDefinition"])

        return dict(self._once(("DescribeTaskDefinition", arn), read))

    def function_configuration(self, region: str, function: str) -> dict[str, Any]:
        """lambda:GetFunctionConfiguration."""

        def read() -> dict[str, Any]:
            with aws.aws_call("GetFunctionConfiguration", function):
                return dict(aws.target_client("lambda", region).get_function_configuration(FunctionName=function))

        return dict(self._once(("GetFunctionConfiguration", function), read))

    def global_clusters(self, region: str) -> list[dict[str, Any]]:
        """rds:DescribeGlobalClusters, every page."""

        def read() -> list[dict[str, Any]]:
            rds = aws.target_client("rds", region)
            found: list[dict[str, Any]] = []
            with aws.aws_call("DescribeGlobalClusters", region):
                for page in rds.get_paginator("describe_global_clusters").paginate():
                    found += page.get("GlobalClusters", [])
            return found

        return list(self._once(("DescribeGlobalClusters", region), read))

    # -- networks: route tables, peering, endpoints -------------------------------------------------
    def route_tables(self, region: str, vpc_id: str) -> list[dict[str, Any]]:
        """ec2:DescribeRouteTables of a VPC, every page."""

        def read() -> list[dict[str, Any]]:
            ec2 = aws.target_client("ec2", region)
            found: list[dict[str, Any]] = []
            with aws.aws_call("DescribeRouteTables", vpc_id):
                pages = ec2.get_paginator("describe_route_tables").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
                for page in pages:
                    found += page["RouteTables"]
            return found

        return list(self._once(("DescribeRouteTables", region, vpc_id), read))

    def peering_connections(self, region: str) -> list[dict[str, Any]]:
        """ec2:DescribeVpcPeeringConnections of a region, every page."""

        def read() -> list[dict[str, Any]]:
            ec2 = aws.target_client("ec2", region)
            found: list[dict[str, Any]] = []
            with aws.aws_call("DescribeVpcPeeringConnections", region):
                for page in ec2.get_paginator("describe_vpc_peering_connections").paginate():
                    found += page["VpcPeeringConnections"]
            return found

        return list(self._once(("DescribeVpcPeeringConnections", region), read))

    def vpc_endpoints(self, region: str, vpc_id: str) -> list[dict[str, Any]]:
        """ec2:DescribeVpcEndpoints of a VPC, every page."""

        def read() -> list[dict[str, Any]]:
            ec2 = aws.target_client("ec2", region)
            found: list[dict[str, Any]] = []
            with aws.aws_call("DescribeVpcEndpoints", vpc_id):
                pages = ec2.get_paginator("describe_vpc_endpoints").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
                for page in pages:
                    found += page["VpcEndpoints"]
            return found

        return list(self._once(("DescribeVpcEndpoints", region, vpc_id), read))

    # -- ACM, AWS Backup -------------------------------------------------------------------------------
    def certificate(self, region: str, arn: str) -> dict[str, Any]:
        """acm:DescribeCertificate."""

        def read() -> dict[str, Any]:
            with aws.aws_call("DescribeCertificate", arn):
                return dict(aws.target_client("acm", region).describe_certificate(CertificateArn=arn)["Certificate"])

        return dict(self._once(("DescribeCertificate", arn), read))

    def backup_plans(self, region: str) -> list[dict[str, Any]]:
        """A region's backup plans with their rules (backup:ListBackupPlans every page, GetBackupPlan for the first
        BACKUP_PLANS_READ: the preflight's calls stay bounded)."""

        def read() -> list[dict[str, Any]]:
            backup = aws.target_client("backup", region)
            with aws.aws_call("ListBackupPlans", region):
                listed = [p for page in backup.get_paginator("list_backup_plans").paginate() for p in page["BackupPlansList"]]
            found: list[dict[str, Any]] = []
            for plan in listed[:BACKUP_PLANS_READ]:
                with aws.aws_call("GetBackupPlan", str(plan["BackupPlanId"])):
                    described = backup.get_backup_plan(BackupPlanId=plan["BackupPlanId"])
                found.append({"BackupPlanArn": described.get("BackupPlanArn"), **described["BackupPlan"]})
            return found

        return list(self._once(("BackupPlans", region), read))

    def backup_vaults(self, region: str) -> list[dict[str, Any]]:
        """backup:ListBackupVaults of a region, every page."""

        def read() -> list[dict[str, Any]]:
            backup = aws.target_client("backup", region)
            with aws.aws_call("ListBackupVaults", region):
                return [v for page in backup.get_paginator("list_backup_vaults").paginate() for v in page["BackupVaultList"]]

        return list(self._once(("ListBackupVaults", region), read))

    def listener_certificates(self, region: str, listener_arn: str) -> list[dict[str, Any]]:
        """elasticloadbalancing:DescribeListenerCertificates (the default and the SNI certificates), every page."""

        def read() -> list[dict[str, Any]]:
            elbv2 = aws.target_client("elbv2", region)
            with aws.aws_call("DescribeListenerCertificates", listener_arn):
                pages = elbv2.get_paginator("describe_listener_certificates").paginate(ListenerArn=listener_arn)
                return [c for page in pages for c in page.get("Certificates", [])]

        return list(self._once(("DescribeListenerCertificates", listener_arn), read))

    def db_cluster(self, region: str, cluster_arn: str) -> dict[str, Any] | None:
        """rds:DescribeDBClusters of one cluster, or None when it is not there."""

        def read() -> dict[str, Any] | None:
            try:
                with aws.aws_call("DescribeDBClusters", cluster_arn):
                    found = aws.target_client("rds", region).describe_db_clusters(DBClusterIdentifier=cluster_arn)
            except AwsCallFailed as error:
                if error.code == "DBClusterNotFoundFault":
                    return None
                raise
            return dict(found["DBClusters"][0]) if found["DBClusters"] else None

        found: dict[str, Any] | None = self._once(("DescribeDBClusters", cluster_arn), read)
        return found

    # -- replicated stores (data.stores) -------------------------------------------------
    def dynamodb_table(self, region: str, table: str) -> dict[str, Any]:
        """dynamodb:DescribeTable in one region."""

        def read() -> dict[str, Any]:
            with aws.aws_call("DescribeTable", f"{table} ({region})"):
                return dict(aws.target_client("dynamodb", region).describe_table(TableName=table)["Table"])

        return dict(self._once(("DescribeTable", region, table), read))

    def bucket_answer(self, operation: str, region: str, bucket: str) -> dict[str, Any] | None:
        """One of s3:GetBucketReplication, GetBucketVersioning, GetBucketPolicy; None where the bucket has none of it."""
        absent = {"ReplicationConfigurationNotFoundError", "NoSuchBucketPolicy"}

        def read() -> dict[str, Any] | None:
            s3 = aws.target_client("s3", region)
            call = {"GetBucketReplication": s3.get_bucket_replication, "GetBucketVersioning": s3.get_bucket_versioning}
            call["GetBucketPolicy"] = s3.get_bucket_policy
            try:
                with aws.aws_call(operation, f"s3://{bucket}"):
                    return dict(call[operation](Bucket=bucket))
            except AwsCallFailed as error:
                if error.code in absent:
                    return None
                raise

        found = self._once((operation, bucket), read)
        return dict(found) if found is not None else None

    def role_exists(self, role_arn: str) -> bool:
        """iam:GetRole: False when IAM has no such role."""

        def read() -> bool:
            try:
                with aws.aws_call("GetRole", role_arn):
                    aws.target_client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])
            except AwsCallFailed as error:
                if error.code == "NoSuchEntity":
                    return False
                raise
            return True

        return bool(self._once(("GetRole", role_arn), read))
