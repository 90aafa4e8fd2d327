"""Probe: the authoritative answer Route 53 gives for the failover record (TestDNSAnswer)."""

from __future__ import annotations

from typing import Any

from drillkit import aws, clock
from drillkit.errors import DrillError
from drillkit.model import DrillContext
from drillkit.probes import sides

NAME = "dns"


def read(context: DrillContext) -> dict[str, Any]:
    target = context.target
    t = clock.now()
    try:
        with aws.aws_call("TestDNSAnswer", target.record_name):
            answer = aws.target_client("route53").test_dns_answer(
                HostedZoneId=target.hosted_zone_id, RecordName=target.record_name, RecordType=target.record_type
            )
    except DrillError as error:
        return {"t": t, "probe": NAME, "answer": [], "side": None, "error": str(error), "latency": round(clock.now() - t, 4)}
    latency = round(clock.now() - t, 4)
    values = list(answer.get("RecordData", []))
    return {
        "t": t,
        "probe": NAME,
        "answer": values,
        "rcode": answer.get("ResponseCode"),
        "side": sides.side_of(context, values, context.scenario.sampling.probe_timeout_seconds),
        "latency": latency,
    }
