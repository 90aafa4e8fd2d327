"""Scenario and drill-request models: the one place where input is validated.

A scenario says what to break and what to expect; a drill request wraps a scenario
with who asked and, for the local lab, where its resolver and HTTP listeners are.
Every model forbids unknown fields so a typo is reported instead of ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drillkit.errors import ScenarioInvalid

# An SSM Change Calendar, by name or ARN (a game-day plan or a scenario may name one).
CALENDAR_PATTERN = r"^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:document/)?[A-Za-z0-9_.-]{3,128}$"

DRILL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{5,62}$"
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"
HOSTNAME_PATTERN = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9_-]{1,63}\.?$")


class _Strict(BaseModel):
    # allow_inf_nan: "inf" or "NaN" as a number (pydantic reads the strings too) would pass every bound
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Target(_Strict):
    """The failover record under test and how clients reach it."""

    hosted_zone: str = Field(description="Name of the public hosted zone, e.g. example.com.")
    record_name: str = Field(description="The failover record clients resolve, e.g. app.example.com.")
    record_type: Literal["A", "AAAA", "CNAME"] = "A"
    url_scheme: Literal["http", "https"] = "https"
    url_port: int | None = Field(default=None, ge=1, le=65535)
    url_path: str = "/"
    region_header: str = Field(
        default="x-drillkit-region",
        description="Response header (or JSON body key 'region') naming the region that served a request.",
    )
    role_arn: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
        description="IAM role in the stack's account that drillkit assumes for every call to the stack (cross-account).",
    )
    external_id: str | None = Field(
        default=None,
        min_length=2,
        max_length=1224,
        pattern=r"^[\w+=,.@:/-]+$",
        description="ExternalId the role's trust policy asks for.",
    )

    @field_validator("hosted_zone", "record_name")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        value = value.strip()
        if not HOSTNAME_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a DNS name")
        return value if value.endswith(".") else value + "."

    @field_validator("url_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @model_validator(mode="after")
    def _record_in_zone(self) -> Target:
        if not (self.record_name == self.hosted_zone or self.record_name.endswith("." + self.hosted_zone)):
            raise ValueError(f"record_name {self.record_name} is not inside hosted_zone {self.hosted_zone}")
        if self.external_id and not self.role_arn:
            raise ValueError("external_id applies only with role_arn")
        return self


class HealthCheckInversion(_Strict):
    """Invert the Route 53 health check of a failover record; restore puts the flag back."""

    type: Literal["health-check-inversion"]
    record: Literal["primary", "standby"] = "primary"


def _is_arn(value: str | None, service: str) -> bool:
    return bool(value) and bool(re.match(rf"^arn:aws[a-z-]*:{service}:", value or ""))


class _PrimaryLoadBalancer(_Strict):
    """Which ALB is the primary's: by default the one the PRIMARY record's alias or CNAME points at."""

    load_balancer: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="Name or ARN of the primary ALB, when the record names an address.",
    )
    region: str | None = Field(default=None, pattern=REGION_PATTERN, description="Region of a load balancer given by name.")

    @model_validator(mode="after")
    def _region_for_name(self) -> _PrimaryLoadBalancer:
        if self.load_balancer and not _is_arn(self.load_balancer, "elasticloadbalancing") and not self.region:
            raise ValueError("region is required when load_balancer is a name, not an ARN")
        return self


class FailTargets(_PrimaryLoadBalancer):
    """Take the primary's targets out of service.

    deregister: deregister every target of the primary target group (restore registers exactly
    what describe returned, ports and availability zones included); ecs-scale-to-zero: set the ECS
    service behind the target group to desiredCount 0 (restore: the original count);
    lambda-throttle: set the target function's reserved concurrency to 0 (restore: the original
    setting, or none).
    """

    type: Literal["fail-targets"]
    method: Literal["deregister", "ecs-scale-to-zero", "lambda-throttle"] = "deregister"
    target_group: str | None = Field(default=None, description="ARN; default: the target group the ALB's listeners forward to.")
    ecs_cluster: str | None = Field(default=None, min_length=1, description="ecs-scale-to-zero: cluster; default: found.")
    ecs_service: str | None = Field(default=None, min_length=1, description="ecs-scale-to-zero: service; default: found.")
    function: str | None = Field(
        default=None, min_length=1, description="lambda-throttle: function name or ARN; default: the target group's Lambda."
    )

    @model_validator(mode="after")
    def _method_fields(self) -> FailTargets:
        if self.target_group and not _is_arn(self.target_group, "elasticloadbalancing"):
            raise ValueError("target_group must be a target group ARN")
        if (self.ecs_cluster or self.ecs_service) and self.method != "ecs-scale-to-zero":
            raise ValueError("ecs_cluster and ecs_service apply to method ecs-scale-to-zero only")
        if self.function and self.method != "lambda-throttle":
            raise ValueError("function applies to method lambda-throttle only")
        if bool(self.ecs_cluster) != bool(self.ecs_service):
            raise ValueError("ecs_cluster and ecs_service go together")
        if self.function and not _is_arn(self.function, "lambda") and not self.region:
            raise ValueError("region is required when function is a name, not an ARN")
        return self


class BlockPrimaryAlb(_PrimaryLoadBalancer):
    """Cut the primary ALB off from the internet.

    security-group: swap the ALB's security groups for an isolation group with no ingress (restore:
    the exact original set; the isolation group is deleted); network-acl: associate the ALB's
    subnets with an isolation network ACL that denies everything (restore: the original
    associations; the isolation ACL is deleted).
    """

    type: Literal["block-primary-alb"]
    method: Literal["security-group", "network-acl"] = "security-group"


class StopCluster(_Strict):
    """Take the primary database away.

    stop: stop_db_cluster on the primary cluster (restore: start it, wait until available);
    global-failover: unplanned failover_global_cluster to the standby with AllowDataLoss (restore:
    switch back to the original writer); global-switchover: planned switchover_global_cluster
    (restore: switch back).
    """

    type: Literal["stop-cluster"]
    method: Literal["stop", "global-failover", "global-switchover"] = "stop"
    cluster: str = Field(min_length=1, max_length=2048, description="Identifier or ARN of the primary (writer) cluster.")
    region: str | None = Field(default=None, pattern=REGION_PATTERN, description="Region of a cluster given by identifier.")
    failover_to: str | None = Field(
        default=None, description="ARN of the cluster to promote; default: the global cluster's other member."
    )

    @model_validator(mode="after")
    def _where(self) -> StopCluster:
        if not _is_arn(self.cluster, "rds") and not self.region:
            raise ValueError("region is required when cluster is an identifier, not an ARN")
        if self.failover_to and not _is_arn(self.failover_to, "rds"):
            raise ValueError("failover_to must be a DB cluster ARN")
        if self.failover_to and self.method == "stop":
            raise ValueError("failover_to applies to the global methods only")
        return self


# New faults join this union; the ``type`` field selects the model.
FaultSpec = Annotated[HealthCheckInversion | FailTargets | BlockPrimaryAlb | StopCluster, Field(discriminator="type")]
FAULT_TYPES = ("health-check-inversion", "fail-targets", "block-primary-alb", "stop-cluster")


class AlarmRef(_Strict):
    """A CloudWatch alarm that should fire when the primary fails (alerting)."""

    name: str = Field(min_length=1, max_length=255)
    region: str = Field(default="us-east-1", pattern=REGION_PATTERN)

    @field_validator("name")
    @classmethod
    def _not_an_arn(cls, value: str) -> str:
        if value.startswith("arn:"):
            raise ValueError("give the alarm's name, not its ARN")
        return value


class Heartbeat(_Strict):
    """The data canary: one row per interval written to the primary cluster through the RDS Data API."""

    primary_cluster_arn: str = Field(pattern=r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]{0,62}$")
    standby_cluster_arn: str = Field(pattern=r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]{0,62}$")
    secret_arn: str = Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:", description="Credentials the Data API uses.")
    database: str | None = Field(default=None, min_length=1, max_length=64)
    table: str = Field(default="drillkit_heartbeat", pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @model_validator(mode="after")
    def _two_clusters(self) -> Heartbeat:
        if self.primary_cluster_arn == self.standby_cluster_arn:
            raise ValueError("standby_cluster_arn must differ from primary_cluster_arn")
        return self


TABLE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"
BUCKET_NAME_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
STORE_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
ATTRIBUTE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,255}$"


class _Store(_Strict):
    name: str | None = Field(
        default=None, pattern=STORE_NAME_PATTERN, description="How the report names the store; default: the table or bucket."
    )
    primary_region: str = Field(pattern=REGION_PATTERN, description="Where the application writes (the heartbeat too).")
    standby_region: str = Field(pattern=REGION_PATTERN, description="Where the copy a failover serves from lives.")
    rpo_seconds: float | None = Field(default=None, ge=0, description="This store's RPO target; default objectives.rpo_seconds.")

    @model_validator(mode="after")
    def _two_regions(self) -> _Store:
        if self.primary_region == self.standby_region:
            raise ValueError("standby_region must differ from primary_region")
        return self


class DynamoDbGlobalTable(_Store):
    """A DynamoDB global table: one heartbeat item written through the primary region's replica, read in the standby's."""

    kind: Literal["dynamodb-global-table"]
    table: str = Field(pattern=TABLE_NAME_PATTERN)
    partition_key: str = Field(default="pk", pattern=ATTRIBUTE_NAME_PATTERN, description="The table's partition key (type S).")
    sort_key: str | None = Field(default=None, pattern=ATTRIBUTE_NAME_PATTERN, description="Its sort key (type S), if any.")

    @property
    def label(self) -> str:
        return self.name or self.table


class S3Replication(_Store):
    """S3 replication: one heartbeat object under a prefix the replication rule covers, read in the destination bucket."""

    kind: Literal["s3-replication"]
    bucket: str = Field(pattern=BUCKET_NAME_PATTERN, description="The source bucket (primary region).")
    destination_bucket: str = Field(pattern=BUCKET_NAME_PATTERN, description="The rule's destination bucket (standby region).")
    prefix: str = Field(default="", max_length=512, description="A prefix the replication rule covers, e.g. records/.")

    @property
    def label(self) -> str:
        return self.name or self.bucket

    @model_validator(mode="after")
    def _two_buckets(self) -> S3Replication:
        if self.bucket == self.destination_bucket:
            raise ValueError("destination_bucket must differ from bucket")
        return self


StoreSpec = Annotated[DynamoDbGlobalTable | S3Replication, Field(discriminator="kind")]
STORE_KINDS = ("dynamodb-global-table", "s3-replication")


class Data(_Strict):
    heartbeat: Heartbeat | None = Field(default=None, description="The Aurora global database canary (RDS Data API).")
    stores: list[StoreSpec] = Field(
        default_factory=list,
        max_length=10,
        description="Other replicated stores, each with its own heartbeat: DynamoDB global tables, S3 replication.",
    )

    @field_validator("stores")
    @classmethod
    def _names_unique(cls, value: list[DynamoDbGlobalTable | S3Replication]) -> list[DynamoDbGlobalTable | S3Replication]:
        labels = [store.label for store in value]
        if twice := sorted({label for label in labels if labels.count(label) > 1}):
            raise ValueError(f"store names must be unique ({', '.join(twice)} twice): give each a name")
        return value

    @property
    def measured(self) -> bool:
        """A heartbeat of some store: the drill measures a recovery point."""
        return self.heartbeat is not None or bool(self.stores)


class Objectives(_Strict):
    """Targets in seconds after injection; a missing target is measured but not judged."""

    detection_seconds: float | None = Field(default=None, gt=0)
    alerting_seconds: float | None = Field(default=None, gt=0, description="First ALARM of the scenario's alarms.")
    dns_cutover_seconds: float | None = Field(default=None, gt=0)
    client_cutover_seconds: float | None = Field(default=None, gt=0, description="What a caching resolver returns.")
    recovery_seconds: float | None = Field(default=None, gt=0, description="The RTO target.")
    rpo_seconds: float | None = Field(default=None, ge=0, description="The RPO target; needs data.heartbeat or data.stores.")


PROBE_TIMEOUT_SECONDS = 5.0
DEFAULT_RESTORE_BUDGET_SECONDS = 1800.0  # an Aurora global failover, resync and switchover back take minutes each
# Route 53's documented request rates ("Throttling for Amazon Route 53 API requests"): the account's
# sustained rate is shared by every caller, so a drill may spend at most half of it.
ROUTE53_ACCOUNT_REQUESTS_PER_SECOND = 10.0
ROUTE53_DRILL_SHARE = 0.5
# The health-check probe asks for GetHealthCheckStatus and GetHealthCheck at most this often.
HEALTH_STATUS_MIN_INTERVAL_SECONDS = 2.0
# Route 53 API calls the probes make on every sample: none since the DNS probe asks the zone's name servers
# instead of TestDNSAnswer; a probe that adds one must count it here.
ROUTE53_CALLS_EVERY_SAMPLE = 0


def route53_requests_per_second(interval_seconds: float) -> float:
    """The Route 53 request rate of one drill's probes at a sampling interval."""
    health = 2 / max(interval_seconds, HEALTH_STATUS_MIN_INTERVAL_SECONDS)
    return ROUTE53_CALLS_EVERY_SAMPLE / interval_seconds + health


