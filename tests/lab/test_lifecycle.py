"""A drill's life from the CLI, in the lab: Ctrl-C, follow, stop, unlock."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from drillkit import client
from drillkit.cli import app
from drillkit.spec import parse_scenario

from ..conftest import DEMO_SCENARIO
from .conftest import DRILL_POLL, RunningLab, wait_for

pytestmark = pytest.mark.lab
RESTORED_WITHIN = 60.0


def _cli(lab: RunningLab, *args: str):
    return CliRunner().invoke(app, [*args, "--lab-file", str(lab.work_dir / "lab.json")])


def _flat(text: str) -> str:
    return " ".join(text.split())


class RunWait:
    """`drillkit run --wait` in its own process, as a user runs it, so that Ctrl-C (SIGINT) reaches it for real."""

    def __init__(self, lab: RunningLab, tmp_path: Path, *extra: str):
        self.out, self.err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
        command = [
            sys.executable, "-m", "drillkit.cli", "run", str(DEMO_SCENARIO), "--wait",
            "--lab-file", str(lab.work_dir / "lab.json"), "--reports-dir", str(tmp_path / "reports"), *extra,
        ]  # fmt: skip
        with self.out.open("w") as out, self.err.open("w") as err:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            self.process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        self.drill_id = ""

    def started(self) -> str:
        def drill_id() -> str | None:
            found = re.search(r"Drill (\S+): ", self.out.read_text())
            return found.group(1) if found else None

        wait_for(drill_id, 60, "the drill started by `drillkit run --wait`")
        self.drill_id = str(drill_id())
        return self.drill_id

    def interrupt(self, timeout: float = RESTORED_WITHIN) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def text(self) -> str:
        return _flat(self.out.read_text() + self.err.read_text())


@contextlib.contextmanager
def observing_until_stopped(lab: RunningLab) -> Iterator[None]:
    """Hold every drill in Observe (its function hangs at its first AWS call), so that a stop lands after injection."""
    lab.sabotage("ObserveFunction", kind="timeout", after_calls=0, timeout_seconds=60)
    try:
        yield
    finally:
        lab.sabotage("ObserveFunction", mend=True)


def _history_states(lab: RunningLab, execution_arn: str) -> list[tuple[str, str]]:
    """Every state entered and exited, from the whole history, in order."""
    sfn = lab.deployment.client("stepfunctions")
    events = [
        e for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn) for e in page["events"]
    ]
    states = []
    for e in sorted(events, key=lambda e: e["id"]):
        if e["type"].endswith("StateEntered"):
            states.append(("in", e["stateEnteredEventDetails"]["name"]))
        elif e["type"].endswith("StateExited"):
            states.append(("out", e["stateExitedEventDetails"]["name"]))
    return states


def _printed_states(output: str) -> list[tuple[str, str]]:
    printed = []
    for line in output.splitlines():
        if entered := re.search(r"\+\s*[\d.]+s (?:▶|→) (\w+)", line):
            printed.append(("in", entered.group(1)))
        elif exited := re.search(r"\+\s*[\d.]+s (?:■|←) (\w+)", line):
            if exited.group(1) != "execution":
                printed.append(("out", exited.group(1)))
    return printed


def test_ctrl_c_leaves_the_drill_running_and_follow_reattaches_with_every_state_in_order(lab, tmp_path):
    # Given `drillkit run --wait` following a drill it started (Ctrl-C comes while the drill runs: as soon as it has
    # started, not at a later phase the drill may already have left on a busy machine)
    run = RunWait(lab, tmp_path)
    drill_id = run.started()

    # When the user presses Ctrl-C
    code = run.interrupt()

    # Then it asks nothing, exits 130 and says the drill goes on and how to follow or stop it; the drill still runs
    assert code == 130, run.text()
    said = run.text()
    assert f"drill {drill_id} goes on" in said
    assert f"drillkit follow {drill_id}" in said and f"drillkit stop {drill_id} --reason" in said
    execution = client.execution_of(lab.deployment, drill_id)
    assert execution["status"] in ("RUNNING", "SUCCEEDED")  # not stopped: running, or already at its end by itself
    assert lab.drill_record(drill_id).get("stop_requested") is None

    # When the user re-attaches with `drillkit follow`
    followed = _cli(lab, "follow", drill_id, "--reports-dir", str(tmp_path / "followed"))

    # Then it shows the whole drill, every state entered and exited as the history holds them, and its verdict
    assert followed.exit_code == 0, followed.output
    assert _printed_states(followed.output) == _history_states(lab, execution["executionArn"])
    assert ("in", "Preflight") in _printed_states(followed.output) and ("out", "Report") in _printed_states(followed.output)
    assert "execution SUCCEEDED" in followed.output
    assert "Verdict: PASS" in _flat(followed.output)
    assert (tmp_path / "followed" / drill_id / "report.json").exists()


def test_ctrl_c_with_stop_on_interrupt_stops_the_drill_and_waits_for_its_restore(lab, tmp_path):
    original_inverted = lab.primary_inverted()
    with observing_until_stopped(lab):
        run = RunWait(lab, tmp_path, "--stop-on-interrupt")
        drill_id = run.started()
        wait_for(lambda: lab.drill_phase(drill_id) == "observe", 60, "drill observing", every=DRILL_POLL)
        assert lab.primary_inverted() is not original_inverted  # the fault is in place

        code = run.interrupt()

    said = run.text()
    assert code == 2, said
    assert f"stopping drill {drill_id}" in said
    assert "restored" in said and "Restore verified: yes" in said and "verdict: ABORTED" in said
    assert client.execution_of(lab.deployment, drill_id)["status"] == "ABORTED"
    assert lab.drill_record(drill_id)["phase"] == "done"
    assert lab.primary_inverted() is original_inverted
    assert not [i for i in lab.ledger_items() if i["sk"] == "LOCK"]


def test_unlock_refuses_a_running_drill_stop_restores_it_and_unlock_releases_a_stale_lock_with_a_record(lab, tmp_path):
    original_inverted = lab.primary_inverted()
    request = client.drill_request(lab.deployment, parse_scenario(yaml.safe_load(DEMO_SCENARIO.read_text())), "test")
    drill_id = request["drill_id"]
    with observing_until_stopped(lab):
        client.start(lab.deployment, request)
        wait_for(lambda: lab.drill_phase(drill_id) == "observe", 60, "drill observing", every=DRILL_POLL)
        environment = str(lab.drill_record(drill_id)["context"]["environment_key"])

        # unlock while the drill runs: refused, the lock stays
        refused = _cli(lab, "unlock", environment, "--reason", "looks stuck", "--by", "carol")
        assert refused.exit_code == 2, refused.output
        assert f"held by drill {drill_id}, whose execution is RUNNING" in _flat(refused.output)
        assert client.ledger(lab.deployment).lock_holder(environment)["drill_id"] == drill_id

        # stop: the safety net restores; the command prints the restore's outcome from the record
        stopped = _cli(lab, "stop", drill_id, "--reason", "change freeze", "--by", "carol")
    assert stopped.exit_code == 0, stopped.output
    said = _flat(stopped.output)
    assert "stopped by carol: change freeze" in said
    assert "undo 1:" in said and "restored" in said and "Restore verified: yes" in said and "verdict: ABORTED" in said
    assert lab.primary_inverted() is original_inverted
    assert client.ledger(lab.deployment).lock_holder(environment) is None
    record = lab.drill_record(drill_id)
    assert "stopped by carol: change freeze" in str(record["ended"]["cause"])
    report = client.download_report(lab.deployment, drill_id, tmp_path)
    document = json.loads((report / "report.json").read_text())
    assert any("stopped by carol: change freeze" in f["message"] for f in document["findings"])
    assert document["deployment"]["kind"] == "local-lab" and "not evidence" in document["deployment"]["label"]

    # stop again: the drill is not running
    again = _cli(lab, "stop", drill_id, "--reason", "twice")
    assert again.exit_code == 2 and "is not running" in _flat(again.output)

    # a stale lock (its drill never ran: no execution) is released, and the release is recorded
    ledger = client.ledger(lab.deployment)
    ledger.acquire_lock(environment, "ghost-drill-20260101T000000Z-0000", 7200)
    released = _cli(lab, "unlock", environment, "--reason", "preflight crashed", "--by", "carol")
    assert released.exit_code == 0, released.output
    assert "Released the lock" in _flat(released.output)
    assert ledger.lock_holder(environment) is None
    [audit] = [a for a in ledger.unlock_audit(environment) if a["drill_id"] == "ghost-drill-20260101T000000Z-0000"]
    assert audit["released_by"] == "carol" and audit["reason"] == "preflight crashed"
    assert "has no execution" in audit["why_stale"]

    # nothing locked: unlock says so
    nothing = _cli(lab, "unlock", environment, "--reason", "again")
    assert nothing.exit_code == 2 and "is not locked" in _flat(nothing.output)


def test_a_stale_lab_file_is_one_line_naming_the_file_and_lab_up(lab, tmp_path):
    stale = tmp_path / "lab.json"
    stale.write_text((lab.work_dir / "lab.json").read_text().replace(lab.deployment.endpoint_url, "http://127.0.0.1:9"))

    result = CliRunner().invoke(app, ["report", "some-drill-20260101T000000Z-0000", "--lab-file", str(stale)])

    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{stale} is stale" in _flat(result.output) and "drillkit lab up" in result.output
    assert "Traceback" not in result.output


def test_a_second_lab_up_refuses_while_the_first_is_alive(lab):
    result = CliRunner().invoke(app, ["lab", "up", "--work-dir", str(lab.work_dir)])

    assert result.exit_code == 2
    assert "a lab is already running" in _flat(result.output)
    assert client.live_lab(lab.work_dir / "lab.json")["endpoint_url"] == lab.deployment.endpoint_url
