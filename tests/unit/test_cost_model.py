"""The cost model of `make bench`: requests counted where the lab answers them, priced from one table."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from drillkit_lab.usage import Invocation, RequestCount, Usage, UsageMeter

from ..conftest import ROOT
from ..wsgi import signed


def _cost_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_cost", ROOT / "benchmarks" / "cost.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_cost"] = module  # pydantic resolves the models' annotations through the module
    spec.loader.exec_module(module)
    return module


cost = _cost_module()


def test_the_meter_names_service_operation_and_caller_of_each_wire_protocol():
    meter = UsageMeter()
    form = signed("sns", "POST", form={"Action": "Publish", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "hi"})
    body = b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Message=hi"

    meter.record_request(signed("dynamodb", "POST", "/", HTTP_X_AMZ_TARGET="DynamoDB_20120810.UpdateItem"))
    meter.record_request(signed("s3", "PUT", "/evidence/drills/d1/report.json"))
    meter.record_request(signed("s3", "GET", "/evidence", QUERY_STRING="list-type=2&prefix=drills%2F"))
    meter.record_request(signed("route53", "GET", "/2013-04-01/healthcheck/abc/status", agent="Boto3/1.35"))
    meter.record_request(form)
    meter.record_request({"REQUEST_METHOD": "GET", "PATH_INFO": "/_lab/usage"})  # unsigned: the lab's own

    usage = meter.snapshot()
    assert {(r.service, r.operation, r.caller) for r in usage.requests} == {
        ("dynamodb", "UpdateItem", "drillkit"),
        ("s3", "PutObject", "drillkit"),
        ("s3", "ListObjects", "drillkit"),
        ("route53", "GetHealthCheckStatus", "other"),
        ("sns", "Publish", "drillkit"),
    }
    # The form body was read to find the action: the next reader (moto) still gets all of it.
    assert form["wsgi.input"].read() == body


def test_usage_since_an_earlier_snapshot_is_one_drills_share():
    meter = UsageMeter()
    meter.record_request(signed("sns", "POST", "/", HTTP_X_AMZ_TARGET="x.Publish"))
    meter.record_invocation("Preflight", 256, 120.0)
    before = meter.snapshot()
    meter.record_request(signed("sns", "POST", "/", HTTP_X_AMZ_TARGET="x.Publish"))
    meter.record_request(signed("kms", "POST", "/", HTTP_X_AMZ_TARGET="TrentService.Sign"))
    meter.record_invocation("Report", 512, 900.5)

    drill = meter.snapshot().since(before)

    assert drill.count("sns", "Publish") == 1 and drill.count("kms") == 1
    assert [i.function for i in drill.invocations] == ["Report"]


def run_with(usage: Usage, **overrides: Any) -> Any:
    fields = {
        "usage": usage,
        "state_transitions": 40,
        "largest_item_bytes": 3000,
        "log_bytes": 0,
        "history_bytes": 0,
        "dns_queries": 0,
        "fault_seconds": 61.0,
    }
    return cost.DrillRun(**{**fields, **overrides})


def test_each_line_is_quantity_times_the_tables_price():
    prices = cost.load_prices()
    usage = Usage(
        requests=[
            RequestCount(service="dynamodb", operation="UpdateItem", caller="drillkit", count=10),
            RequestCount(service="dynamodb", operation="GetItem", caller="other", count=8),
            RequestCount(service="kms", operation="Sign", caller="drillkit", count=1),
            RequestCount(service="route53", operation="GetHealthCheckStatus", caller="drillkit", count=500),
        ],
        invocations=[Invocation(function="Observe", memory_mb=512, duration_ms=1999.2)],
    )

    result = cost.drill_cost(run_with(usage), prices)

    lines = {line.item: line for line in result.lines}
    # A 3000-byte item: 3 write request units per write, 1 read request unit per strongly consistent read.
    assert lines["DynamoDB writes"].quantity == 30
    assert lines["DynamoDB reads"].quantity == 8
    assert lines["Lambda compute"].quantity == pytest.approx(0.5 * 2.0)  # 1999.2 ms bills as 2000 ms
    assert lines["Step Functions state transitions"].usd == pytest.approx(
        40 * prices.step_functions_standard_per_state_transition
    )
    assert lines["KMS asymmetric requests"].usd == pytest.approx(prices.kms_per_asymmetric_request)
    assert result.total_usd == pytest.approx(sum(line.usd for line in result.lines))
    assert result.fis_usd == pytest.approx(2 * prices.fis_per_action_minute)  # 61 s is two started minutes
    assert result.unpriced == []


def test_a_service_the_model_does_not_price_is_named_not_hidden():
    usage = Usage(requests=[RequestCount(service="secretsmanager", operation="GetSecretValue", caller="drillkit", count=2)])

    result = cost.drill_cost(run_with(usage), cost.load_prices())

    assert result.unpriced == ["secretsmanager GetSecretValue"]


def fitted_run(compute_usd: float, requests_usd: float, wall: float, ticks: int, observed: float, interval: float) -> Any:
    lines = [
        cost.CostLine(item="Lambda compute", quantity=1, unit="GB-second", unit_usd=compute_usd, usd=compute_usd, basis=""),
        cost.CostLine(
            item="CloudWatch API requests", quantity=1, unit="request", unit_usd=requests_usd, usd=requests_usd, basis=""
        ),
    ]
    spent = cost.DrillCost(lines=lines, total_usd=compute_usd + requests_usd, fis_usd=0.1, unpriced=[])
    return cost.Run(cost=spent, wall_seconds=wall, ticks=ticks, observed_seconds=observed, interval_seconds=interval)


def test_growth_splits_what_grows_with_time_from_what_grows_with_readings():
    # Given the same drill twice, the second sampling 30 s (60 ticks at 0.5 s) longer
    short = fitted_run(compute_usd=0.001, requests_usd=0.002, wall=20.0, ticks=20, observed=10.0, interval=0.5)
    long = fitted_run(compute_usd=0.0016, requests_usd=0.005, wall=50.0, ticks=80, observed=10.0, interval=0.5)

    # When the growth is fitted
    fitted = cost.growth(short, long)

    # Then compute grows per second, requests per tick, and the short run is reproduced
    assert fitted.per_second_usd == pytest.approx(0.00002)
    assert fitted.per_tick_usd == pytest.approx(0.00005)
    assert fitted.wall_fixed_seconds == pytest.approx(10.0)
    assert fitted.cost(10.0, 0.5) == pytest.approx(0.003)
    # and sampling five times less often makes the readings' part five times cheaper
    assert fitted.cost(100.0, 5.0) - fitted.cost(0.0, 5.0) == pytest.approx(100 * (0.00002 + 0.00005 / 5))


def test_the_price_table_is_one_dated_file_with_a_source_per_service():
    table = json.loads((Path(ROOT) / "benchmarks" / "prices.json").read_text())

    prices = cost.PriceTable.model_validate(table)

    assert prices.as_of and prices.region == "us-east-1"
    services = {"step_functions", "lambda", "dynamodb", "s3", "kms", "sns", "cloudwatch", "fis"}
    assert services <= prices.sources.keys()


def _ratios_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_ratios", ROOT / "benchmarks" / "ratios.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ratios"] = module
    spec.loader.exec_module(module)
    return module


def echo(event: Any, context: Any) -> Any:
    """A handler for the worker test: gives back its event."""
    return event


def test_each_invocation_reports_its_environments_peak_memory_as_lambdas_report_line_does():
    from drillkit_lab import lambda_worker

    request = {"handler": f"{__name__}.echo", "event": {"n": 1}, "request_id": "r-1", "deadline_ms": 2**62}
    failing = {**request, "handler": f"{__name__}.no_such_handler"}

    status = Path("/proc/self/status").read_text().splitlines()
    rss_mb = int(next(line for line in status if line.startswith("VmRSS")).split()[1]) // 1024

    reply, failed = json.loads(lambda_worker._invoke({}, request)), json.loads(lambda_worker._invoke({}, failing))

    assert reply["ok"] and reply["result"] == {"n": 1}
    # Max Memory Used is the peak: never below what the process held before, never going down, failed or not.
    assert reply["max_memory_used_mb"] >= rss_mb > 0
    assert not failed["ok"] and failed["max_memory_used_mb"] >= reply["max_memory_used_mb"]


def test_each_function_is_sized_from_its_billed_durations_and_the_peak_memory_its_invocations_reported():
    ratios = _ratios_module()
    invocations = [
        Invocation(function="Observe", memory_mb=512, duration_ms=1999.2, max_memory_used_mb=120),
        Invocation(function="Observe", memory_mb=512, duration_ms=10.1, max_memory_used_mb=131),
        Invocation(function="Observe", memory_mb=512, duration_ms=300.0, max_memory_used_mb=None),  # timed out
        Invocation(function="Report", memory_mb=256, duration_ms=0.4),
    ]

    observe, report = ratios.function_figures(invocations)

    assert (observe.function, observe.memory_size_mb, observe.invocations) == ("Observe", 512, 3)
    assert (observe.billed_ms_median, observe.billed_ms_max) == (300, 2000)  # rounded up to 1 ms, as Lambda bills
    assert observe.gb_seconds == pytest.approx(0.5 * (2.0 + 0.011 + 0.3))
    assert observe.max_memory_used_mb == 131
    assert (report.billed_ms_max, report.max_memory_used_mb) == (1, None)  # never reported: not made up