class Sampling(_Strict):
    interval_seconds: float = Field(default=1.0, ge=0.1, le=60)
    probe_timeout_seconds: float = Field(
        default=PROBE_TIMEOUT_SECONDS,
        ge=0.5,
        le=30,
        description=(
            "How long one probe reading (HTTP request, DNS query, heartbeat write) may take before it counts as failed; "
            "independent of the interval: a reading slower than the interval does not delay the next one."
        ),
    )
    hold_samples: int = Field(default=2, ge=1, le=20, description="Samples a cutover must hold to count.")
    steady_state_samples: int = Field(default=3, ge=1, le=60)
    steady_state_timeout_seconds: float = Field(default=60, gt=0, le=3600)
    observe_timeout_seconds: float = Field(default=300, gt=0, le=3600)
    restore_timeout_seconds: float = Field(default=300, gt=0, le=3600)
    restore_budget_seconds: float | None = Field(
        default=None,
        gt=0,
        le=5400,
        description="How long the Restore loop may take to put every fault back (an Aurora switchover back takes "
        "minutes); default 1800. Counted from the first Restore call; past it the restore fails, naming what it waits for.",
    )

    @property
    def restore_budget(self) -> float:
        return self.restore_budget_seconds or DEFAULT_RESTORE_BUDGET_SECONDS

    @model_validator(mode="after")
    def _probe_timeout_fits(self) -> Sampling:
        # A wait that ends before one reading could: no reading would ever arrive in time.
        for name in ("steady_state_timeout_seconds", "observe_timeout_seconds", "restore_timeout_seconds"):
            if self.probe_timeout_seconds >= getattr(self, name):
                raise ValueError(f"probe_timeout_seconds ({self.probe_timeout_seconds:g}) must be shorter than {name}")
        return self

    @field_validator("interval_seconds")
    @classmethod
    def _within_route53_rates(cls, value: float) -> float:
        budget = ROUTE53_ACCOUNT_REQUESTS_PER_SECOND * ROUTE53_DRILL_SHARE
        rate = route53_requests_per_second(value)
        if rate > budget:
            raise ValueError(
                f"sampling every {value:g} s makes {rate:.1f} Route 53 API requests a second; Route 53 serves an "
                f"account {ROUTE53_ACCOUNT_REQUESTS_PER_SECOND:g} a second for all its callers and a drill may take "
                f"{budget:g}: sample less often"
            )
        return value


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    version: str = Field(default="1", min_length=1, max_length=32)
    description: str = ""
    target: Target
    fault: FaultSpec
    objectives: Objectives = Objectives()
    sampling: Sampling = Sampling()
    alarms: list[AlarmRef] = Field(default_factory=list, max_length=20, description="Alarms that should fire (alerting).")
    stop_conditions: list[AlarmRef] = Field(
        default_factory=list,
        max_length=20,
        description="Alarms that must not fire: in ALARM before the drill it does not start; during it, it restores at once.",
    )
    data: Data = Data()
    change_calendar: str | None = Field(
        default=None,
        pattern=CALENDAR_PATTERN,
        description="An SSM Change Calendar (name or ARN): while it is CLOSED the drill refuses to start, naming it.",
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _measurable(self) -> Scenario:
        if self.objectives.alerting_seconds is not None and not self.alarms:
            raise ValueError("objectives.alerting_seconds needs alarms to watch")
        if self.objectives.rpo_seconds is not None and not self.data.measured:
            raise ValueError("objectives.rpo_seconds needs data.heartbeat or data.stores")
        return self

    def content_hash(self) -> str:
        document = self.model_dump(mode="json")
        for section, optional in (("target", "role_arn"), ("target", "external_id"), ("sampling", "restore_budget_seconds")):
            # Added later: a scenario that does not set them keeps the hash its earlier reports recorded.
            if document[section].get(optional) is None:
                document[section].pop(optional, None)
        if document.get("change_calendar") is None:
            document.pop("change_calendar", None)  # added later, likewise
        if document["sampling"].get("probe_timeout_seconds") == PROBE_TIMEOUT_SECONDS:
            document["sampling"].pop("probe_timeout_seconds")  # added later, likewise
        if not document["data"].get("stores"):
            document["data"].pop("stores", None)  # likewise
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class Resolver(_Strict):
    host: str
    port: int = Field(default=53, ge=1, le=65535)


class Network(_Strict):
    """Where probes reach the stack when it is not the public internet (the local lab)."""

    resolver: Resolver | None = None
    ports: dict[int, int] = Field(default_factory=dict, description="Logical port -> the port it really listens on.")
    ca_pem: str | None = Field(default=None, max_length=20000, description="An extra CA to trust for HTTPS (the lab's own).")


class DrillRequest(_Strict):
    drill_id: str | None = Field(default=None, pattern=DRILL_ID_PATTERN)
    requested_by: str = Field(default="unknown", max_length=128)
    scenario: Scenario
    network: Network = Network()


def _field_name(location: tuple[Any, ...], whole: str) -> str:
    # Drop the discriminator tag pydantic inserts ("fault.health-check-inversion.record").
    parts = [str(part) for part in location if part not in FAULT_TYPES and part not in STORE_KINDS]
    return ".".join(parts) or whole


def describe_validation_error(error: ValidationError, prefix: str = "", whole: str = "(request)") -> list[tuple[str, str]]:
    """(field path, problem) for every error, in the words our users read; ``whole`` names the document."""
    problems = []
    for item in error.errors():
        field = _field_name(item["loc"], whole)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append((prefix + field, message))
    return problems


def parse_request(payload: Any) -> DrillRequest:
    """Validate a drill request, raising ScenarioInvalid that names every bad field."""
    if not isinstance(payload, dict):
        raise ScenarioInvalid([("(request)", "must be a JSON object")])
    try:
        return DrillRequest.model_validate(payload)
    except ValidationError as error:
        raise ScenarioInvalid(describe_validation_error(error)) from None


def parse_scenario(payload: Any) -> Scenario:
    if not isinstance(payload, dict):
        raise ScenarioInvalid([("(scenario)", "must be a mapping")])
    try:
        return Scenario.model_validate(payload)
    except ValidationError as error:
        raise ScenarioInvalid(describe_validation_error(error)) from None


SCENARIO_SCHEMA_ID = "https://drillkit.dev/schemas/scenario.schema.json"


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file, generated from the Scenario model (docs/scenario.schema.json, for editors).

    Validation mode: what a file may say (defaults may be left out). Cross-field rules (an RPO target needs a heartbeat)
    are the model's alone; `drillkit run --dry-run` checks them.
    """
    schema = Scenario.model_json_schema(mode="validation")
    version = schema["properties"]["version"]
    # `version: 1` is read as "1" (Scenario._version_as_text): the file may give a number.
    schema["properties"]["version"] = {
        "title": version.get("title", "Version"),
        "default": version.get("default"),
        "anyOf": [{k: v for k, v in version.items() if k not in ("title", "default")}, {"type": "number"}],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCENARIO_SCHEMA_ID,
        **schema,
        "title": "drillkit scenario",
    }
