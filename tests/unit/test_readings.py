"""Probe readings: typed in memory, the same JSON lines in the evidence bucket, and older lines still readable."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from drillkit import readings
from drillkit.readings import (
    AlarmsReading,
    DnsClientReading,
    DnsReading,
    HealthCheckReading,
    HeartbeatReading,
    HttpReading,
    KeepAliveReading,
    StandbyReading,
    StoreReading,
    StoresSample,
)

EVERY_KIND = [
    HealthCheckReading(t=1.0, health_check_id="hc-1", healthy=True, observations=[("us-east-1/1.2.3.4", 0.9, True)]),
    DnsReading(t=1.1, answer=["192.0.2.10"], side="primary", nameserver="ns-1", rcode="NOERROR", latency=0.002),
    DnsClientReading(t=1.2, answer=["192.0.2.10"], side="primary", cached=True, expires_at=61.2),
    HttpReading(t=1.3, ok=True, status=200, side="primary", region="us-east-1", address="192.0.2.10", latency=0.01),
    StandbyReading(t=1.4, ok=True, status=200, reason="OK", address="198.51.100.20", url="http://app/", set_identifier="s"),
    AlarmsReading(t=1.5, states={"us-east-1/errors": "OK"}),
    KeepAliveReading(t=1.6, held_since=0.5, address="192.0.2.10", served=True, status=200),
    HeartbeatReading(t=1.7, seq=1700, ok=True, acked_at=1.71),
    StoresSample(
        t=1.8,
        readings=[
            StoreReading(
                store="payments", kind="dynamodb-global-table", seq=1800, written_at=1.8, acked_at=1.81, visible_seq=1300
            )
        ],
    ),
]


def test_every_probes_reading_reads_back_as_it_was_written():
    # Given one reading of every probe, stored as the evidence bucket stores them
    lines = readings.dump_lines(reversed(EVERY_KIND)).splitlines()

    # When the samples file is read back
    parsed = readings.parse_samples(lines)

    # Then each comes back as its own model, equal to what was written, in time order
    assert parsed == EVERY_KIND
    assert {reading.probe for reading in parsed} == set(readings.PROBE_NAMES)


def test_a_stored_line_leaves_out_what_was_not_read_and_keeps_the_json_shape():
    line = json.loads(readings.dump_lines([HttpReading(t=5.0, error="resolve app.example.com: no address")]))

    assert line == {"t": 5.0, "probe": "http", "ok": False, "error": "resolve app.example.com: no address"}


def test_samples_written_by_an_older_version_are_still_read():
    # Given lines as earlier versions wrote them: a key this version does not know, a probe it no longer has,
    # the health check's observations as JSON lists, and keys it added since left out
    lines = [
        '{"t":3.0,"probe":"dns","source":"authoritative","answer":["192.0.2.20"],"side":"standby","ttl_seen":60}',
        '{"t":2.0,"probe":"route53_test_dns","answer":["192.0.2.20"]}',
        '{"t":1.0,"probe":"health_check","health_check_id":"hc-1","healthy":false,"observations":[["c1",0.5,false]]}',
        "",
    ]

    # When they are read back
    parsed = readings.parse_samples(lines)

    # Then the known probes' readings are typed (unknown keys ignored), the unknown probe's is skipped
    assert parsed == [
        HealthCheckReading(t=1.0, health_check_id="hc-1", healthy=False, observations=[("c1", 0.5, False)]),
        DnsReading(t=3.0, answer=["192.0.2.20"], side="standby"),
    ]


def test_a_reading_that_is_not_one_names_the_field():
    with pytest.raises(ValidationError) as refused:
        readings.parse({"t": 1.0, "probe": "http", "side": "elsewhere"})

    assert "http.side" in str(refused.value)
