"""EventBridge Scheduler in the lab: schedules fire when their time comes.

moto keeps schedules (CreateSchedule, GetSchedule, ListSchedules, UpdateSchedule) but never runs one. The lab
watches them through the API and, when an ENABLED schedule's time comes, does what Scheduler does for a Step
Functions target: StartExecution of the target state machine with the target's Input (an execution name of its
own). at(...) fires once; cron(...) at each of its times (drillkit.gameday.schedule.next_run reads it); rate(...)
is not fired (its runs count from a start date moto does not keep).
"""

from __future__ import annotations

import sys
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from drillkit.gameday.schedule import next_run


class ScheduleRunner:
    def __init__(self, session: Any, poll_seconds: float = 0.5):
        self.scheduler = session.client("scheduler")
        self.sfn = session.client("stepfunctions")
        self.poll_seconds = poll_seconds
        self._due: dict[str, datetime | None] = {}  # schedule ARN + expression -> when it fires next
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.tick(datetime.now(UTC))
            except Exception as error:  # noqa: BLE001 the local cloud is stopping, or one schedule is odd: go on
                print(f"lab: schedules: {error}", file=sys.stderr)

    def tick(self, now: datetime) -> None:
        for page in self.scheduler.get_paginator("list_schedules").paginate(State="ENABLED"):
            for item in page.get("Schedules", []):
                detail = self.scheduler.get_schedule(Name=item["Name"], GroupName=item.get("GroupName", "default"))
                if detail.get("State") != "ENABLED" or ":states:" not in detail["Target"]["Arn"]:
                    continue
                key = f"{detail['Arn']} {detail['ScheduleExpression']} {detail.get('ScheduleExpressionTimezone')}"
                if key not in self._due:
                    # First seen now: an at(...) already past still fires (it was created for a moment just gone).
                    expression, zone = detail["ScheduleExpression"], detail.get("ScheduleExpressionTimezone") or "UTC"
                    since = datetime(1970, 1, 1, tzinfo=UTC) if expression.startswith("at(") else now
                    self._due[key] = next_run(expression, zone, since)
                due = self._due[key]
                if due is None or due > now:
                    continue
                self.sfn.start_execution(
                    stateMachineArn=detail["Target"]["Arn"], name=str(uuid.uuid4()), input=detail["Target"].get("Input") or "{}"
                )
                expression, zone = detail["ScheduleExpression"], detail.get("ScheduleExpressionTimezone") or "UTC"
                self._due[key] = None if expression.startswith("at(") else next_run(expression, zone, now)
