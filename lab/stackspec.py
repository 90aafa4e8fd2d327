"""The lab stack spec: what the simulated two-region stack is made of, validated like scenarios.

A stack file describes the parts our users run (an ALB per region in front of an app, Route 53
failover records and health checks) and the knobs that reproduce the classic DR defects. Every
port in a spec is the logical port AWS would see (80, 443, 8080); the lab maps each to a free
local port, so describe calls show what a real stack shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drillkit.errors import DrillError
from drillkit.spec import describe_validation_error

STACKS_DIR = Path(__file__).resolve().parent / "stacks"
DEFAULT_STACK = STACKS_DIR / "default.yaml"


class StackInvalid(DrillError):
    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.problems = problems
        listed = "\n".join(f"  {field}: {problem}" for field, problem in problems)
        super().__init__(f"lab stack {source} is invalid:\n{listed}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class App(_Strict):
    """The application behind the load balancer, one copy per target."""

    kind: Literal["ecs", "ec2", "lambda"] = Field(
        default="ecs", description="lambda: one function registered as the target group's target (targets is ignored)."
    )
    port: int = Field(default=8080, ge=1, le=65535, description="Logical port the targets listen on.")
    health_path: str = Field(default="/health", description="The path the app answers 200 on.")
    targets: int = Field(default=2, ge=0, le=8, description="Targets registered in the target group.")
    healthy: bool = Field(default=True, description="Knob: false makes every target fail its health path (HTTP 500).")
    health: Literal["shallow", "deep"] = Field(
        default="shallow", description="deep: the health path queries the region's database cluster and fails without it."
    )
    vpc_egress: Literal["nat", "internet_gateway", "none"] | None = Field(
        default=None,
        description="kind lambda, knob: the function runs in the region's VPC (its own subnets) whose route tables send "
        "0.0.0.0/0 to a NAT gateway (nat), to the internet gateway (internet_gateway: no egress for a function, "
        "whose interfaces have no public address) or nowhere (none). null: not in a VPC.",
    )
    peer_dependency: bool = Field(
        default=False,
        description="Knob: the app depends on a service in the other region's VPC, reached at a private address over "
        "the regions' VPC peering (as a secondary region's app that sends its writes to the primary's writer): its "
        "requests and its health path open a connection to it first, which times out while the peering does not "
        "carry traffic (not active, or not routed both ways). Needs peering.",
    )
    plain_secret: bool = Field(
        default=False,
        description="Knob: the app's configuration (ECS task definition environment, Lambda environment variables) "
        "carries DB_PASSWORD in plain text instead of a Secrets Manager reference.",
    )

    @field_validator("health_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @model_validator(mode="after")
    def _vpc_is_lambda(self) -> App:
        if self.vpc_egress is not None and self.kind != "lambda":
            raise ValueError("vpc_egress applies to app.kind lambda only")
        return self


class Listener(_Strict):
    protocol: Literal["HTTP", "HTTPS"] = "HTTP"
    port: int = Field(default=80, ge=1, le=65535)
    certificate: Literal["issued", "pending"] = Field(
        default="issued",
        description="Knob (HTTPS): the ACM certificate's state. pending: requested and never validated "
        "(PENDING_VALIDATION); the listener completes no TLS handshake.",
    )
    certificate_name: str | None = Field(
        default=None,
        description="Knob (HTTPS): the certificate's domain name (default: route53.public_name); another name "
        "makes the listener present a certificate that does not cover the public name.",
    )

    @model_validator(mode="after")
    def _certificate_is_https(self) -> Listener:
        if self.protocol == "HTTP" and (self.certificate != "issued" or self.certificate_name is not None):
            raise ValueError("certificate and certificate_name apply to an HTTPS listener only")
        return self


class TargetGroupHealthCheck(_Strict):
    path: str = "/health"
    interval_seconds: int = Field(default=2, ge=2, le=300, description="The lab's minimum is 2 s (AWS: 5 s); the timeout is 1 s.")
    healthy_threshold: int = Field(default=2, ge=2, le=10)
    unhealthy_threshold: int = Field(default=2, ge=2, le=10)


class SecurityGroupRule(_Strict):
    port: int = Field(ge=1, le=65535)
    cidr: str = "0.0.0.0/0"


class LoadBalancer(_Strict):
    listener: Listener = Listener()
    ingress: list[SecurityGroupRule] = Field(
        default_factory=lambda: [SecurityGroupRule(port=80)],
        description="Ingress rules of the ALB's security group; a listener port not allowed here is unreachable.",
    )
    subnets: int = Field(default=2, ge=2, le=6, description="Subnets (one per availability zone) the ALB spans.")
    health_check: TargetGroupHealthCheck = TargetGroupHealthCheck()
    idle_timeout_seconds: int = Field(
        default=60,
        ge=1,
        le=4000,
        description="The load balancer's idle_timeout.timeout_seconds: an established connection idle this long is closed.",
    )
    deregistration_delay_seconds: int = Field(
        default=3,
        ge=0,
        le=3599,
        description="The target group's deregistration_delay.timeout_seconds: how long a deregistered target drains "
        "(AWS default 300, 0-3600; moto refuses 3600).",
    )


class Region(_Strict):
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    address: str = Field(pattern=r"^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$", description="The front door's loopback address.")
    front: Literal["alb", "apigw"] = Field(
        default="alb", description="apigw: an API Gateway regional custom domain over HTTPS:443 with a Lambda integration."
    )
    app: App = App()
    alb: LoadBalancer = LoadBalancer()
    network_latency_ms: float = Field(
        default=0,
        ge=0,
        le=2000,
        description=(
            "Round-trip time between the drill's clients (and Route 53's checkers) and this region's front door (ALB or "
            "API Gateway): each response waits one round trip, the first on a connection also the handshake's."
        ),
    )

    @model_validator(mode="after")
    def _api_runs_lambda(self) -> Region:
        if self.front == "apigw" and self.app.kind != "lambda":
            raise ValueError("front apigw needs app.kind lambda")
        return self


class HealthCheck(_Strict):
    """A Route 53 health check on a region's ALB (by its DNS name, as for a real ALB)."""

    protocol: Literal["HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"] = "HTTP"
    port: int = Field(default=80, ge=1, le=65535)
    path: str = "/health"
    interval_seconds: int = Field(default=1, ge=1, le=30, description="RequestInterval (AWS allows 10 or 30; the lab is faster).")
    failure_threshold: int = Field(default=3, ge=1, le=10)
    search_string: str | None = Field(default=None, max_length=255)
    inverted: bool = False
    watches: Literal["primary", "standby"] | None = Field(
        default=None,
        description="Knob: whose ALB the check requests (default: its own record's region); primary_health_check "
        "with watches: standby is the copy-paste defect where Route 53 never sees the primary fail.",
    )

    @model_validator(mode="after")
    def _string_match(self) -> HealthCheck:
        if self.protocol.endswith("STR_MATCH") and not self.search_string:
            raise ValueError(f"protocol {self.protocol} needs search_string")
        return self


