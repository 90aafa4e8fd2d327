"""What one drill would cost on AWS, modeled from what it did in the lab.

Inputs, all measured in the run: the lab's usage meter (every request by service and operation, every Lambda
invocation with its memory and duration), the execution history (state transitions), the size of the drill's
ledger items (DynamoDB bills request units by item size), the Lambda log bytes written, and the DNS queries
the probes sent. Prices come from benchmarks/prices.json alone (one file, with its date and sources).

Where the lab cannot see a quantity the model takes the upper bound and says so in the line's basis.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from drillkit_lab.usage import Usage

PRICES = Path(__file__).with_name("prices.json")

DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
DYNAMODB_READS = {"GetItem", "Query", "Scan"}
S3_TIER_ONE = {"PutObject", "PostObject", "CopyObject", "ListObjects", "ListObjectsV2"}
S3_FREE = {"DeleteObject"}
KMS_ASYMMETRIC = {"Sign", "Verify", "GetPublicKey"}  # drillkit's only key is the ECC_NIST_P256 signing key
# Control-plane APIs that AWS does not bill per request (describe/list/change calls of these services).
FREE_SERVICES = {"route53", "elasticloadbalancing", "ec2", "rds", "sts", "states", "events", "iam", "ecs", "scheduler", "ssm"}


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: str
    region: str
    currency: str
    note: str
    sources: dict[str, str]
    step_functions_standard_per_state_transition: float
    lambda_per_gb_second_arm64: float
    lambda_per_gb_second_x86_64: float
    lambda_per_request: float
    dynamodb_on_demand_per_write_request_unit: float
    dynamodb_on_demand_per_read_request_unit: float
    s3_standard_per_put_copy_post_list_request: float
    s3_standard_per_get_and_other_request: float
    kms_per_symmetric_request: float
    kms_per_asymmetric_request: float
    sns_per_publish: float
    cloudwatch_per_api_request: float
    cloudwatch_logs_per_gb_ingested: float
    rds_data_api_per_request: float
    route53_api_per_request: float
    route53_per_standard_dns_query: float
    xray_per_trace_recorded: float
    fis_per_action_minute: float


def load_prices(path: Path = PRICES) -> PriceTable:
    return PriceTable.model_validate(json.loads(path.read_text()))


class CostLine(BaseModel):
    item: str
    quantity: float
    unit: str
    unit_usd: float
    usd: float
    basis: str


class DrillRun(BaseModel):
    """What one drill did, as the cost model needs it."""

    usage: Usage
    state_transitions: int
    largest_item_bytes: int  # the drill's largest ledger item: request units are billed by item size
    log_bytes: int  # Lambda log output written during the drill (CloudWatch Logs ingestion)
    history_bytes: int  # the execution history as JSON: the state machine's log volume at level ALL
    dns_queries: int  # authoritative queries the DNS probe sent (Route 53 bills queries, not API calls)
    ticks: int = 0  # sampling ticks (each reads every probe once)
    fault_seconds: float  # fault injected to restore started: what AWS FIS would bill as action time
    architecture: str = "arm64"


class DrillCost(BaseModel):
    lines: list[CostLine]
    total_usd: float
    fis_usd: float  # the same fault held for the same time as one AWS FIS action
    unpriced: list[str]  # requests of services this model does not price (named, so nothing hides)


def _line(item: str, quantity: float, unit: str, price: float, basis: str) -> CostLine:
    return CostLine(item=item, quantity=quantity, unit=unit, unit_usd=price, usd=quantity * price, basis=basis)


def drill_cost(run: DrillRun, prices: PriceTable) -> DrillCost:
    usage = run.usage
    lines: list[CostLine] = []
    gb_seconds = sum(i.memory_mb / 1024 * math.ceil(i.duration_ms) / 1000 for i in usage.invocations)
    per_gb_second = prices.lambda_per_gb_second_arm64 if run.architecture == "arm64" else prices.lambda_per_gb_second_x86_64
    lines.append(
        _line(
            "Step Functions state transitions",
            run.state_transitions,
            "transition",
            prices.step_functions_standard_per_state_transition,
            "StateEntered events in the execution history",
        )
    )
    lines.append(
        _line("Lambda requests", len(usage.invocations), "request", prices.lambda_per_request, "invocations the lab ran")
    )
    lines.append(
        _line(
            "Lambda compute",
            gb_seconds,
            "GB-second",
            per_gb_second,
            f"each invocation's duration rounded up to 1 ms x its MemorySize ({run.architecture})",
        )
    )
    write_units = math.ceil(run.largest_item_bytes / 1024) or 1
    read_units = math.ceil(run.largest_item_bytes / 4096) or 1
    writes = sum(usage.count("dynamodb", op) for op in DYNAMODB_WRITES)
    reads = sum(usage.count("dynamodb", op) for op in DYNAMODB_READS)
    lines.append(
        _line(
            "DynamoDB writes",
            writes * write_units,
            "write request unit",
            prices.dynamodb_on_demand_per_write_request_unit,
            f"{writes} writes x {write_units} WRU (the largest item, {run.largest_item_bytes} B: an upper bound)",
        )
    )
    lines.append(
        _line(
            "DynamoDB reads",
            reads * read_units,
            "read request unit",
            prices.dynamodb_on_demand_per_read_request_unit,
            f"{reads} strongly consistent reads x {read_units} RRU (the largest item: an upper bound)",
        )
    )
    s3_tier_one = sum(usage.count("s3", op) for op in S3_TIER_ONE)
    s3_other = sum(r.count for r in usage.requests if r.service == "s3" and r.operation not in S3_TIER_ONE | S3_FREE)
    lines.append(
        _line(
            "S3 PUT/LIST requests",
            s3_tier_one,
            "request",
            prices.s3_standard_per_put_copy_post_list_request,
            "samples, artifacts, manifests, listings",
        )
    )
    lines.append(
        _line(
            "S3 GET/HEAD requests",
            s3_other,
            "request",
            prices.s3_standard_per_get_and_other_request,
            "samples read back, latest-report pointer, bucket settings",
        )
    )
    asymmetric = sum(usage.count("kms", op) for op in KMS_ASYMMETRIC)
    symmetric = usage.count("kms") - asymmetric
    lines.append(_line("KMS asymmetric requests", asymmetric, "request", prices.kms_per_asymmetric_request, "manifest signature"))
    lines.append(_line("KMS symmetric requests", symmetric, "request", prices.kms_per_symmetric_request, "other KMS calls"))
    lines.append(_line("SNS publishes", usage.count("sns", "Publish"), "request", prices.sns_per_publish, "drill notifications"))
    lines.append(
        _line(
            "CloudWatch API requests",
            usage.count("monitoring"),
            "request",
            prices.cloudwatch_per_api_request,
            "alarm states read by the alarms probe",
        )
    )
    lines.append(
        _line(
            "RDS Data API requests",
            usage.count("rds-data"),
            "request",
            prices.rds_data_api_per_request,
            "heartbeat writes and reads",
        )
    )
    lines.append(
        _line(
            "Route 53 DNS queries",
            run.dns_queries,
            "query",
            prices.route53_per_standard_dns_query,
            "authoritative queries of the DNS probe (Route 53 API calls are not billed)",
        )
    )
    log_gb = (run.log_bytes + run.history_bytes) / 1024**3
    lines.append(
        _line(
            "CloudWatch Logs ingestion",
            log_gb,
            "GB",
            prices.cloudwatch_logs_per_gb_ingested,
            "Lambda log bytes written + the execution history's size (state machine logging at level ALL)",
        )
    )
    lines.append(
        _line(
            "X-Ray traces",
            len(usage.invocations) + 1,
            "trace",
            prices.xray_per_trace_recorded,
            "one per invocation and one for the execution: an upper bound (sampling records fewer)",
        )
    )
    priced = {"dynamodb", "s3", "kms", "sns", "monitoring", "rds-data", "lambda"} | FREE_SERVICES
    unpriced = sorted({f"{r.service} {r.operation}" for r in usage.requests if r.service not in priced})
    fis_minutes = math.ceil(max(run.fault_seconds, 0.0) / 60) or 1
    return DrillCost(
        lines=lines,
        total_usd=sum(line.usd for line in lines),
        fis_usd=fis_minutes * prices.fis_per_action_minute,
        unpriced=unpriced,
    )


COMPUTE_ITEMS = {"Lambda compute", "CloudWatch Logs ingestion"}  # grow with time; every other line with readings


class Growth(BaseModel):
    """cost(L, i) = fixed + L x (per_second + per_tick / i); wall(L) = wall_fixed + L.

    L is how long the fault is observed and i the sampling interval. Fitted from two runs of one drill, the
    second with more steady-state sampling: the sampling Lambda's compute (and its logs) grows with time, the
    requests with the number of ticks (each tick reads every probe once), so the fit holds for other intervals.
    """

    fixed_usd: float
    per_second_usd: float
    per_tick_usd: float
    wall_fixed_seconds: float

    def cost(self, observed_seconds: float, interval_seconds: float) -> float:
        return self.fixed_usd + observed_seconds * (self.per_second_usd + self.per_tick_usd / interval_seconds)

    def gameday_cost(
        self,
        environments: int,
        observed_seconds: float,
        interval_seconds: float,
        transitions_per_environment: int,
        prices: PriceTable,
    ) -> float:
        """N drills plus the game-day machine's own transitions per environment (its Map iteration and the wait)."""
        overhead = transitions_per_environment * prices.step_functions_standard_per_state_transition
        return environments * (self.cost(observed_seconds, interval_seconds) + overhead)


class Run(BaseModel):
    """One run's figures for the fit: its cost, wall time, ticks, and how long it observed the fault."""

    cost: DrillCost
    wall_seconds: float
    ticks: int
    observed_seconds: float
    interval_seconds: float


def _split(cost: DrillCost) -> tuple[float, float]:
    timed = sum(line.usd for line in cost.lines if line.item in COMPUTE_ITEMS)
    return timed, cost.total_usd - timed


def growth(short: Run, long: Run) -> Growth:
    (timed_1, ticked_1), (timed_2, ticked_2) = _split(short.cost), _split(long.cost)
    per_second = (timed_2 - timed_1) / (long.wall_seconds - short.wall_seconds)
    per_tick = (ticked_2 - ticked_1) / (long.ticks - short.ticks)
    fixed = short.cost.total_usd - short.observed_seconds * (per_second + per_tick / short.interval_seconds)
    return Growth(
        fixed_usd=fixed,
        per_second_usd=per_second,
        per_tick_usd=per_tick,
        wall_fixed_seconds=short.wall_seconds - short.observed_seconds,
    )
