"""Provision a lab stack spec through the local cloud's AWS APIs: boto3 calls, nothing else.

Everything a drill discovers (VPC, subnets, security groups, load balancers, target groups,
listeners, ECS services, API Gateway, database clusters, hosted zone, health checks, failover
records, alarms) is created here exactly as it would exist in AWS. Nothing local runs yet: stack.py
brings the physics to life from what this created.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from botocore.config import Config

from drillkit.allow import tag_list
from drillkit_lab.physics.alb import INSTANCE_ADDRESSES
from drillkit_lab.stackspec import GlobalTable, HealthCheck, Region, ReplicatedBucket, StackSpec
from drillkit_lab.template import ACCOUNT_ID, stand_in_code_zip
from drillkit_lab.tls import LabCertificates

# The lab's owners allow drills on every resource they create (the tag drillkit's preflight requires).
DRILLS_ALLOWED = tag_list()

# The lab's intervals are shorter than AWS accepts (Route 53: 10 or 30 s, ALB: 5 s and more);
# only client-side validation stands in the way, so the lab's own clients skip it.
UNVALIDATED = Config(parameter_validation=False)


def target_addresses(region: Region) -> list[str]:
    """Targets live next to their ALB: 127.10.0.1's targets are 127.10.1.1, 127.10.1.2, ..."""
    a, b, c, _ = region.address.split(".")
    return [f"{a}.{b}.{int(c) + 1}.{i + 1}" for i in range(region.app.targets)]


def peer_service_address(region: Region) -> str:
    """The service in this region's VPC that the other region's app depends on (peer_dependency): 127.10.2.1 for 127.10.0.1."""
    a, b, c, _ = region.address.split(".")
    return f"{a}.{b}.{int(c) + 2}.1"


def peer_services(spec: StackSpec) -> dict[str, Region]:
    """Role of each app with a peer dependency -> the region whose VPC holds that dependency."""
    regions = spec.regions()
    other = {"primary": "standby", "standby": "primary"}
    return {role: regions[other[role]] for role, region in regions.items() if region.app.peer_dependency}


def all_addresses(spec: StackSpec) -> list[str]:
    peers = [peer_service_address(r) for r in peer_services(spec).values()]
    return [a for r in spec.regions().values() for a in [r.address, *target_addresses(r)]] + peers


VPC_NETWORK = {"primary": "10.0", "standby": "10.1"}  # each region's VPC is <network>.0.0/16

HEARTBEAT_SECRET = "drillkit-heartbeat"  # noqa: S105 a secret's name, not a password: the name the shipped lab scenarios' data.heartbeat.secret_arn ends with


def plain_secret(region: Region) -> list[dict[str, str]]:
    """The app's plain configuration: DB_PASSWORD in it when the knob says so (a local fake value)."""
    return [{"name": "DB_PASSWORD", "value": "lab-only-password"}] if region.app.plain_secret else []


# The S3 replication role's permissions (what AWS's "Setting up permissions for live replication" page lists).
REPLICATION_SOURCE_ACTIONS = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
REPLICATION_OBJECT_ACTIONS = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
REPLICATION_DESTINATION_ACTIONS = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
GLOBAL_TABLE_VERSION = "2019.11.21"


def replication_role_name(spec: StackSpec) -> str:
    return f"{spec.name[:40]}-s3-replication"


def replication_rule_id(bucket: ReplicatedBucket) -> str:
    return f"{bucket.name[:200]}-to-standby"


def global_cluster_id(spec: StackSpec) -> str | None:
    return f"{spec.name[:40]}-global" if spec.database is not None and spec.database.global_cluster else None


