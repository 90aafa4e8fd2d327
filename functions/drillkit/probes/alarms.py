"""Probe: the state of the CloudWatch alarms the scenario names: alerting alarms and stop conditions."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drillkit import aws, clock
from drillkit.errors import DrillError
from drillkit.model import DrillContext
from drillkit.readings import ALARMS, AlarmsReading

NAME = ALARMS


def read(context: DrillContext) -> AlarmsReading | None:
    watched = [*context.scenario.alarms, *context.scenario.stop_conditions]
    if not watched:
        return None
    by_region: dict[str, list[str]] = defaultdict(list)
    for alarm in watched:
        if alarm.name not in by_region[alarm.region]:
            by_region[alarm.region].append(alarm.name)
    t = clock.now()
    states: dict[str, str | None] = {}
    try:
        for region, names in by_region.items():
            with aws.aws_call("DescribeAlarms", ",".join(names)):
                found = aws.target_client("cloudwatch", region).describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])
            seen = {a["AlarmName"]: a["StateValue"] for a in found.get("MetricAlarms", [])}
            states.update({f"{region}/{name}": seen.get(name) for name in names})
    except DrillError as error:
        return AlarmsReading(t=t, states=states, error=str(error))

    def firing(alarms: list[Any]) -> list[str]:
        return sorted({f"{a.region}/{a.name}" for a in alarms if states.get(f"{a.region}/{a.name}") == "ALARM"})

    return AlarmsReading(
        t=t, states=states, in_alarm=firing(context.scenario.alarms), stop_in_alarm=firing(context.scenario.stop_conditions)
    )
