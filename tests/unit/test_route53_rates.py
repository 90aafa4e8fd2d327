"""Route 53 API rates: the health-check probe asks at most every 2 s, and scenarios AWS cannot serve are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import yaml
from freezegun import freeze_time

from drillkit import spec
from drillkit.errors import ScenarioInvalid
from drillkit.measure import MilestoneTracker
from drillkit.probes import health_check
from drillkit.readings import DnsReading, HealthCheckReading
from drillkit.spec import parse_scenario, route53_requests_per_second

from ..conftest import DEMO_SCENARIO

CHECK = "hc-primary"


class CountingRoute53:
    """Stands in for the Route 53 client: counts the calls, answers a healthy fleet of two checkers."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_health_check(self, HealthCheckId: str) -> dict[str, Any]:  # noqa: N803 boto3's parameter name
        self.calls.append("GetHealthCheck")
        return {"HealthCheck": {"HealthCheckConfig": {"Inverted": False, "RequestInterval": 10, "FailureThreshold": 3}}}

    def get_health_check_status(self, HealthCheckId: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append("GetHealthCheckStatus")
        report = {"Status": "Success: HTTP Status Code 200, OK", "CheckedTime": datetime(2026, 1, 1)}
        return {"HealthCheckObservations": [{"Region": "us-east-1", "IPAddress": "15.177.0.10", "StatusReport": report}] * 2}


@pytest.fixture
def route53(monkeypatch: pytest.MonkeyPatch) -> CountingRoute53:
    fake = CountingRoute53()
    monkeypatch.setattr(health_check.aws, "target_client", lambda service, *a, **k: fake)
    health_check.forget()
    yield fake
    health_check.forget()


def test_sampling_every_half_second_asks_route53_for_the_status_once_per_two_seconds(route53):
    # Given a probe sampled every 0.5 s for 6 s
    readings = []
    with freeze_time("2026-01-01 00:00:00") as frozen:
        for _ in range(12):
            readings.append(health_check.read_health_check(CHECK))
            frozen.tick(0.5)
    # Then Route 53 was asked 3 times (at 0, 2 and 4 s), each time for status and configuration together
    assert route53.calls.count("GetHealthCheckStatus") == 3
    assert route53.calls.count("GetHealthCheck") == 3
    # And every sample carries the instant the status was really read; the repeats say so
    fresh = [r for r in readings if not r.reused]
    assert [r.t - fresh[0].t for r in fresh] == [0.0, 2.0, 4.0]
    assert all(r.t in {f.t for f in fresh} for r in readings)
    assert sum(1 for r in readings if r.reused) == 9


def test_a_fresh_invocation_resumes_from_the_stored_reading_instead_of_asking_again(route53):
    with freeze_time("2026-01-01 00:00:00") as frozen:
        stored = health_check.read_health_check(CHECK)
        health_check.forget()  # a new Lambda invocation of another function: nothing in memory
        frozen.tick(1.0)
        health_check.seed([stored, DnsReading(t=stored.t)])
        again = health_check.read_health_check(CHECK)
    assert route53.calls.count("GetHealthCheckStatus") == 1
    assert again.reused is True and again.t == stored.t


def test_the_milestone_tracker_ignores_reused_readings():
    tracker = MilestoneTracker(t_inject=100.0, hold_samples=2)
    unhealthy = HealthCheckReading(t=101.0, healthy=False, reused=True)
    assert tracker.feed(unhealthy) == []
    assert tracker.detection is None and tracker.samples_seen == 0


@pytest.mark.parametrize(("interval", "refused"), [(0.1, True), (0.2, True), (0.25, False), (0.5, False), (10, False)])
def test_a_sampling_interval_beyond_route53s_rates_is_refused_naming_the_field(interval, refused, monkeypatch):
    # Given probes that would spend one Route 53 API call every sample (TestDNSAnswer did, before the DNS probe
    # asked the zone's name servers instead)
    monkeypatch.setattr(spec, "ROUTE53_CALLS_EVERY_SAMPLE", 1)
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    scenario["sampling"]["interval_seconds"] = interval
    if not refused:
        assert parse_scenario(scenario).sampling.interval_seconds == interval
        return
    with pytest.raises(ScenarioInvalid) as raised:
        parse_scenario(scenario)
    assert "sampling.interval_seconds" in str(raised.value)
    assert "Route 53 API requests a second" in str(raised.value)


def test_the_shipped_probes_spend_at_most_one_route53_request_a_second_at_any_interval():
    # The health check's status and configuration every 2 s at most; DNS goes to the name servers, not the API.
    assert spec.ROUTE53_CALLS_EVERY_SAMPLE == 0
    assert route53_requests_per_second(0.1) == pytest.approx(1.0)
    assert route53_requests_per_second(4) == pytest.approx(0.5)
