"""Every shipped scenario, run in the lab against the stack it targets, checked against the ground truth.

scenarios/*.yaml target the default lab stack; scenarios/<stack>/*.yaml target lab/stacks/<stack>.yaml.
For each drill: the verdict; detection, DNS cutover and recovery each within one sampling interval
+ 0.2 s of the moment the lab's ground truth shows it; the measured RPO within one heartbeat
interval of the data-loss window the ground truth shows (where the fault moves the writer; elsewhere the RPO
must say "not applicable", unless replicated stores decide it: each store's recovery point at the cutover is what the
ground truth shows within its uncertainty); and every resource the drill touched
describes the same after the drill as before it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import ROOT
from ..reports import assert_valid_report
from .conftest import RunningLab, run_drill, running_lab, snapshot, store_truth, wait_for
from .test_lab_faithfulness import standby_answer, steady, went_unhealthy

pytestmark = pytest.mark.lab
SCENARIOS = ROOT / "scenarios"
STACKS = ROOT / "lab" / "stacks"
TOLERANCE = 0.2


AWS_EXAMPLES = "aws"  # scenarios/aws/: sized for AWS, not run in the lab (tests/unit/test_aws_scenarios.py)


def lab_folders() -> list[Path]:
    return sorted(p for p in SCENARIOS.iterdir() if p.is_dir() and p.name != AWS_EXAMPLES)


def shipped() -> list[tuple[str, Path]]:
    found = [("default", path) for path in sorted(SCENARIOS.glob("*.yaml"))]
    for folder in lab_folders():
        found += [(folder.name, path) for path in sorted(folder.glob("*.yaml"))]
    return found


def test_every_scenario_folder_names_a_shipped_lab_stack():
    for folder in lab_folders():
        assert (STACKS / f"{folder.name}.yaml").exists(), f"scenarios/{folder.name}/ has no lab/stacks/{folder.name}.yaml"


@pytest.fixture(scope="module")
def labs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The default stack's lab is the session's (started only if a test asks for it: an xdist worker may run
    only another stack's group); the others start on first use and stay for the module."""
    stack = contextlib.ExitStack()
    started: dict[str, RunningLab] = {}

    def get(name: str) -> RunningLab:
        if name == "default" and name not in started:
            started[name] = request.getfixturevalue("lab")
        elif name not in started:
            started[name] = stack.enter_context(running_lab(tmp_path_factory.mktemp(f"lab-{name}"), STACKS / f"{name}.yaml"))
        return started[name]

    with stack:
        yield get


# -- the ground truth -----------------------------------------------------------------------------
def truth_detection(lab: RunningLab, since: float) -> float:
    check = lab.region("primary")["health_check_id"]
    return next(e["t"] for e in lab.events_since(since, "health_check", id=check, healthy=False))


def truth_dns_cutover(lab: RunningLab, since: float) -> float:
    standby = lab.region("standby")["dns_answer"]
    values = {standby, standby.rstrip(".")}
    return next(e["t"] for e in lab.events_since(since, "dns_answer") if e["value"] in values)


def truth_rpo(lab: RunningLab, drill_id: str, since: float) -> float:
    """The data-loss window: newest lost heartbeat minus newest heartbeat that survived before it."""
    lost = [
        w["params"]["written_at"]
        for e in lab.events_since(since, "db_writes_lost")
        for w in e["writes"]
        if w["params"].get("drill_id") == drill_id
    ]
    if not lost:
        return 0.0
    written = [
        e["params"]["written_at"]
        for e in lab.ground_truth
        if e["event"] == "db_write" and (e.get("params") or {}).get("drill_id") == drill_id and "written_at" in e["params"]
    ]
    survived = [t for t in written if t < min(lost)]
    return max(lost) - max(survived)


