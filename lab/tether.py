"""A lab never outlives the process that started it attached (a pytest worker, `drillkit demo`, `drillkit lab up`).

Killed by SIGKILL, that parent cannot stop its lab; the lab then lingered as an orphan with its Lambda workers
and loaded the machine. Two watches, one per link of the process tree:

- The lab watches its parent (``watch_parent``): a thread that notices the parent gone (``os.getppid()`` is no
  longer the pid the parent gave) and stops the lab as SIGTERM would, so that it cleans up (lab.json, workers).
  Linux's PR_SET_PDEATHSIG is not used: it fires when the *thread* that forked the lab ends, and a lab may be
  started from a thread that ends before its process does.
- A Lambda worker watches its lab (``exit_when_hung_up``): it exits once the lab's end of their connection is
  closed, which the kernel does when the lab dies, however it dies. Waiting for the next request does not do:
  a worker busy in a long invocation would run on, and it holds the pipe whose end tells the workers' template
  process (multiprocessing's forkserver) that its lab is gone, so the template would linger too. Nor does
  PR_SET_PDEATHSIG: a worker's parent is that template, which outlives the lab for as long as a worker does.

A lab started by hand without ``--parent-pid`` (in the background, under nohup) is not watched: it runs until
it is stopped.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from collections.abc import Callable

POLL_SECONDS = 0.2
GRACE_SECONDS = 20.0  # a lab that has not exited this long after its parent went is ended without cleaning up
HUNG_UP = select.POLLHUP | getattr(select, "POLLRDHUP", 0)  # POLLRDHUP: Linux's word for "the peer closed"


def exit_when_hung_up(fd: int, code: int = 1) -> threading.Thread:
    """Exit this process at once when the other end of the socket ``fd`` is closed (its process died or closed it)."""

    def watch() -> None:
        hang_up = select.poll()
        hang_up.register(fd, HUNG_UP)  # no POLLIN: the data is the main thread's to read
        while not hang_up.poll():
            pass
        os._exit(code)

    watcher = threading.Thread(target=watch, name="lab-watch", daemon=True)
    watcher.start()
    return watcher


def _say(message: str) -> None:
    """A line on stderr, if anyone still reads it (the parent's pipe may be gone with it)."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr, flush=True)


def watch_parent(parent_pid: int, stop: Callable[[], None], grace: float = GRACE_SECONDS) -> threading.Thread:
    """Call ``stop`` once ``parent_pid`` is no longer this process's parent (at once if it already is not).

    Should the process still run ``grace`` seconds later (stuck starting or stopping), it exits without more ado:
    its threads go with it, and its workers' template process and workers follow (see the module's docstring).
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(POLL_SECONDS)
        _say(f"lab: the process that started the lab (pid {parent_pid}) is gone; stopping")
        stop()
        time.sleep(grace)
        _say(f"lab: still running {grace:g}s after its parent went; exiting")
        os._exit(1)

    watcher = threading.Thread(target=watch, name="parent-watch", daemon=True)
    watcher.start()
    return watcher
