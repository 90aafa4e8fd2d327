"""Where a lab drill's wall time goes: a per-state timeline of real drills, and how much of it is inherent.

    .venv/bin/python benchmarks/overhead.py [--runs 3] [--scenario scenarios/region-failover-health-check.yaml]
                                            [--stack lab/stacks/default.yaml] [--json out.json]

Starts one lab, runs the scenario's drill --runs times through the CLI's own calls (start, follow), and for each
prints, from the execution history (every state's entered and exited instants, every Lambda invocation's
scheduled, started and ended instants) and the lab's usage meter (each invocation's duration as the lab ran it):

  - each state's time, split into the handler's own time (the lab's measured invocation), the lab's Lambda
    overhead around it (the interpreter's scheduling to the lab's answer, minus the handler) and the
    interpreter's own gap before the state (previous state exited to this one entered);
  - the drill's wall time (report: drill_started to drill_ended), its inherent time (fault injected to recovery,
    plus restore to steady state again, as `make bench` computes it) and their ratio;
  - the follower's wall time (StartExecution to the follower seeing the end) and the lag between the
    execution's end and the follower noticing it.

Then the median of each figure over the runs, with the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from drillkit import client
from drillkit.cli import LabProcess
from drillkit.spec import parse_scenario
from drillkit_lab.usage import Usage

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "region-failover-health-check.yaml"


class StateTime(BaseModel):
    state: str
    entered_after_seconds: float  # since the execution started
    seconds: float  # entered to exited
    gap_before_seconds: float  # previous state exited to this one entered: the interpreter's own time
    handler_seconds: float | None = None  # the Lambda invocation as the lab timed it (Task states)
    lambda_overhead_seconds: float | None = None  # LambdaFunctionScheduled to Succeeded/Failed, minus the handler


class DrillTimes(BaseModel):
    verdict: str
    wall_seconds: float  # report: drill_started to drill_ended
    inherent_seconds: float  # fault injected to recovery, plus restore to restore verified
    wall_over_inherent: float
    execution_seconds: float  # history: ExecutionStarted to the execution's end
    follow_seconds: float  # StartExecution called to the follower returning
    follow_lag_seconds: float  # the execution's end to the follower returning
    states: list[StateTime]


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events.extend(page["events"])
    return sorted(events, key=lambda e: e["id"])


def state_times(history: list[dict[str, Any]], handler_seconds: list[float]) -> list[StateTime]:
    """Each state's time from the history; Task states take the next of the lab's invocation durations, in order."""
    started = history[0]["timestamp"].timestamp()
    durations = iter(handler_seconds)
    states: list[StateTime] = []
    entered: tuple[str, float] | None = None
    exited_at = started
    scheduled: float | None = None
    lambda_seconds = 0.0
    handler = 0.0
    for event in history:
        t, kind = event["timestamp"].timestamp(), event["type"]
        if kind.endswith("StateEntered"):
            entered = (event["stateEnteredEventDetails"]["name"], t)
            lambda_seconds = handler = 0.0
        elif kind == "LambdaFunctionScheduled":
            scheduled = t
        elif kind in ("LambdaFunctionSucceeded", "LambdaFunctionFailed", "LambdaFunctionTimedOut") and scheduled is not None:
            lambda_seconds += t - scheduled
            handler += next(durations, 0.0)
            scheduled = None
        elif kind.endswith("StateExited") and entered is not None:
            name, t_in = entered
            is_task = lambda_seconds > 0
            states.append(
                StateTime(
                    state=name,
                    entered_after_seconds=t_in - started,
                    seconds=t - t_in,
                    gap_before_seconds=t_in - exited_at,
                    handler_seconds=handler if is_task else None,
                    lambda_overhead_seconds=lambda_seconds - handler if is_task else None,
                )
            )
            exited_at, entered = t, None
    return states


def _usage(endpoint_url: str) -> Usage:
    with urllib.request.urlopen(f"{endpoint_url}/_lab/usage", timeout=10) as answer:
        return Usage.model_validate_json(answer.read())


def run_drill(deployment: client.Deployment, scenario_doc: dict[str, Any]) -> DrillTimes:
    before = _usage(deployment.endpoint_url)
    request = client.drill_request(deployment, parse_scenario(scenario_doc), requested_by="bench-overhead")
    called = time.time()
    arn = client.start(deployment, request)
    execution = client.follow(deployment, request["drill_id"], arn, lambda *_: None, timeout_seconds=900)
    followed = time.time()
    sfn = deployment.client("stepfunctions")
    history = _history(sfn, arn)
    invocations = _usage(deployment.endpoint_url).since(before).invocations
    record = deployment.ledger().load(request["drill_id"])
    assert record is not None, "the drill wrote no record"
    with tempfile.TemporaryDirectory() as folder:
        report = json.loads((client.download_report(deployment, request["drill_id"], Path(folder)) / "report.json").read_text())
    at = {e["event"]: e["t"] for e in report["timeline"]}
    wall = at["drill_ended"] - at["drill_started"]
    inherent = (at.get("recovery", at["fault_injected"]) - at["fault_injected"]) + (at["restore_verified"] - at["restore"])
    ended = execution["stopDate"].timestamp()
    return DrillTimes(
        verdict=report["verdict"],
        wall_seconds=wall,
        inherent_seconds=inherent,
        wall_over_inherent=wall / inherent if inherent > 0 else float("inf"),
        execution_seconds=ended - history[0]["timestamp"].timestamp(),
        follow_seconds=followed - called,
        follow_lag_seconds=followed - ended,
        states=state_times(history, [i.duration_ms / 1000 for i in invocations]),
    )


def print_drill(n: int, drill: DrillTimes) -> None:
    print(
        f"drill {n}: {drill.verdict}, wall {drill.wall_seconds:.2f} s, inherent {drill.inherent_seconds:.2f} s "
        f"= {drill.wall_over_inherent:.2f}; execution {drill.execution_seconds:.2f} s, followed {drill.follow_seconds:.2f} s "
        f"(lag {drill.follow_lag_seconds:.2f} s)"
    )
    print(f"  {'state':<20} {'at':>7} {'seconds':>8} {'gap':>6} {'handler':>8} {'lambda+':>8}")
    for s in drill.states:
        handler = "" if s.handler_seconds is None else f"{s.handler_seconds:8.3f}"
        overhead = "" if s.lambda_overhead_seconds is None else f"{s.lambda_overhead_seconds:8.3f}"
        print(
            f"  {s.state:<20} {s.entered_after_seconds:7.2f} {s.seconds:8.3f} {s.gap_before_seconds:6.3f} "
            f"{handler:>8} {overhead:>8}"
        )


def print_summary(drills: list[DrillTimes]) -> None:
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    print(f"\nmedian of {len(drills)}:")
    for name in (
        "wall_seconds",
        "inherent_seconds",
        "wall_over_inherent",
        "execution_seconds",
        "follow_seconds",
        "follow_lag_seconds",
    ):
        print(f"  {name:<22} {median([getattr(d, name) for d in drills]):8.2f}")
    per_state: dict[str, list[float]] = defaultdict(list)
    gaps, overheads = [], []
    for drill in drills:
        totals: dict[str, float] = defaultdict(float)
        for s in drill.states:
            totals[s.state] += s.seconds
        for name, seconds in totals.items():
            per_state[name].append(seconds)
        gaps.append(sum(s.gap_before_seconds for s in drill.states))
        overheads.append(sum(s.lambda_overhead_seconds or 0.0 for s in drill.states))
    for name, values in per_state.items():
        print(f"  state {name:<16} {median(values):8.2f} s in all (median)")
    print(f"  interpreter gaps between states {median(gaps):.2f} s, lab Lambda overhead {median(overheads):.2f} s (medians)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", type=Path, default=DEMO)
    parser.add_argument("--stack", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write every drill's figures here")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the lab's work dir (logs) here")
    args = parser.parse_args()
    scenario = yaml.safe_load(args.scenario.read_text())
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    drills: list[DrillTimes] = []
    with tempfile.TemporaryDirectory() as work:
        lab = LabProcess(args.work_dir or Path(work) / "lab", args.stack)
        deployment = lab.start()
        try:
            for n in range(1, args.runs + 1):
                drills.append(run_drill(deployment, scenario))
                print_drill(n, drills[-1])
                sys.stdout.flush()
        finally:
            lab.stop()
    print_summary(drills)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps([d.model_dump() for d in drills], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
