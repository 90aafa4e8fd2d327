"""When a physics thread looks at the local cloud's state again: told, due, or after a guard at most.

The parts of the lab that follow a service's state (an ALB's reachability, Route 53's verdicts and answers, an ECS
service's tasks, the global database's replication and operations) used to read it every 20 to 100 ms, from every
lab alive, idle or not. They now sleep until an API call that may have changed what they read tells them
(LabExtensions.watch), until their own next due time (a drain that ends, a task that finishes provisioning, a write
that replicates), or until ``guard`` seconds have passed: a change nobody told them of is still seen, later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

# A change the thread was not told of is seen within this long.
GUARD_SECONDS = 0.5


class Looks:
    def __init__(self, guard: float = GUARD_SECONDS) -> None:
        self.guard = guard
        self._told = threading.Event()
        self._stopped = threading.Event()

    def look_again(self) -> None:
        """What the thread reads may have changed: it looks now, not at its next due time."""
        self._told.set()

    def stop(self) -> None:
        self._stopped.set()
        self._told.set()

    def run(self, look: Callable[[], float | None]) -> None:
        """Call ``look`` until stopped; it returns the seconds until its own next due time (None: nothing due)."""
        while not self._stopped.is_set():
            self._told.clear()  # before looking: a change made while it looks is looked at again
            due_in = look()
            self._told.wait(self.guard if due_in is None else max(0.0, min(due_in, self.guard)))
