"""Labs forked from the launcher (drillkit_lab/launcher.py) start as `python -m drillkit_lab` would and never
outlive the process that holds the launcher."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillkit.cli import LabProcess
from drillkit.errors import DrillError
from drillkit_lab.launcher import LabLauncher

from ..processes import alive, children, still_running
from .conftest import wait_for

pytestmark = pytest.mark.lab
STACKS = Path(__file__).resolve().parents[2] / "lab" / "stacks"


@pytest.fixture(scope="module")
def launcher() -> Iterator[LabLauncher]:
    started = LabLauncher()
    yield started
    started.close()


def test_a_forked_lab_runs_with_the_callers_arguments_directory_environment_and_output(launcher, tmp_path, monkeypatch):
    # Given a caller in its own directory, with a variable of its own
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRILLKIT_TEST_CALLER", "seen-by-the-lab")
    lab = LabProcess(tmp_path / "work", STACKS / "alb-lambda.yaml", spawn=launcher.spawn)

    # When it starts a lab through the launcher
    deployment = lab.start(timeout=120)
    assert lab.process is not None
    pid = lab.process.pid
    try:
        # Then the lab is the launcher's child, runs in the caller's directory and environment, serves the stack it
        # was given and writes its output where the caller said
        info = json.loads(lab.lab_file.read_text())
        assert info["pid"] == pid
        assert pid in children(launcher.process.pid)
        assert Path(f"/proc/{pid}/cwd").resolve() == tmp_path.resolve()
        # (/proc shows the environment a process was started with: that of the processes the lab started, such as
        # its Lambda workers' template)
        wait_for(lambda: children(pid), 30, "a process started by the lab")
        started_by_the_lab = Path(f"/proc/{children(pid)[0]}/environ").read_bytes().split(b"\0")
        assert b"DRILLKIT_TEST_CALLER=seen-by-the-lab" in started_by_the_lab
        assert info["stack"] == "alb-lambda"
        assert deployment.client("stepfunctions").list_state_machines()["stateMachines"]
        assert "lab: ready in" in lab.log_file.read_text()

        # and a second lab forked from the same launcher draws ids of its own, as a lab started anew does
        other = LabProcess(tmp_path / "other", spawn=launcher.spawn)
        other.start(timeout=120)
        other_info = json.loads(other.lab_file.read_text())
        other.stop()
        assert other_info["regions"]["primary"]["vpc_id"] != info["regions"]["primary"]["vpc_id"]
    finally:
        # When it stops it: the lab stops as SIGTERM stops it (its lab file removed) and exits 0
        lab.stop()
    assert lab.process.poll() == 0
    assert not lab.lab_file.exists()
    assert not alive(pid)


def test_a_forked_lab_that_cannot_start_says_why(launcher, tmp_path):
    lab = LabProcess(tmp_path / "work", tmp_path / "missing.yaml", spawn=launcher.spawn)

    with pytest.raises(DrillError) as failed:
        lab.start(timeout=60)

    assert "the lab failed to start" in str(failed.value)
    assert "missing.yaml" in str(failed.value)
    assert lab.process is not None and lab.process.poll() == 2
    # and the launcher goes on: the next lab starts
    assert launcher.process.poll() is None


HOLDER = """
import json, sys, time
from pathlib import Path
from drillkit.cli import LabProcess
from drillkit_lab.launcher import LabLauncher

launcher = LabLauncher()
lab = LabProcess(Path(sys.argv[1]), spawn=launcher.spawn)
lab.start(timeout=120)
print(json.dumps({"launcher": launcher.process.pid, "lab": lab.process.pid}), flush=True)
time.sleep(600)
"""


def test_a_forked_lab_stops_when_the_process_holding_its_launcher_is_killed(tmp_path):
    # Given a process (as a pytest worker) that holds a launcher and a lab forked from it
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "work")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        started = json.loads(holder.stdout.readline())
        launcher, lab = started["launcher"], started["lab"]
        assert alive(launcher) and alive(lab)

        # When that process is killed (SIGKILL: it cannot stop anything itself)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()

        # Then the launcher exits, and the lab stops as SIGTERM stops it (its lab file removed) within seconds
        assert still_running([launcher, lab], within=15) == []
        assert not (tmp_path / "work" / "lab.json").exists()
        assert "is gone; stopping" in (tmp_path / "work" / "lab.log").read_text()
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()
