"""CloudWatch alarms evaluated from what the physics measures.

The alarms themselves live in the local cloud (put_metric_alarm, describe_alarms); this module
computes the metrics they watch from the lab's parts, evaluates each alarm every period, moves
its state through the local cloud's set_alarm_state, keeps its history for
DescribeAlarmHistory, and sends its actions to SNS. A metric is only found when the alarm's
dimensions name a real resource the way CloudWatch does (LoadBalancer = app/name/id); an alarm
that names a load balancer by its ARN watches a metric that does not exist and stays in
INSUFFICIENT_DATA, as in AWS. An alarm with no actions changes state and notifies nobody.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from datetime import UTC, datetime
from typing import Any

from drillkit_lab.physics.groundtruth import GroundTruth

COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
# Alarm history per region, read by the DescribeAlarmHistory handler the lab adds to moto.
HISTORY: dict[str, list[dict[str, Any]]] = defaultdict(list)


class MetricSource:
    """The lab's metrics, looked up by namespace, name and dimensions as CloudWatch would."""

    def __init__(self, route53: Any, load_balancers: list[Any]):
        self.route53 = route53
        self.load_balancers = load_balancers

    def value(self, namespace: str, metric: str, dimensions: dict[str, str]) -> float | None:
        if namespace == "AWS/Route53" and metric == "HealthCheckStatus":
            healthy = self.route53.healthy(dimensions.get("HealthCheckId", ""))
            return None if healthy is None else float(healthy)
        if namespace == "AWS/ApplicationELB" and metric in ("UnHealthyHostCount", "HealthyHostCount"):
            balancer = next(
                (b for b in self.load_balancers if b.arn.endswith("loadbalancer/" + dimensions.get("LoadBalancer", ""))), None
            )
            if balancer is None or not _names_group(balancer, dimensions.get("TargetGroup")):
                return None
            states = [balancer.targets.get(f"{a}:{p}") for a, p in balancer.registered()]
            # Targets still in their initial checks count as neither healthy nor unhealthy.
            if metric == "HealthyHostCount":
                return float(sum(1 for s in states if s is not None and s.healthy is True))
            return float(sum(1 for s in states if s is not None and s.healthy is False))
        return None


def _names_group(balancer: Any, target_group: str | None) -> bool:
    if target_group is None:
        return True
    group = balancer.target_group()
    return group is not None and group.arn.endswith(":" + target_group)


class AlarmEvaluator:
    def __init__(
        self, cloudwatch_backends: Any, metrics: MetricSource, publish: Any, ground_truth: GroundTruth, regions: list[str]
    ):
        self.cloudwatch_backends = cloudwatch_backends  # region -> moto CloudWatch backend
        self.metrics = metrics
        self.publish = publish  # (region, topic_arn, subject, message) -> None
        self.ground_truth = ground_truth
        self.regions = regions
        self._datapoints: dict[str, deque[tuple[float, float | None]]] = defaultdict(lambda: deque(maxlen=100))
        self._last_period: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alarms", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for region in self.regions:
                for alarm in list(self.cloudwatch_backends[region].alarms.values()):
                    if alarm.rule is None and alarm.metric_name:
                        self._evaluate(region, alarm, now)
            self._stop.wait(0.1)

    def _evaluate(self, region: str, alarm: Any, now: float) -> None:
        period = float(alarm.period or 60)
        if now - self._last_period.get(alarm.alarm_arn, 0.0) < period:
            return
        self._last_period[alarm.alarm_arn] = now
        dimensions = {d.name: d.value for d in alarm.dimensions}
        points = self._datapoints[alarm.alarm_arn]
        points.append((now, self.metrics.value(alarm.namespace, alarm.metric_name, dimensions)))
        needed = int(alarm.evaluation_periods or 1)
        recent = [v for _, v in list(points)[-needed:]]
        threshold = float(alarm.threshold)
        if len(recent) < needed or any(v is None for v in recent):
            state, reason = "INSUFFICIENT_DATA", f"Insufficient Data: {needed} datapoints were unknown."
        elif all(COMPARE[alarm.comparison_operator](v, threshold) for v in recent):
            state, reason = "ALARM", f"Threshold Crossed: {needed} datapoint(s) {recent} breached the threshold ({threshold:g})."
        else:
            state, reason = "OK", f"Threshold Crossed: datapoints {recent} did not breach the threshold ({threshold:g})."
        if state == alarm.state_value:
            return
        previous = alarm.state_value
        self.cloudwatch_backends[region].set_alarm_state(alarm.name, reason, json.dumps({"recentDatapoints": recent}), state)
        self.ground_truth.record("alarm", name=alarm.name, region=region, state=state, previous=previous)
        self._history(region, alarm, "StateUpdate", f"Alarm updated from {previous} to {state}", reason)
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions, "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[
            state
        ]
        if str(alarm.actions_enabled).lower() == "false":
            return
        for topic_arn in actions or []:
            message = json.dumps(
                {"AlarmName": alarm.name, "NewStateValue": state, "OldStateValue": previous, "NewStateReason": reason}
            )
            self.publish(region, topic_arn, f'{state}: "{alarm.name}" in {region}', message)
            self.ground_truth.record("notification", alarm=alarm.name, topic=topic_arn, state=state)
            self._history(region, alarm, "Action", f"Successfully executed action {topic_arn}", reason)

    @staticmethod
    def _history(region: str, alarm: Any, kind: str, summary: str, data: str) -> None:
        HISTORY[region].append(
            {
                "AlarmName": alarm.name,
                "AlarmType": "MetricAlarm",
                "Timestamp": datetime.now(UTC),
                "HistoryItemType": kind,
                "HistorySummary": summary,
                "HistoryData": json.dumps({"reason": data}),
            }
        )