@pytest.mark.parametrize(("stack", "path"), shipped(), ids=[f"{s}/{p.stem}" for s, p in shipped()])
def test_shipped_scenario_measures_what_really_happened_and_leaves_nothing_behind(labs, stack, path, tmp_path):
    lab: RunningLab = labs(stack)
    scenario = yaml.safe_load(path.read_text())
    interval = scenario["sampling"]["interval_seconds"]
    before = snapshot(lab)

    report = run_drill(lab, scenario, tmp_path)

    assert_valid_report(report)
    assert report["verdict"] == "PASS", json.dumps(report["findings"], indent=1)
    t_inject = next(e["t"] for e in report["timeline"] if e["event"] == "fault_injected")
    t_before = next(e["t"] for e in report["timeline"] if e["event"] == "inject_requested")
    measured = {name: t_inject + m["seconds"] for name, m in report["measurements"].items() if m["seconds"] is not None}
    truths = {"detection": truth_detection(lab, t_before), "dns_cutover": truth_dns_cutover(lab, t_before)}

    def bound(name: str) -> float:
        # The truth lies within the reading's uncertainty window, which the report states: about the interval, more
        # when a reading came late (across a state change, or on a loaded machine: 0.90 s at a 0.5 s interval once).
        window = report["measurements"][name]["uncertainty_seconds"]
        return max(interval, window) + TOLERANCE

    for name, truth in truths.items():
        assert abs(measured[name] - truth) <= bound(name), (name, measured[name] - truth)
    # Clients resolve through a cache: they reach the standby once DNS answers it and their cached answer has
    # expired, i.e. not before the DNS cutover and together with the client (caching-resolver) cutover.
    assert measured["recovery"] >= truths["dns_cutover"] - bound("recovery"), measured["recovery"] - truths["dns_cutover"]
    assert measured["recovery"] <= measured["client_cutover"] + bound("recovery"), (
        measured["recovery"] - measured["client_cutover"]
    )
    if scenario["fault"]["type"] == "block-primary-alb":
        # A security-group change spares the connection a client opened before it; a network ACL cuts it.
        existing = report["results"]["existing_clients"]
        assert existing["served_before_fault"] is True and existing["cut"] is (scenario["fault"]["method"] == "network-acl"), (
            existing
        )
    stores = scenario.get("data", {}).get("stores") or []
    points = {point["store"]: point for point in report["results"]["data_stores"]}
    for store in stores:
        # Each replicated store: judged at the cutover, what the ground truth shows there, within its uncertainty.
        name = store.get("name") or store.get("table") or store["bucket"]
        point = points[name]
        assert point["judged"] and point["passed"] and not point["not_replicated"], point
        truth = store_truth(lab, store.get("table") or store["bucket"], report["drill_id"], point["at"], interval)
        assert abs(point["seconds"] - truth) <= point["uncertainty_seconds"] + TOLERANCE, (point, truth)
    if scenario.get("data", {}).get("heartbeat") and scenario["fault"]["type"] == "stop-cluster":
        expected = truth_rpo(lab, report["drill_id"], t_before)
        rpo = report["measurements"]["rpo"]
        assert rpo["seconds"] == pytest.approx(expected, abs=rpo["uncertainty_seconds"] + TOLERANCE), (rpo, expected)
        assert rpo["uncertainty_seconds"] >= interval, rpo
    elif stores:
        assert report["measurements"]["rpo"]["kind"] == "measured", report["measurements"]["rpo"]  # the stores decide
    elif scenario.get("data", {}).get("heartbeat"):
        # No database writer moved: the RPO is not applicable, never "met" by construction.
        assert (report["measurements"]["rpo"]["kind"], report["measurements"]["rpo"]["passed"]) == ("not_applicable", None)
    assert snapshot(lab) == before


# -- the shipped stacks' own physics, on the labs their scenarios run on (as tests/lab/test_lab_faithfulness.py: plain
# boto3, DNS and HTTP, no drill code). Parametrized by stack so that they share that stack's lab (and xdist group).
@pytest.mark.parametrize("stack", ["alb-lambda"])
def test_alb_with_lambda_targets_fails_over_when_the_function_is_throttled(labs, stack):
    lab: RunningLab = labs(stack)
    primary = lab.region("primary")
    function_arn = primary["targets"][0]["Id"]
    status, body = lab.get(primary["address"])
    assert (status, body["region"]) == (200, "us-east-1")
    lambda_client = lab.client("lambda", primary["region"])
    throttled_at = time.time()
    lambda_client.put_function_concurrency(FunctionName=function_arn, ReservedConcurrentExecutions=0)
    try:
        assert lab.get(primary["address"])[0] == 503
        wait_for(lambda: went_unhealthy(lab, throttled_at), 10, "health check fails on the throttled function")
        wait_for(lambda: standby_answer(lab), 2, "DNS answers the standby")
    finally:
        lambda_client.delete_function_concurrency(FunctionName=function_arn)
    steady(lab)


def https_get(lab: RunningLab, role: str, path: str) -> int:
    context = ssl.create_default_context(cadata=lab.info["tls_ca_pem"])
    address, port = lab.region(role)["address"], lab.info["ports"]["443"]
    connection = http.client.HTTPSConnection(address, port, timeout=2, context=context)
    # Connect to the region's address while TLS checks the certificate against the public name.
    connection.sock = context.wrap_socket(socket.create_connection((address, port), 2), server_hostname="app.drillkit.lab")
    try:
        connection.request("GET", path, headers={"Host": "app.drillkit.lab"})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("stack", ["apigw"])
def test_api_gateway_stack_serves_https_and_fails_over_by_cname_when_the_function_is_throttled(labs, stack):
    lab: RunningLab = labs(stack)
    primary, standby = lab.region("primary"), lab.region("standby")
    records = lab.client("route53").list_resource_record_sets(HostedZoneId=lab.info["hosted_zone_id"])["ResourceRecordSets"]
    cnames = {r["Failover"]: r["ResourceRecords"][0]["Value"] for r in records if r.get("Failover")}
    assert cnames == {"PRIMARY": primary["api_regional_domain_name"], "SECONDARY": standby["api_regional_domain_name"]}
    assert lab.dns_answer() == [primary["address"]]  # the CNAME, followed to the primary API
    assert https_get(lab, "primary", "/health") == 200  # the lab's certificate verifies for the public name
    assert https_get(lab, "primary", "/not-a-route") == 403  # API Gateway's answer for an undefined path
    lambda_client = lab.client("lambda", primary["region"])
    throttled_at = time.time()
    lambda_client.put_function_concurrency(FunctionName=primary["function_arn"], ReservedConcurrentExecutions=0)
    try:
        assert https_get(lab, "primary", "/health") == 500
        wait_for(lambda: went_unhealthy(lab, throttled_at), 10, "HTTPS health check fails")
        wait_for(lambda: lab.dns_answer() == [standby["address"]], 2, "DNS answers the standby's API")
        answers = lab.events_since(throttled_at, "dns_answer")
        assert answers[-1]["value"] == standby["api_regional_domain_name"]
    finally:
        lambda_client.delete_function_concurrency(FunctionName=primary["function_arn"])
    # The lab is the scenario's too: the primary API serves again and DNS answers it before the next test.
    wait_for(
        lambda: https_get(lab, "primary", "/health") == 200 and lab.dns_answer() == [primary["address"]], 15, "primary API again"
    )
