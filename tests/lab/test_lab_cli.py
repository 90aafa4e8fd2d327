"""`drillkit lab up --stack` refuses a bad stack spec by field, before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from drillkit_lab.stackspec import DEFAULT_STACK

from ..processes import descendants, still_running

pytestmark = pytest.mark.lab


def test_an_invalid_stack_is_refused_naming_the_field_and_nothing_is_written(tmp_path):
    spec = yaml.safe_load(DEFAULT_STACK.read_text())
    spec["primary"]["alb"]["listener"]["port"] = 70000
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    work_dir = tmp_path / "lab"

    result = subprocess.run(
        [sys.executable, "-m", "drillkit_lab", "--work-dir", str(work_dir), "--stack", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "primary.alb.listener.port" in result.stderr
    assert f"lab stack {bad} is invalid" in result.stderr
    assert not (work_dir / "lab.json").exists()


def _lab_up(work_dir, env: dict[str, str], *flags: str, end: str = "down") -> tuple[str, str]:
    """`drillkit lab up` until its lab is ready, then `lab down` (or, end="kill", SIGKILL of `lab up` itself, after which
    the lab and everything it started must be gone within seconds): (stdout, stderr) of lab up and its lab."""
    command = [str(Path(sys.executable).parent / "drillkit"), "lab", "up", "--work-dir", str(work_dir), *flags]
    up = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    try:
        deadline = time.monotonic() + 180
        while not (work_dir / "lab.json").exists():
            assert up.poll() is None, up.communicate()
            assert time.monotonic() < deadline, "the lab was not ready in 180 s"
            time.sleep(0.2)
        if end == "kill":
            _kill_lab_up(up, work_dir)
        else:
            down = subprocess.run(
                [str(Path(sys.executable).parent / "drillkit"), "lab", "down", "--lab-file", str(work_dir / "lab.json")],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert down.returncode == 0, down.stderr
        stdout, stderr = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
    return stdout, stderr


def _kill_lab_up(up: subprocess.Popen[str], work_dir: Path) -> None:
    """SIGKILL `drillkit lab up` (it cannot stop its lab); its lab stops and cleans up, its processes go with it."""
    lab = json.loads((work_dir / "lab.json").read_text())["pid"]
    processes = [lab, *descendants(lab)]
    assert len(processes) > 1  # the lab and the Lambda workers' template process, at least
    up.kill()
    up.wait()
    assert still_running(processes, within=15) == []
    assert not (work_dir / "lab.json").exists()  # stopped as `lab down` stops it, not merely killed


def test_lab_up_prints_progress_and_the_log_path_and_the_components_log_goes_to_the_file_unless_asked(tmp_path):
    # Given a lab started as a user would, when it is up and then stopped
    quiet_dir = tmp_path / "quiet"
    stdout, stderr = _lab_up(quiet_dir, {"DRILLKIT_LAB_LOG": ""})

    # Then the terminal had the log's path and the lab's progress, nothing else
    lines = stdout.splitlines()
    assert lines[0].startswith(f"lab log: {quiet_dir / 'lab.log'}")
    assert all(line.startswith("lab: ") for line in lines[1:]) and any("ready in" in line for line in lines)
    assert stderr == ""
    # And what the components said is in the file
    logged = [line for line in (quiet_dir / "lab.log").read_text().splitlines() if line.strip()]
    assert logged and not any(line in stdout for line in logged)

    # When the user asks for the lab's log (DRILLKIT_LAB_LOG=debug), the same components speak on the terminal
    loud_dir = tmp_path / "loud"
    # (and when `lab up` itself is killed, its lab does not outlive it)
    stdout, stderr = _lab_up(loud_dir, {"DRILLKIT_LAB_LOG": "debug"}, end="kill")
    assert "lab log:" not in stdout and not (loud_dir / "lab.log").exists()
    assert all(line in stdout + stderr for line in logged)


def test_the_demo_prints_progress_and_the_verdict_and_no_warnings_and_keeps_the_lab_s_log_in_a_file(tmp_path):
    # Given a fresh work dir, when the demo runs as `make demo` runs it
    work_dir = tmp_path / "demo"
    demo = subprocess.run(
        [str(Path(sys.executable).parent / "drillkit"), "demo", "--work-dir", str(work_dir), "--reports-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DRILLKIT_LAB_LOG": "", "COLUMNS": "200"},
    )

    # Then it passes and says where the lab's log is; nothing warns, nothing is a traceback, stderr is empty
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f"lab log: {work_dir.resolve() / 'lab.log'}" in demo.stdout
    assert "Verdict: PASS" in demo.stdout and "demo finished in" in demo.stdout
    assert demo.stderr == ""
    for noise in ("Warning", "warning:", "Traceback", "DEPRECAT", "setuptools"):
        assert noise not in demo.stdout, noise
    # And what the lab's components said is in the file, not on the terminal
    logged = [line for line in (work_dir / "lab.log").read_text().splitlines() if line.strip()]
    assert logged and not any(line in demo.stdout for line in logged)
