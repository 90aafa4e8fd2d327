"""EventBridge Scheduler in the lab: schedules fire when their time comes.

moto keeps schedules (CreateSchedule, GetSchedule, ListSchedules, UpdateSchedule) but never runs one. The lab
watches them through the API and, when an ENABLED schedule's time comes, does what Scheduler does for a Step
Functions target: StartExecution of the target state machine with the target's Input (an execution name of its
own). When a schedule fires is drillkit.gameday.schedule.next_fire, from what GetSchedule answers: at(...) once;
cron(...) at each of its times in its time zone; rate(...) at its fixed rate from StartDate, or at once and then
at the rate when it has none; never before StartDate nor from EndDate on; a DISABLED schedule never, and a schedule
enabled again does not make up the runs it missed. FlexibleTimeWindow OFF fires at the scheduled time; FLEXIBLE
at a random moment within the window after it (docs/lab.md cites the AWS pages).
"""

from __future__ import annotations

import random
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from drillkit.gameday.schedule import ScheduleTiming, next_fire

# A one-time schedule created for the minute in progress still fires: Scheduler invokes with 60-second precision.
AT_PRECISION = timedelta(seconds=60)
# The runner sleeps until a schedule is due or a Scheduler call through the local cloud wakes it (look_again); this
# second look only guards against a change it was not told of (every change is an API call, and each wakes it).
RECHECK_SECONDS = 30.0
MIN_WAIT_SECONDS = 0.05


@dataclass
class Due:
    timing: ScheduleTiming
    scheduled: datetime | None  # the next scheduled time, None when the schedule will not fire again
    fire_at: datetime | None  # when the lab invokes the target: the scheduled time plus any flexible delay


class ScheduleRunner:
    """Reads the schedules through the Scheduler API when told they changed, and fires each when it is due.

    Listing them every half second instead (two API calls through the local cloud) cost every lab, idle or not,
    about 1% of a core: a fifth of an idle lab's CPU. It sleeps until the earliest schedule is due, or until
    ``look_again`` (the local cloud calls it after every Scheduler call that changes something).
    """

    def __init__(self, session: Any, rng: random.Random | None = None, recheck_seconds: float = RECHECK_SECONDS):
        self.scheduler = session.client("scheduler")
        self.sfn = session.client("stepfunctions")
        self.rng = rng or random.Random()  # noqa: S311 (a flexible window's delay, not a secret)
        self.recheck_seconds = recheck_seconds
        self._due: dict[str, Due] = {}  # schedule ARN -> its next invocation
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()

    def look_again(self) -> None:
        """A schedule may have been created, changed or deleted: read them all again now."""
        self._changed.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick(datetime.now(UTC))
            except Exception as error:  # noqa: BLE001 the local cloud is stopping, or one schedule is odd: go on
                print(f"lab: schedules: {error}", file=sys.stderr)
            self._changed.wait(self._seconds_to_next())
            self._changed.clear()

    def _seconds_to_next(self) -> float:
        """Until the earliest schedule is due (never more than the recheck)."""
        now = datetime.now(UTC)
        due = [d.fire_at for d in self._due.values() if d.fire_at is not None and d.scheduled is not None]
        soonest = min([self.recheck_seconds, *((at - now).total_seconds() for at in due)])
        return max(MIN_WAIT_SECONDS, soonest)  # a tick that failed leaves a run due: not a busy loop of retries

    def _plan(self, timing: ScheduleTiming, after: datetime) -> Due:
        scheduled = next_fire(timing, after)
        delay = timedelta(seconds=self.rng.uniform(0, timing.flexible_minutes * 60)) if timing.flexible_minutes else timedelta()
        return Due(timing, scheduled, scheduled + delay if scheduled else None)

    def tick(self, now: datetime) -> None:
        enabled: set[str] = set()
        for page in self.scheduler.get_paginator("list_schedules").paginate(State="ENABLED"):
            for item in page.get("Schedules", []):
                detail = self.scheduler.get_schedule(Name=item["Name"], GroupName=item.get("GroupName", "default"))
                if detail.get("State") != "ENABLED" or ":states:" not in detail["Target"]["Arn"]:
                    continue
                arn = detail["Arn"]
                enabled.add(arn)
                timing = ScheduleTiming.of(detail)
                due = self._due.get(arn)
                if due is None or due.timing != timing:
                    # First seen in this form: runs count from when it took it (the lab polls; Scheduler does not).
                    slack = AT_PRECISION if timing.expression.startswith("at(") else timedelta(microseconds=1)
                    due = self._due[arn] = self._plan(timing, timing.since - slack)
                if due.fire_at is None or due.fire_at > now or due.scheduled is None:
                    continue
                self.sfn.start_execution(
                    stateMachineArn=detail["Target"]["Arn"], name=str(uuid.uuid4()), input=detail["Target"].get("Input") or "{}"
                )
                # Next after this run; a lab that fell behind (a paused process) does not fire the runs it missed in a burst.
                self._due[arn] = self._plan(timing, max(due.scheduled, now))
        # A schedule that is DISABLED (or gone) is forgotten: enabled again, it counts from that change, as Scheduler does.
        for arn in set(self._due) - enabled:
            del self._due[arn]