class Route53(_Strict):
    zone: str = "drillkit.lab."
    public_name: str = "app.drillkit.lab."
    record: Literal["alias", "cname", "a"] = Field(
        default="alias", description="alias: A alias to the ALB; cname: CNAME to the ALB's name; a: A with its address."
    )
    ttl: int = Field(default=1, ge=0, le=86400, description="TTL of cname and a records (alias records take the ALB's).")
    secondary: bool = Field(default=True, description="Knob: false leaves out the SECONDARY record (no cutover possible).")
    primary_health_check: HealthCheck | None = HealthCheck()
    standby_health_check: HealthCheck | None = None
    primary_calculated: bool = Field(
        default=False,
        description="Knob: the PRIMARY record gets a CALCULATED health check (child: primary_health_check, threshold 1).",
    )
    api_rate_scale: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Knob: multiplies Route 53's API rate limits (1 = AWS's numbers); for tests of the throttle itself.",
    )

    @field_validator("zone", "public_name")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return value if value.endswith(".") else value + "."

    @model_validator(mode="after")
    def _name_in_zone(self) -> Route53:
        if not self.public_name.endswith("." + self.zone):
            raise ValueError(f"public_name {self.public_name} is not inside zone {self.zone}")
        return self


class Database(_Strict):
    """An Aurora-like database: a writer cluster in the primary region, a reader in the standby."""

    engine: Literal["aurora-postgresql", "aurora-mysql"] = "aurora-postgresql"
    global_cluster: bool = Field(
        default=True, description="Knob: false leaves the reader outside any global cluster (it receives nothing)."
    )
    replication_lag_seconds: float = Field(default=0.5, ge=0, le=60)
    failover_seconds: float = Field(
        default=1.0, gt=0, le=3600, description="How long FailoverGlobalCluster (AllowDataLoss) takes (AWS: minutes)."
    )
    switchover_seconds: float = Field(
        default=1.0, gt=0, le=3600, description="How long SwitchoverGlobalCluster takes (AWS: minutes)."
    )
    rejoin_seconds: float = Field(
        default=1.0,
        ge=0,
        le=7200,
        description="After a failover, how long the old writer stays pending-resync before it is a synchronized secondary.",
    )


