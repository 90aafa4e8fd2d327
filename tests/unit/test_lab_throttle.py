"""The lab's Route 53 throttle: AWS's token buckets, per operation and for the account."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from drillkit_lab.throttle import Route53Throttle, operation_of


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/2013-04-01/healthcheck/abc/status", "GetHealthCheckStatus"),
        ("GET", "/2013-04-01/healthcheck/abc", "GetHealthCheck"),
        ("POST", "/2013-04-01/healthcheck/abc", "UpdateHealthCheck"),
        ("GET", "/2013-04-01/testdnsanswer", "TestDNSAnswer"),
        ("GET", "/2013-04-01/hostedzone/Z1/rrset", "ListResourceRecordSets"),
        ("GET", "/2013-04-01/tags/healthcheck/abc", "ListTagsForResource"),
        ("GET", "/2013-04-01/delegationset/N1", "GET delegationset (2 segments)"),
        ("POST", "/2015-03-31/functions/f/invocations", None),
    ],
)
def test_requests_are_named_by_their_route53_operation(method, path, operation):
    assert operation_of(method, path) == operation


def test_get_health_check_status_serves_a_burst_of_four_then_one_a_second():
    with freeze_time("2026-01-01 00:00:00") as frozen:
        throttle = Route53Throttle()
        assert [throttle.admit("GetHealthCheckStatus") for _ in range(5)] == [True] * 4 + [False]
        frozen.tick(0.5)
        assert throttle.admit("GetHealthCheckStatus") is False
        frozen.tick(0.5)
        assert throttle.admit("GetHealthCheckStatus") is True
        # Other operations have buckets of their own
        assert throttle.admit("GetHealthCheck") is True


def test_the_account_bucket_is_shared_by_every_operation():
    with freeze_time("2026-01-01 00:00:00") as frozen:
        throttle = Route53Throttle()
        admitted = [throttle.admit(f"Operation{i % 7}") for i in range(60)]
        assert admitted.count(True) == 50  # the account's burst, whatever the operations
        frozen.tick(1.0)
        assert [throttle.admit("GetHealthCheck") for _ in range(11)].count(True) == 10  # its refill, 10 a second


def test_a_scale_multiplies_every_bucket():
    with freeze_time("2026-01-01 00:00:00"):
        throttle = Route53Throttle(scale=0.5)
        assert [throttle.admit("GetHealthCheckStatus") for _ in range(3)] == [True, True, False]
