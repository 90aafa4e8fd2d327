"""Probe: the state of the CloudWatch alarms the scenario names (alerting)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drillkit import aws, clock
from drillkit.errors import DrillError
from drillkit.model import DrillContext

NAME = "alarms"


def read(context: DrillContext) -> dict[str, Any] | None:
    if not context.scenario.alarms:
        return None
    by_region: dict[str, list[str]] = defaultdict(list)
    for alarm in context.scenario.alarms:
        by_region[alarm.region].append(alarm.name)
    t = clock.now()
    states: dict[str, str | None] = {}
    try:
        for region, names in by_region.items():
            with aws.aws_call("DescribeAlarms", ",".join(names)):
                found = aws.client("cloudwatch", region).describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])
            seen = {a["AlarmName"]: a["StateValue"] for a in found.get("MetricAlarms", [])}
            states.update({f"{region}/{name}": seen.get(name) for name in names})
    except DrillError as error:
        return {"t": t, "probe": NAME, "states": states, "in_alarm": [], "error": str(error)}
    return {"t": t, "probe": NAME, "states": states, "in_alarm": sorted(k for k, v in states.items() if v == "ALARM")}