class Alarm(_Strict):
    """A CloudWatch alarm on a metric the lab produces."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
    metric: Literal["HealthCheckStatus", "UnHealthyHostCount", "HealthyHostCount"]
    region: Literal["primary", "standby"] = Field(
        default="primary",
        description="Whose health check or load balancer; HealthCheckStatus alarms live in us-east-1, as in AWS.",
    )
    comparison: Literal[
        "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"
    ]
    threshold: float
    evaluation_periods: int = Field(default=1, ge=1, le=10)
    period_seconds: int = Field(default=1, ge=1, le=3600, description="The lab evaluates every period (AWS: 10 s and up).")
    actions: bool = Field(default=True, description="Knob: false creates the alarm without actions: it notifies nobody.")
    load_balancer_dimension: Literal["id", "arn"] = Field(
        default="id", description="Knob: arn puts the ALB's ARN where CloudWatch expects app/name/id; the alarm never sees data."
    )


class AutomationRule(_Strict):
    """An EventBridge rule on the region's default bus reacting to alarm state changes (DR automation)."""

    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    region: Literal["primary", "standby"] = "primary"
    targets: bool = Field(
        default=True, description="Knob: false creates the rule without targets: it matches events and does nothing."
    )


class GlobalTable(_Strict):
    """A DynamoDB global table (version 2019.11.21): created in the primary region, a replica in the standby."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$", description="The table's name (the same in every region).")
    hash_key: str = Field(default="pk", min_length=1, max_length=255, description="The partition key (a string attribute).")
    range_key: str | None = Field(default=None, min_length=1, max_length=255, description="The sort key, if any (a string).")
    replica: bool = Field(
        default=True, description="Knob: false = no standby replica (the table is not global; nothing replicates)."
    )
    replication_lag_seconds: float = Field(
        default=0.5,
        ge=0,
        le=600,
        description="How long a write in one replica takes to be visible in the other (AWS: typically within a second).",
    )


class ReplicatedBucket(_Strict):
    """S3 Cross-Region Replication from a source bucket (primary region) to a destination bucket (standby region)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,53}[a-z0-9]$", description="The source bucket.")
    destination: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="The destination bucket in the standby region (default: `<name>-replica`).",
    )
    prefix: str = Field(default="", max_length=1024, description="The replication rule's filter prefix ('' = every object).")
    rule_enabled: bool = Field(default=True, description="Knob: false = the rule is Disabled: nothing replicates.")
    destination_versioning: bool = Field(
        default=True,
        description="Knob: false = versioning suspended on the destination after the rule was set: replication FAILS.",
    )
    role: bool = Field(default=True, description="Knob: false = the rule names a role that does not exist: replication FAILS.")
    destination_allows: bool = Field(
        default=True,
        description="Knob: false = the destination's bucket policy denies the role s3:ReplicateObject: replication FAILS.",
    )
    delete_marker_replication: bool = Field(
        default=False, description="The rule's DeleteMarkerReplication (AWS's default in a Filter rule: Disabled)."
    )
    replication_lag_seconds: float = Field(
        default=1.0, ge=0, le=3600, description="Delay before a source object appears in the destination."
    )

    @property
    def destination_bucket(self) -> str:
        return self.destination or f"{self.name}-replica"


class Peering(_Strict):
    """A VPC peering connection between the two regions' VPCs (requested by the primary's, inter-region)."""

    accepted: bool = Field(default=True, description="Knob: false leaves it pending-acceptance: it carries no traffic.")
    routed: bool = Field(
        default=True,
        description="Knob: false leaves the standby's route tables without a route to the primary's CIDR through it.",
    )


