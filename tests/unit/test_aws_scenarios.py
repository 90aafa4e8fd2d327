"""The AWS-sized example scenarios parse and their targets can be met on AWS, by AWS's own timings.

scenarios/aws/*.yaml are sized for Route 53 fast health checks (RequestInterval 10 s, FailureThreshold 3)
and alias failover records (60 s TTL); they are what the README tells AWS users to copy.
"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml

from drillkit.spec import FaultSpec, Scenario, parse_scenario

from ..conftest import ROOT

AWS_SCENARIOS = sorted((ROOT / "scenarios" / "aws").glob("*.yaml"))
CHECK_INTERVAL = 10  # Route 53's fast health checks (standard: 30)
FAILURE_THRESHOLD = 3  # Route 53's default
ALIAS_TTL = 60  # Route 53 answers alias records to a load balancer with 60 s
ALARM_PERIOD = 60  # Route 53 health check metrics in CloudWatch: one data point a minute
STATUS_READ_SECONDS = 2  # GetHealthCheckStatus: about one call a second per account, shared


def load(path: Path) -> Scenario:
    return parse_scenario(yaml.safe_load(path.read_text()))


def every_fault_and_method() -> set[tuple[str, str | None]]:
    combinations: set[tuple[str, str | None]] = set()
    for model in typing.get_args(typing.get_args(FaultSpec)[0]):
        kind = typing.get_args(model.model_fields["type"].annotation)[0]
        method = model.model_fields.get("method")
        methods = typing.get_args(method.annotation) if method else (None,)
        combinations |= {(kind, m) for m in methods}
    return combinations


def test_there_is_an_aws_sized_example_for_every_fault_and_method():
    shipped = {(s.fault.type, getattr(s.fault, "method", None)) for s in map(load, AWS_SCENARIOS)}
    assert shipped == every_fault_and_method()


@pytest.mark.parametrize("path", AWS_SCENARIOS, ids=lambda p: p.stem)
def test_an_aws_example_asks_for_what_aws_timings_allow(path):
    scenario = load(path)
    sampling, objectives = scenario.sampling, scenario.objectives
    # Sampling: every checker observation read, Route 53's API rates respected.
    assert STATUS_READ_SECONDS <= sampling.interval_seconds <= CHECK_INTERVAL / 2
    hold = sampling.hold_samples * sampling.interval_seconds
    detection, dns, client, recovery = (
        objectives.detection_seconds,
        objectives.dns_cutover_seconds,
        objectives.client_cutover_seconds,
        objectives.recovery_seconds,
    )
    assert None not in (detection, dns, client, recovery)
    assert detection is not None and dns is not None and client is not None and recovery is not None
    # Detection cannot beat interval x threshold; DNS follows detection; a client's resolver keeps the old
    # answer up to the TTL; the standby must serve hold_samples readings; observation outlasts it all.
    assert detection >= CHECK_INTERVAL * FAILURE_THRESHOLD + sampling.interval_seconds
    assert dns >= detection
    assert client >= dns + ALIAS_TTL
    assert recovery >= client + hold
    assert sampling.observe_timeout_seconds > recovery + hold
    if objectives.alerting_seconds is not None:
        assert objectives.alerting_seconds >= detection + ALARM_PERIOD
    if objectives.rpo_seconds is not None:
        assert objectives.rpo_seconds >= sampling.interval_seconds  # one heartbeat per sample: the uncertainty
    # Back to steady: the check must pass FailureThreshold checks again and resolvers drop the standby's answer.
    assert sampling.restore_timeout_seconds >= CHECK_INTERVAL * FAILURE_THRESHOLD + ALIAS_TTL + hold
    assert sampling.probe_timeout_seconds < sampling.restore_timeout_seconds


@pytest.mark.parametrize("path", AWS_SCENARIOS, ids=lambda p: p.stem)
def test_an_aws_example_says_what_to_change_and_is_not_for_the_lab(path):
    text = path.read_text()
    assert "# CHANGE" in text and "Not for the lab" in text
    scenario = load(path)
    assert scenario.target.hosted_zone != "drillkit.lab." and scenario.name.startswith("aws-")
