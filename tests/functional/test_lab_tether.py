"""A lab started attached to a process does not outlive it, even when that process is killed (lab/tether.py).

The process tree of a lab without the lab's servers: a short-lived parent (as a pytest worker or `drillkit demo`)
starts a stand-in lab that watches it as `python -m drillkit_lab --parent-pid` does and runs a real Lambda
worker (template process and worker, lab/lambda_runtime.py) busy in a long invocation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ..processes import alive, children, still_running

SLOW_HANDLER = """
import time


def handler(event, context):
    time.sleep(600)
"""

STAND_IN_LAB = """
import json, sys, threading
from pathlib import Path

from drillkit_lab import tether
from drillkit_lab.lambda_runtime import FunctionConfig, Worker

parent_pid, task_root, marker = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
stop = threading.Event()
tether.watch_parent(parent_pid, stop.set)
config = FunctionConfig("slow", "arn:aws:lambda:us-east-1:123456789012:function:slow", "us-east-1", "slow.handler", 900, 128,
                        {"LAMBDA_TASK_ROOT": task_root})
worker = Worker(config, "http://127.0.0.1:9", Path(task_root) / "lambda.log")
assert worker.wait_ready(60)
threading.Thread(target=worker.invoke, args=({}, 900), daemon=True).start()
print(json.dumps({"lab": __import__("os").getpid(), "worker": worker.process.pid}), flush=True)
stop.wait()
marker.write_text("stopped as SIGTERM stops it")
"""

PARENT = """
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid()), *sys.argv[2:]])
time.sleep(600)
"""


def test_a_lab_attached_to_a_killed_parent_stops_and_takes_its_lambda_workers_with_it(tmp_path):
    # Given a stand-in lab attached to a short-lived parent, its Lambda worker busy in a 600 s invocation
    (tmp_path / "slow.py").write_text(SLOW_HANDLER)
    marker = tmp_path / "stopped"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, STAND_IN_LAB, str(tmp_path), str(marker)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _run_until_the_parent_is_killed(parent, tmp_path, marker)
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait()


def _run_until_the_parent_is_killed(parent: subprocess.Popen[str], tmp_path: Path, marker: Path) -> None:
    assert parent.stdout is not None
    started = json.loads(parent.stdout.readline())
    lab, worker = started["lab"], started["worker"]
    template = next(pid for pid in children(lab) if worker in children(pid))
    assert all(alive(pid) for pid in (lab, template, worker))

    # When the parent is killed (SIGKILL: it cannot stop the lab itself)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()

    # Then within a few seconds the lab stopped as SIGTERM stops it, and its template process and worker are gone
    assert still_running([lab, template, worker], within=10) == []
    assert marker.read_text() == "stopped as SIGTERM stops it"


def test_a_killed_lab_takes_its_lambda_workers_with_it_even_one_busy_in_an_invocation(tmp_path):
    # Given a stand-in lab whose Lambda worker is busy in a 600 s invocation
    (tmp_path / "slow.py").write_text(SLOW_HANDLER)
    command = [sys.executable, "-c", STAND_IN_LAB, str(os.getpid()), str(tmp_path), str(tmp_path / "stopped")]
    lab = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert lab.stdout is not None
        worker = json.loads(lab.stdout.readline())["worker"]
        template = next(pid for pid in children(lab.pid) if worker in children(pid))

        # When the lab itself is killed (SIGKILL: no clean-up of its own)
        lab.kill()
        lab.wait()

        # Then its workers' template process and the busy worker are gone within a few seconds
        assert still_running([template, worker], within=10) == []
    finally:
        if lab.poll() is None:
            lab.kill()
        lab.wait()