class Provisioner:
    """Creates a stack spec's AWS resources; returns what lab.json describes (and the physics reads)."""

    def __init__(self, spec: StackSpec, session: Any, certificates: LabCertificates | None = None):
        self.spec = spec
        self.session = session
        self.certificates = certificates  # the lab's CA, for HTTPS listeners' certificates
        self.load_balancer_names: dict[str, str] = {}  # role -> its ALB's name (the physics names itself after it)

    def create(self) -> dict[str, Any]:
        info = self.create_serving()
        info.update(self.create_data_stores(info["regions"]))
        return info

    def create_serving(self) -> dict[str, Any]:
        """Everything but the replicated data stores: what the physics brings to life and Route 53 checks."""
        regions = {role: self._region(role, region) for role, region in self.spec.regions().items()}
        if self.spec.database is not None:
            self._database(regions, global_cluster_id(self.spec))
        zone_id, checks = self._route53(regions)
        for role, info in regions.items():
            info["health_check_id"] = checks.get(role)
        alarms, alerts = self._alarms(regions)
        automation_rules = self._automation_rules(regions, alerts)
        peering = self._peering(regions) if self.spec.peering is not None else None
        backup = self._backup(regions) if self.spec.backup is not None else None
        return {
            "peering_connection_id": peering,
            "backup_plan_id": backup,
            "stack": self.spec.name,
            "hosted_zone_id": zone_id,
            "hosted_zone": self.spec.route53.zone,
            "public_name": self.spec.route53.public_name,
            "record_type": "CNAME" if self.spec.route53.record == "cname" else "A",
            "global_cluster_id": global_cluster_id(self.spec),
            "regions": regions,
            "alarms": alarms,
            "alerts": alerts,
            "automation_rules": automation_rules,
        }

    def create_data_stores(self, regions: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """DynamoDB global tables and S3 replication (the lab's replication physics must be running)."""
        return {
            "tables": [self._global_table(table, regions) for table in self.spec.tables],
            "buckets": [self._replicated_bucket(bucket, regions) for bucket in self.spec.buckets],
        }

    # -- one region: VPC, subnets, security group, targets, ALB, target group, listener ---------
    def _region(self, role: str, region: Region) -> dict[str, Any]:
        if region.front == "apigw":
            return self._api_region(role, region)
        ec2 = self.session.client("ec2", region_name=region.region)
        elbv2 = self.session.client("elbv2", region_name=region.region, config=UNVALIDATED)
        name = f"{self.spec.name[:20]}-{role}"
        # Distinct CIDRs per region, as a stack that peers its VPCs must have (peering refuses overlaps).
        network = VPC_NETWORK[role]
        vpc_id = ec2.create_vpc(CidrBlock=f"{network}.0.0/16")["Vpc"]["VpcId"]
        subnet_ids = [
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"{network}.{i}.0/24", AvailabilityZone=f"{region.region}{'abcdef'[i]}")[
                "Subnet"
            ]["SubnetId"]
            for i in range(region.alb.subnets)
        ]
        group_id = ec2.create_security_group(GroupName=f"{name}-alb", Description=f"{role} ALB", VpcId=vpc_id)["GroupId"]
        if region.alb.ingress:
            ec2.authorize_security_group_ingress(
                GroupId=group_id,
                IpPermissions=[
                    {"IpProtocol": "tcp", "FromPort": r.port, "ToPort": r.port, "IpRanges": [{"CidrIp": r.cidr}]}
                    for r in region.alb.ingress
                ],
            )
        balancer = elbv2.create_load_balancer(
            Name=f"{name}-alb"[:32],
            Subnets=subnet_ids,
            SecurityGroups=[group_id],
            Scheme="internet-facing",
            Type="application",
            Tags=DRILLS_ALLOWED,
        )["LoadBalancers"][0]
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=balancer["LoadBalancerArn"],
            Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": str(region.alb.idle_timeout_seconds)}],
        )
        health = region.alb.health_check
        if region.app.kind == "lambda":
            group = elbv2.create_target_group(Name=f"{name}-tg"[:32], TargetType="lambda", Tags=DRILLS_ALLOWED)["TargetGroups"][0]
            in_vpc = self._function_network(ec2, role, region, vpc_id, group_id) if region.app.vpc_egress else None
            targets = [{"Id": self._app_function(name, region, in_vpc)}]
        else:
            group = elbv2.create_target_group(
                Name=f"{name}-tg"[:32],
                Protocol="HTTP",
                Port=region.app.port,
                VpcId=vpc_id,
                TargetType="instance" if region.app.kind == "ec2" else "ip",
                HealthCheckPath=health.path,
                HealthCheckIntervalSeconds=health.interval_seconds,
                HealthCheckTimeoutSeconds=1,
                HealthyThresholdCount=health.healthy_threshold,
                UnhealthyThresholdCount=health.unhealthy_threshold,
                Tags=DRILLS_ALLOWED,
            )["TargetGroups"][0]
            targets = [{"Id": target, "Port": region.app.port} for target in self._target_ids(ec2, region, subnet_ids)]
            delay = str(region.alb.deregistration_delay_seconds)
            elbv2.modify_target_group_attributes(
                TargetGroupArn=group["TargetGroupArn"],
                Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": delay}],
            )
        if targets:
            elbv2.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=targets)
        listener: dict[str, Any] = {
            "LoadBalancerArn": balancer["LoadBalancerArn"],
            "Protocol": region.alb.listener.protocol,
            "Port": region.alb.listener.port,
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        }
        if region.alb.listener.protocol == "HTTPS":
            listener["Certificates"] = [{"CertificateArn": self._listener_certificate(region)}]
        elbv2.create_listener(**listener)
        ecs = self._ecs_service(name, region, group["TargetGroupArn"], subnet_ids, group_id)
        self.load_balancer_names[role] = balancer["LoadBalancerName"]
        return {
            "region": region.region,
            "address": region.address,
            "dns_answer": balancer["DNSName"] if self.spec.route53.record == "cname" else region.address,
            "alb_arn": balancer["LoadBalancerArn"],
            "alb_dns_name": balancer["DNSName"],
            "alb_canonical_hosted_zone_id": balancer["CanonicalHostedZoneId"],
            "alb_security_group_ids": [group_id],
            "alb_subnet_ids": subnet_ids,
            "vpc_id": vpc_id,
            "vpc_cidr": f"{network}.0.0/16",
            "target_group_arn": group["TargetGroupArn"],
            "targets": targets,
            "db_cluster_id": None,
            **ecs,
        }

    def _ecs_service(
        self,
        name: str,
        region: Region,
        target_group_arn: str,
        subnet_ids: list[str],
        group_id: str,
    ) -> dict[str, Any]:
        """For an ECS app: a cluster, a task definition and a service (its tasks are the region's app servers)."""
        if region.app.kind != "ecs":
            return {"ecs_cluster": None, "ecs_service": None, "ecs_service_arn": None}
        ecs = self.session.client("ecs", region_name=region.region)
        cluster = ecs.create_cluster(clusterName=name)["cluster"]["clusterName"]
        task = ecs.register_task_definition(
            family=f"{name}-app",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": "drillkit-lab/app",
                    "portMappings": [{"containerPort": region.app.port}],
                    "environment": plain_secret(region),
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        service = ecs.create_service(
            cluster=cluster,
            serviceName=f"{name}-app",
            taskDefinition=task,
            desiredCount=len(target_addresses(region)),
            launchType="FARGATE",
            loadBalancers=[{"targetGroupArn": target_group_arn, "containerName": "app", "containerPort": region.app.port}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnet_ids, "securityGroups": [group_id]}},
            tags=[{"key": t["Key"], "value": t["Value"]} for t in DRILLS_ALLOWED],
        )["service"]
        return {"ecs_cluster": cluster, "ecs_service": service["serviceName"], "ecs_service_arn": service["serviceArn"]}

    @staticmethod
    def _target_ids(ec2: Any, region: Region, subnet_ids: list[str]) -> list[str]:
        """ECS tasks are ip targets; EC2 instances are launched and registered by instance id."""
        addresses = target_addresses(region)
        if region.app.kind != "ec2" or not addresses:
            return addresses
        image = ec2.register_image(Name=f"{region.region}-app-{uuid.uuid4().hex[:8]}")["ImageId"]
        ids = []
        for index, address in enumerate(addresses):
            instance = ec2.run_instances(
                ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=subnet_ids[index % len(subnet_ids)]
            )["Instances"][0]
            INSTANCE_ADDRESSES[instance["InstanceId"]] = address
            ids.append(instance["InstanceId"])
        return ids

    def _api_region(self, role: str, region: Region) -> dict[str, Any]:
        """API Gateway (REST, regional) with a Lambda proxy integration and a regional custom domain."""
        name = f"{self.spec.name[:20]}-{role}"
        function_arn = self._app_function(name, region)
        api_gateway = self.session.client("apigateway", region_name=region.region)
        api_id = api_gateway.create_rest_api(name=f"{name}-api", endpointConfiguration={"types": ["REGIONAL"]})["id"]
        certificate = self.session.client("acm", region_name=region.region).request_certificate(
            DomainName=self.spec.route53.public_name.rstrip(".")
        )["CertificateArn"]
        domain = api_gateway.create_domain_name(
            domainName=self.spec.route53.public_name.rstrip("."),
            regionalCertificateArn=certificate,
            endpointConfiguration={"types": ["REGIONAL"]},
        )
        api_gateway.create_base_path_mapping(domainName=domain["domainName"], restApiId=api_id)
        regional_name = domain["regionalDomainName"]
        return {
            "region": region.region,
            "address": region.address,
            "front": "apigw",
            "dns_answer": regional_name,
            "api_id": api_id,
            "api_regional_domain_name": regional_name,
            "api_regional_hosted_zone_id": domain["regionalHostedZoneId"],
            "function_arn": function_arn,
            "alb_arn": None,
            "alb_dns_name": regional_name,  # what Route 53 records and health checks point at
            "alb_security_group_ids": [],
            "alb_subnet_ids": [],
            "target_group_arn": None,
            "targets": [],
            "db_cluster_id": None,
            "ecs_cluster": None,
            "ecs_service": None,
            "ecs_service_arn": None,
        }

    def _listener_certificate(self, region: Region) -> str:
        """The HTTPS listener's ACM certificate: imported (ISSUED) from the lab's CA, or requested and never
        validated (PENDING_VALIDATION: the lab creates no validation record)."""
        acm = self.session.client("acm", region_name=region.region)
        name = (region.alb.listener.certificate_name or self.spec.route53.public_name).rstrip(".")
        if region.alb.listener.certificate == "pending":
            return str(acm.request_certificate(DomainName=name, ValidationMethod="DNS")["CertificateArn"])
        assert self.certificates is not None, "an HTTPS listener needs the lab's CA"
        issued = self.certificates.issue([name])
        return str(
            acm.import_certificate(
                Certificate=issued.certificate_pem, PrivateKey=issued.key_pem, CertificateChain=self.certificates.ca_pem.encode()
            )["CertificateArn"]
        )

    def _function_network(self, ec2: Any, role: str, region: Region, vpc_id: str, group_id: str) -> dict[str, Any]:
        """Private subnets for the app function, with one route table whose default route is the knob's."""
        network = VPC_NETWORK[role]
        subnets = [
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"{network}.{100 + i}.0/24", AvailabilityZone=f"{region.region}{'ab'[i]}")[
                "Subnet"
            ]["SubnetId"]
            for i in range(2)
        ]
        table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        for subnet in subnets:
            ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        if region.app.vpc_egress in ("nat", "internet_gateway"):
            gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
            route: dict[str, str] = {"GatewayId": gateway}
            if region.app.vpc_egress == "nat":
                public = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"{network}.200.0/24")["Subnet"]["SubnetId"]
                allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
                nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"]
                route = {"NatGatewayId": nat["NatGatewayId"]}
            ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", **route)
        return {"SubnetIds": subnets, "SecurityGroupIds": [group_id]}

    # -- VPC peering between the regions' VPCs; AWS Backup plan --------------------------------------
    def _peering(self, regions: dict[str, dict[str, Any]]) -> str | None:
        """The primary's VPC requests a peering with the standby's; accepted and routed as the knobs say."""
        assert self.spec.peering is not None
        primary, standby = regions["primary"], regions["standby"]
        if "vpc_id" not in primary or "vpc_id" not in standby:
            return None  # API Gateway fronts have no VPC here
        requester = self.session.client("ec2", region_name=primary["region"])
        accepter = self.session.client("ec2", region_name=standby["region"])
        peering = requester.create_vpc_peering_connection(
            VpcId=primary["vpc_id"], PeerVpcId=standby["vpc_id"], PeerRegion=standby["region"]
        )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        if self.spec.peering.accepted:
            accepter.accept_vpc_peering_connection(VpcPeeringConnectionId=peering)
        for client, own, other in ((requester, primary, standby), (accepter, standby, primary)):
            if own is standby and not self.spec.peering.routed:
                continue
            for table in client.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [own["vpc_id"]]}])["RouteTables"]:
                client.create_route(
                    RouteTableId=table["RouteTableId"], DestinationCidrBlock=other["vpc_cidr"], VpcPeeringConnectionId=peering
                )
        return str(peering)

    def _backup(self, regions: dict[str, dict[str, Any]]) -> str:
        """A daily backup rule into the primary's vault, copying to the standby's vault unless the knob says not."""
        assert self.spec.backup is not None
        vaults = {}
        for role in ("primary", "standby"):
            backup = self.session.client("backup", region_name=regions[role]["region"])
            vault = backup.create_backup_vault(BackupVaultName=f"{self.spec.name[:40]}-{role}")
            vaults[role] = vault
        rule: dict[str, Any] = {
            "RuleName": "daily",
            "TargetBackupVaultName": vaults["primary"]["BackupVaultName"],
            "ScheduleExpression": "cron(0 5 ? * * *)",
        }
        if self.spec.backup.copy_to_standby:
            rule["CopyActions"] = [{"DestinationBackupVaultArn": vaults["standby"]["BackupVaultArn"]}]
        backup = self.session.client("backup", region_name=regions["primary"]["region"])
        plan = backup.create_backup_plan(BackupPlan={"BackupPlanName": f"{self.spec.name[:40]}-daily", "Rules": [rule]})
        return str(plan["BackupPlanId"])

    def _app_function(self, name: str, region: Region, in_vpc: dict[str, Any] | None = None) -> str:
        """The application as one Lambda function (its code is the lab's: the ALB answers for it)."""
        iam = self.session.client("iam")
        role_name = f"{self.spec.name[:40]}-app"
        try:
            role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            statement = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            trust = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
            role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        function = self.session.client("lambda", region_name=region.region).create_function(
            FunctionName=f"{name}-app",
            Runtime="python3.13",
            Role=role_arn,
            Handler="app.handler",
            Code={"ZipFile": stand_in_code_zip()},
            Environment={"Variables": {v["name"]: v["value"] for v in plain_secret(region)}},
            Tags={t["Key"]: t["Value"] for t in DRILLS_ALLOWED},
            **({"VpcConfig": in_vpc} if in_vpc else {}),
        )
        return function["FunctionArn"]

    # -- the database: a global cluster with a writer in the primary region, a reader in the standby --
    def _database(self, regions: dict[str, dict[str, Any]], global_id: str | None) -> None:
        assert self.spec.database is not None
        engine = self.spec.database.engine
        if global_id:
            self.session.client("rds", region_name=regions["primary"]["region"]).create_global_cluster(
                GlobalClusterIdentifier=global_id, Engine=engine
            )
        for role, info in regions.items():
            rds = self.session.client("rds", region_name=info["region"])
            request: dict[str, Any] = {"DBClusterIdentifier": f"{self.spec.name[:40]}-{role}-db", "Engine": engine}
            if global_id:
                request["GlobalClusterIdentifier"] = global_id
            if role == "primary" or not global_id:
                request.update(MasterUsername="app", MasterUserPassword="lab-only-password")  # noqa: S105 a local fake
            request["EnableHttpEndpoint"] = True
            request["Tags"] = DRILLS_ALLOWED
            created = rds.create_db_cluster(**request)["DBCluster"]
            info["db_cluster_id"] = created["DBClusterIdentifier"]
            info["db_cluster_arn"] = created["DBClusterArn"]
        # The Data API's credentials, as a stack keeps them in AWS: preflight checks that data.heartbeat.secret_arn exists.
        self.session.client("secretsmanager", region_name=regions["primary"]["region"]).create_secret(
            Name=HEARTBEAT_SECRET, SecretString=json.dumps({"username": "app", "password": "lab-only-password"})
        )

    # -- DynamoDB global tables (version 2019.11.21): the table in the primary region, a replica in the standby ----
    def _global_table(self, table: GlobalTable, regions: dict[str, dict[str, Any]]) -> dict[str, Any]:
        primary, standby = regions["primary"]["region"], regions["standby"]["region"]
        keys = [(table.hash_key, "HASH")] + ([(table.range_key, "RANGE")] if table.range_key else [])
        dynamodb = self.session.client("dynamodb", region_name=primary)
        created = dynamodb.create_table(
            TableName=table.name,
            KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name, _ in keys],
            BillingMode="PAY_PER_REQUEST",
            # A global table's replicas exchange changes through the table's stream (new and old images).
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            Tags=DRILLS_ALLOWED,
        )["TableDescription"]
        if table.replica:
            dynamodb.update_table(TableName=table.name, ReplicaUpdates=[{"Create": {"RegionName": standby}}])
        return {
            "name": table.name,
            "arn": created["TableArn"],
            "region": primary,
            "replica_region": standby if table.replica else None,
            "hash_key": table.hash_key,
            "range_key": table.range_key,
            "global_table_version": GLOBAL_TABLE_VERSION if table.replica else None,
        }

    # -- S3 Cross-Region Replication: versioned source and destination, the role, the rule ----------
    def _replicated_bucket(self, bucket: ReplicatedBucket, regions: dict[str, dict[str, Any]]) -> dict[str, Any]:
        primary, standby = regions["primary"]["region"], regions["standby"]["region"]
        source, destination = bucket.name, bucket.destination_bucket
        s3_primary = self.session.client("s3", region_name=primary)
        s3_standby = self.session.client("s3", region_name=standby)
        self._bucket(s3_primary, source, primary)
        self._bucket(s3_standby, destination, standby)
        role_arn = self._replication_role(source, destination)
        if not bucket.role:
            role_arn = f"{role_arn}-missing"  # the rule names a role nobody created
        s3_standby.put_bucket_policy(Bucket=destination, Policy=json.dumps(self._destination_policy(bucket, role_arn)))
        rule = {
            "ID": replication_rule_id(bucket),
            "Priority": 1,
            "Status": "Enabled" if bucket.rule_enabled else "Disabled",
            "Filter": {"Prefix": bucket.prefix},
            "DeleteMarkerReplication": {"Status": "Enabled" if bucket.delete_marker_replication else "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{destination}"},
        }
        s3_primary.put_bucket_replication(Bucket=source, ReplicationConfiguration={"Role": role_arn, "Rules": [rule]})
        if not bucket.destination_versioning:
            s3_standby.put_bucket_versioning(Bucket=destination, VersioningConfiguration={"Status": "Suspended"})
        return {
            "name": source,
            "region": primary,
            "destination": destination,
            "destination_region": standby,
            "rule_id": rule["ID"],
            "prefix": bucket.prefix,
            "role_arn": role_arn,
        }

    @staticmethod
    def _bucket(s3: Any, name: str, region: str) -> None:
        request: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":  # S3's one region without a LocationConstraint
            request["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**request)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": DRILLS_ALLOWED})

    def _replication_role(self, source: str, destination: str) -> str:
        """The role S3 assumes to replicate (one per stack, a policy per source bucket)."""
        iam = self.session.client("iam")
        role_name = replication_role_name(self.spec)
        try:
            role_arn: str = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            statement = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}
            trust = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
            role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        permissions = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": REPLICATION_SOURCE_ACTIONS, "Resource": f"arn:aws:s3:::{source}"},
                {"Effect": "Allow", "Action": REPLICATION_OBJECT_ACTIONS, "Resource": f"arn:aws:s3:::{source}/*"},
                {"Effect": "Allow", "Action": REPLICATION_DESTINATION_ACTIONS, "Resource": f"arn:aws:s3:::{destination}/*"},
            ],
        }
        iam.put_role_policy(RoleName=role_name, PolicyName=f"replicate-{source}"[:128], PolicyDocument=json.dumps(permissions))
        return role_arn

    @staticmethod
    def _destination_policy(bucket: ReplicatedBucket, role_arn: str) -> dict[str, Any]:
        """The destination's bucket policy: grants the role replication, or (the knob) denies it explicitly."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReplicationFromSource",
                    "Effect": "Allow" if bucket.destination_allows else "Deny",
                    "Principal": {"AWS": role_arn if bucket.role else f"arn:aws:iam::{ACCOUNT_ID}:root"},
                    "Action": REPLICATION_DESTINATION_ACTIONS,
                    "Resource": f"arn:aws:s3:::{bucket.destination_bucket}/*",
                }
            ],
        }

    # -- alarms: created in the local cloud, with an SNS topic (and an inbox queue) per region ----
    def _alarms(self, regions: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
        alerts: dict[str, dict[str, str]] = {}
        created: list[dict[str, Any]] = []
        for alarm in self.spec.alarms:
            target = regions[alarm.region]
            if alarm.metric == "HealthCheckStatus":
                region, namespace = "us-east-1", "AWS/Route53"  # Route 53 metrics exist only in us-east-1
                dimensions = [{"Name": "HealthCheckId", "Value": target["health_check_id"]}]
            else:
                region, namespace = target["region"], "AWS/ApplicationELB"
                balancer = (
                    target["alb_arn"] if alarm.load_balancer_dimension == "arn" else target["alb_arn"].split(":loadbalancer/")[1]
                )
                dimensions = [
                    {"Name": "LoadBalancer", "Value": balancer},
                    {"Name": "TargetGroup", "Value": target["target_group_arn"].split(":")[-1]},
                ]
            if region not in alerts:
                alerts[region] = self._alert_topic(region)
            actions = [alerts[region]["topic_arn"]] if alarm.actions else []
            cloudwatch = self.session.client("cloudwatch", region_name=region, config=UNVALIDATED)
            cloudwatch.put_metric_alarm(
                AlarmName=alarm.name,
                Namespace=namespace,
                MetricName=alarm.metric,
                Dimensions=dimensions,
                Statistic="Minimum" if alarm.comparison.startswith("Less") else "Maximum",
                Period=alarm.period_seconds,
                EvaluationPeriods=alarm.evaluation_periods,
                Threshold=alarm.threshold,
                ComparisonOperator=alarm.comparison,
                AlarmActions=actions,
                OKActions=actions,
            )
            # A new alarm starts without data, as in CloudWatch (moto starts it at OK).
            cloudwatch.set_alarm_state(
                AlarmName=alarm.name, StateValue="INSUFFICIENT_DATA", StateReason="Unchecked: Initial alarm creation"
            )
            arn = cloudwatch.describe_alarms(AlarmNames=[alarm.name])["MetricAlarms"][0]["AlarmArn"]
            created.append({"name": alarm.name, "region": region, "arn": arn, "actions": actions})
        return created, alerts

    # -- EventBridge rules on alarm state changes (the stack's own DR automation) --------------------
    def _automation_rules(self, regions: dict[str, dict[str, Any]], alerts: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
        created: list[dict[str, Any]] = []
        pattern = json.dumps({"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]})
        for rule in self.spec.automation_rules:
            region = regions[rule.region]["region"]
            events = self.session.client("events", region_name=region)
            arn = events.put_rule(Name=rule.name, EventPattern=pattern, State="ENABLED")["RuleArn"]
            if rule.targets:
                if region not in alerts:
                    alerts[region] = self._alert_topic(region)
                events.put_targets(Rule=rule.name, Targets=[{"Id": "alerts", "Arn": alerts[region]["topic_arn"]}])
            created.append({"name": rule.name, "region": region, "arn": arn, "targets": rule.targets})
        return created

    def _alert_topic(self, region: str) -> dict[str, str]:
        sns = self.session.client("sns", region_name=region)
        sqs = self.session.client("sqs", region_name=region)
        topic_arn = sns.create_topic(Name=f"{self.spec.name[:40]}-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName=f"{self.spec.name[:40]}-alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        return {"topic_arn": topic_arn, "inbox_queue_url": queue_url}

    # -- Route 53: zone, health checks on the ALBs, failover records ----------------------------
    def _route53(self, regions: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str]]:
        spec = self.spec.route53
        route53 = self.session.client("route53", config=UNVALIDATED)
        zone = route53.create_hosted_zone(Name=spec.zone, CallerReference=str(uuid.uuid4()))
        zone_id = zone["HostedZone"]["Id"].split("/")[-1]
        checks: dict[str, str] = {}
        for role, check in (("primary", spec.primary_health_check), ("standby", spec.standby_health_check)):
            if check is not None:
                checks[role] = self._health_check(route53, check, regions[check.watches or role]["alb_dns_name"])
        if spec.primary_calculated and "primary" in checks:
            checks["primary"] = self._calculated_health_check(route53, [checks["primary"]])
        changes = []
        for role, failover in (("primary", "PRIMARY"), ("standby", "SECONDARY")):
            if failover == "SECONDARY" and not spec.secondary:
                continue
            region = regions[role]
            record: dict[str, Any] = {
                "Name": spec.public_name,
                "SetIdentifier": f"{role}-{region['region']}",
                "Failover": failover,
            }
            if spec.record == "alias":
                record.update(
                    Type="A",
                    AliasTarget={
                        "HostedZoneId": region.get("alb_canonical_hosted_zone_id") or region["api_regional_hosted_zone_id"],
                        "DNSName": region["alb_dns_name"],
                        "EvaluateTargetHealth": False,
                    },
                )
            elif spec.record == "cname":
                record.update(Type="CNAME", TTL=spec.ttl, ResourceRecords=[{"Value": region["alb_dns_name"]}])
            else:
                record.update(Type="A", TTL=spec.ttl, ResourceRecords=[{"Value": region["address"]}])
            if role in checks:
                record["HealthCheckId"] = checks[role]
            changes.append({"Action": "CREATE", "ResourceRecordSet": record})
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
        return zone_id, checks

    @staticmethod
    def _health_check(route53: Any, check: HealthCheck, alb_dns_name: str) -> str:
        config: dict[str, Any] = {
            "Type": check.protocol,
            "FullyQualifiedDomainName": alb_dns_name,
            "Port": check.port,
            "RequestInterval": check.interval_seconds,
            "FailureThreshold": check.failure_threshold,
            "Inverted": check.inverted,
        }
        if check.protocol != "TCP":
            config["ResourcePath"] = check.path
        if check.search_string:
            config["SearchString"] = check.search_string
        check_id = route53.create_health_check(CallerReference=str(uuid.uuid4()), HealthCheckConfig=config)["HealthCheck"]["Id"]
        route53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check_id, AddTags=DRILLS_ALLOWED)
        return check_id

    @staticmethod
    def _calculated_health_check(route53: Any, children: list[str]) -> str:
        config = {"Type": "CALCULATED", "ChildHealthChecks": children, "HealthThreshold": 1}
        check_id = route53.create_health_check(CallerReference=str(uuid.uuid4()), HealthCheckConfig=config)["HealthCheck"]["Id"]
        route53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check_id, AddTags=DRILLS_ALLOWED)
        return check_id