class Backup(_Strict):
    """An AWS Backup plan in the primary region with a daily rule into the primary's vault."""

    copy_to_standby: bool = Field(
        default=True,
        description="Knob: false leaves out the rule's copy action to the standby region's vault (backups stay in "
        "the region they protect).",
    )


class StackSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    description: str = ""
    primary: Region
    standby: Region
    route53: Route53 = Route53()
    database: Database | None = None
    alarms: list[Alarm] = Field(default_factory=list)
    automation_rules: list[AutomationRule] = Field(default_factory=list)
    tables: list[GlobalTable] = Field(default_factory=list, description="DynamoDB global tables (primary -> standby).")
    buckets: list[ReplicatedBucket] = Field(
        default_factory=list, description="S3 Cross-Region Replication, source in the primary region, destination in the standby."
    )
    peering: Peering | None = None
    backup: Backup | None = None

    @model_validator(mode="after")
    def _distinct(self) -> StackSpec:
        if self.primary.address == self.standby.address:
            raise ValueError("primary.address and standby.address must differ")
        if self.primary.region == self.standby.region:
            raise ValueError("primary.region and standby.region must differ")
        return self

    @model_validator(mode="after")
    def _deep_health_needs_a_database(self) -> StackSpec:
        for role, region in (("primary", self.primary), ("standby", self.standby)):
            if region.app.health == "deep" and self.database is None:
                raise ValueError(f"{role}.app.health is deep but the stack has no database")
        return self

    @model_validator(mode="after")
    def _peer_dependency_crosses_a_peering(self) -> StackSpec:
        for role, region in self.regions().items():
            if not region.app.peer_dependency:
                continue
            if self.peering is None:
                raise ValueError(f"{role}.app.peer_dependency needs peering: the dependency is reached over the VPC peering")
            if self.primary.front != "alb" or self.standby.front != "alb":
                raise ValueError(f"{role}.app.peer_dependency needs front alb in both regions (an API Gateway front has no VPC)")
            if region.app.kind == "lambda" and region.app.vpc_egress is None:
                raise ValueError(
                    f"{role}.app.peer_dependency with app.kind lambda needs app.vpc_egress: a function outside a VPC "
                    "cannot reach private addresses in another VPC"
                )
        return self

    @model_validator(mode="after")
    def _alarms_have_their_resources(self) -> StackSpec:
        names = [a.name for a in self.alarms]
        if len(set(names)) != len(names):
            raise ValueError("alarm names must be unique")
        for alarm in self.alarms:
            check = self.route53.primary_health_check if alarm.region == "primary" else self.route53.standby_health_check
            if alarm.metric == "HealthCheckStatus" and check is None:
                raise ValueError(f"alarm {alarm.name} watches the {alarm.region} health check, which the stack does not have")
        return self

    @model_validator(mode="after")
    def _data_stores_unique(self) -> StackSpec:
        tables = [t.name for t in self.tables]
        if len(set(tables)) != len(tables):
            raise ValueError("table names must be unique")
        buckets = [name for b in self.buckets for name in (b.name, b.destination_bucket)]
        if len(set(buckets)) != len(buckets):
            raise ValueError("bucket names (sources and destinations) must be unique")
        return self

    def regions(self) -> dict[str, Region]:
        return {"primary": self.primary, "standby": self.standby}


def parse_stack(payload: Any, source: str = "(stack)") -> StackSpec:
    if not isinstance(payload, dict):
        raise StackInvalid(source, [("(stack)", "must be a mapping")])
    try:
        return StackSpec.model_validate(payload)
    except ValidationError as error:
        raise StackInvalid(source, describe_validation_error(error, whole="(stack)")) from None


def load_stack(path: Path | None = None) -> StackSpec:
    path = path or DEFAULT_STACK
    try:
        payload = yaml.safe_load(path.read_text())
    except OSError as error:
        raise StackInvalid(str(path), [("(file)", error.strerror or str(error))]) from None
    except yaml.YAMLError as error:
        raise StackInvalid(str(path), [("(file)", f"not valid YAML: {error}")]) from None
    return parse_stack(payload, str(path))
