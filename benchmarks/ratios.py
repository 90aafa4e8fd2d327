"""`make bench`: drillkit's figures of merit, measured side by side in one run, as ratios.

    .venv/bin/python benchmarks/ratios.py [--ready-runs 3] [--out benchmarks/results.json] [--docs docs/performance.md]

For every shipped lab scenario (scenarios/*.yaml on the default stack, scenarios/<stack>/*.yaml on
lab/stacks/<stack>.yaml), one real drill in the lab:
  - measurement error of detection and DNS cutover against the lab's ground truth, as a fraction of the
    scenario's sampling interval (1.0 = one interval late or early);
  - wall time / inherent time (fault to recovery, plus restore to steady state again);
  - the modeled AWS cost of the drill (benchmarks/cost.py, prices in benchmarks/prices.json) and what AWS FIS
    would charge for holding the same fault as long.
Then lab ready time and memory (benchmarks/lab.py), and how cost and wall time grow with the drill's length
(the demo drill again with 60 steady-state samples) and with the number of environments in a game-day.
Writes benchmarks/results.json and the table between the markers in docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from drillkit import client
from drillkit.cli import LabProcess
from drillkit.spec import parse_scenario
from drillkit_lab import truth
from drillkit_lab.usage import Invocation, Usage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cost import DrillCost, DrillRun, Growth, PriceTable, Run, drill_cost, growth, load_prices  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
STACKS = ROOT / "lab" / "stacks"
DEMO = SCENARIOS / "region-failover-health-check.yaml"
TICK_PROBE = "http"  # read once every tick in every shipped scenario: its readings count the ticks
MAX_STEADY_STATE_SAMPLES = 60  # spec.Sampling's limit
TEN_MINUTES = 600.0
GAMEDAY_TRANSITIONS_PER_ENVIRONMENT = 4  # Map iteration, startExecution.sync, its wait and the result (estimated)
COST_GOAL_USD = 0.01
READY_GOAL_SECONDS = 2.0
PSS_GOAL_MB = 300.0
MARKERS = ("<!-- bench:results:start -->", "<!-- bench:results:end -->")


def _lab_benchmark() -> Any:
    """benchmarks/lab.py (ready time and memory), loaded by path: `lab` is also the lab package's folder name."""
    spec = importlib.util.spec_from_file_location("lab_benchmark", Path(__file__).with_name("lab.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ScenarioResult(BaseModel):
    scenario: str
    stack: str
    verdict: str
    interval_seconds: float
    error_in_intervals: dict[str, float | None]  # milestone -> |measured - truth| / interval
    wall_seconds: float
    inherent_seconds: float
    wall_over_inherent: float
    cost: DrillCost


class FunctionFigure(BaseModel):
    """One function over every drill of the run: what template.yaml's MemorySize and Timeout are sized from."""

    function: str
    memory_size_mb: int  # what the template asks for (billed)
    invocations: int
    billed_ms_median: int  # duration rounded up to 1 ms, as Lambda bills it
    billed_ms_max: int
    gb_seconds: float
    max_memory_used_mb: int | None  # the highest Max Memory Used any invocation reported (peak RSS of its environment)


def function_figures(invocations: list[Invocation]) -> list[FunctionFigure]:
    by_function: dict[str, list[Invocation]] = {}
    for invocation in invocations:
        by_function.setdefault(invocation.function, []).append(invocation)
    figures = []
    for name, calls in sorted(by_function.items()):
        billed = sorted(math.ceil(c.duration_ms) for c in calls)
        used = [c.max_memory_used_mb for c in calls if c.max_memory_used_mb is not None]
        figures.append(
            FunctionFigure(
                function=name,
                memory_size_mb=max(c.memory_mb for c in calls),
                invocations=len(calls),
                billed_ms_median=int(statistics.median(billed)),
                billed_ms_max=billed[-1],
                gb_seconds=sum(c.memory_mb / 1024 * math.ceil(c.duration_ms) / 1000 for c in calls),
                max_memory_used_mb=max(used) if used else None,
            )
        )
    return figures


class Results(BaseModel):
    measured_at: str
    machine: str
    prices_as_of: str
    lab_ready_seconds: list[float]
    lab_ready_pss_mb: list[float]  # the whole tree at ready, each start (no Lambda worker yet: they start when invoked)
    lab_tree_pss_mb: float  # after the default stack's drills, every function's worker warm
    lab_processes: int
    scenarios: list[ScenarioResult]
    functions: list[FunctionFigure]
    growth: Growth
    aws_interval_seconds: float  # the sampling interval of the AWS-sized scenarios (scenarios/aws/)
    ten_minute_drill_usd: float
    ten_minute_drill_fis_usd: float
    gameday_10_environments_ten_minutes_usd: float


class Lab:
    def __init__(self, process: LabProcess, deployment: client.Deployment):
        self.process = process
        self.deployment = deployment
        self.info: dict[str, Any] = json.loads(process.lab_file.read_text())

    def usage(self) -> Usage:
        with urllib.request.urlopen(f"{self.deployment.endpoint_url}/_lab/usage", timeout=10) as answer:
            return Usage.model_validate_json(answer.read())

    def log_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.process.work_dir.rglob("lambda-*.log"))


@contextmanager
def labs(work_dir: Path) -> Iterator[Any]:
    with ExitStack() as stack:
        started: dict[str, Lab] = {}

        def get(name: str) -> Lab:
            if name not in started:
                process = LabProcess(work_dir / name, None if name == "default" else STACKS / f"{name}.yaml")
                deployment = process.start()
                stack.callback(process.stop)
                started[name] = Lab(process, deployment)
            return started[name]

        yield get


def shipped() -> list[tuple[str, Path]]:
    found = [("default", p) for p in sorted(SCENARIOS.glob("*.yaml"))]
    for folder in sorted(p for p in SCENARIOS.iterdir() if p.is_dir() and p.name != "aws"):
        found += [(folder.name, p) for p in sorted(folder.glob("*.yaml"))]
    return found


def _history(deployment: client.Deployment, execution_arn: str) -> list[dict[str, Any]]:
    sfn = deployment.client("stepfunctions")
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def _largest_item_bytes(lab: Lab, drill_id: str) -> int:
    table = lab.deployment.dynamodb().Table(lab.deployment.ledger_table)
    items = [json.dumps(i, default=str) for i in table.scan()["Items"]]
    return max((len(i) for i in items if drill_id in i), default=0)


def run_one(lab: Lab, scenario_doc: dict[str, Any], reports: Path) -> tuple[dict[str, Any], DrillRun]:
    scenario = parse_scenario(scenario_doc)
    before, logs_before = lab.usage(), lab.log_bytes()
    request = client.drill_request(lab.deployment, scenario, requested_by="bench")
    arn = client.start(lab.deployment, request)
    execution = client.follow(lab.deployment, request["drill_id"], arn, lambda *_: None, timeout_seconds=900)
    if execution["status"] != "SUCCEEDED":
        raise SystemExit(
            f"{scenario.name}: the drill's execution ended {execution['status']}: {client.execution_error(execution)}"
        )
    folder = client.download_report(lab.deployment, request["drill_id"], reports)
    usage = lab.usage().since(before)
    report = json.loads((folder / "report.json").read_text())
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines() if line.strip()]
    history = _history(lab.deployment, arn)
    at = {e["event"]: e["t"] for e in report["timeline"]}
    run = DrillRun(
        usage=usage,
        state_transitions=sum(1 for e in history if e["type"].endswith("StateEntered")),
        largest_item_bytes=_largest_item_bytes(lab, request["drill_id"]),
        log_bytes=lab.log_bytes() - logs_before,
        history_bytes=len(json.dumps(history, default=str)),
        dns_queries=sum(1 for s in samples if s.get("probe") == "dns"),
        ticks=sum(1 for s in samples if s.get("probe") == TICK_PROBE),
        fault_seconds=at.get("restore", at.get("drill_ended", 0.0)) - at.get("fault_injected", 0.0),
    )
    return report, run


def judge(stack: str, path: Path, lab: Lab, report: dict[str, Any], run: DrillRun, prices: PriceTable) -> ScenarioResult:
    scenario = yaml.safe_load(path.read_text())
    interval = float(scenario["sampling"]["interval_seconds"])
    at = {e["event"]: e["t"] for e in report["timeline"]}
    log = Path(lab.info["ground_truth_log"])
    since = at["inject_requested"]
    truths = {"detection": truth.detection_at(log, lab.info, since), "dns_cutover": truth.dns_cutover_at(log, lab.info, since)}
    errors: dict[str, float | None] = {}
    for name, true_at in truths.items():
        seconds = report["measurements"].get(name, {}).get("seconds")
        errors[name] = None if true_at is None or seconds is None else abs(at["fault_injected"] + seconds - true_at) / interval
    wall = at["drill_ended"] - at["drill_started"]
    inherent = (at.get("recovery", at["fault_injected"]) - at["fault_injected"]) + (at["restore_verified"] - at["restore"])
    return ScenarioResult(
        scenario=path.stem,
        stack=stack,
        verdict=report["verdict"],
        interval_seconds=interval,
        error_in_intervals=errors,
        wall_seconds=wall,
        inherent_seconds=inherent,
        wall_over_inherent=wall / inherent if inherent > 0 else float("inf"),
        cost=drill_cost(run, prices),
    )


def with_longer_steady_state(scenario: dict[str, Any]) -> dict[str, Any]:
    """The same drill with as many more steady-state samples as a scenario may ask for: more sampling, nothing else."""
    sampling = {**scenario["sampling"]}
    sampling["steady_state_samples"] = MAX_STEADY_STATE_SAMPLES
    sampling["steady_state_timeout_seconds"] = max(
        float(sampling.get("steady_state_timeout_seconds", 60)),
        4 * MAX_STEADY_STATE_SAMPLES * float(sampling["interval_seconds"]),
    )
    return {**scenario, "sampling": sampling}


def aws_sampling_interval() -> float:
    """The interval the AWS-sized scenarios sample at: a drill on AWS is priced at that interval, not the lab's."""
    intervals = {float(yaml.safe_load(p.read_text())["sampling"]["interval_seconds"]) for p in (SCENARIOS / "aws").glob("*.yaml")}
    return min(intervals)  # the most frequent sampling any of them asks for: the dearest


def fit_run(report: dict[str, Any], run: DrillRun, prices: PriceTable) -> Run:
    return Run(
        cost=drill_cost(run, prices),
        wall_seconds=_wall(report),
        ticks=run.ticks,
        observed_seconds=_observed(report),
        interval_seconds=float(report["sampling"]["interval_seconds"]),
    )


def _wall(report: dict[str, Any]) -> float:
    at = {e["event"]: e["t"] for e in report["timeline"]}
    return float(at["drill_ended"] - at["drill_started"])


def _observed(report: dict[str, Any]) -> float:
    """Fault injected to restore: the observation the drill held the fault for."""
    at = {e["event"]: e["t"] for e in report["timeline"]}
    return float(at["restore"] - at["fault_injected"])


def table(results: Results) -> str:
    rows = [
        "| scenario | verdict | detection error | DNS cutover error | wall / inherent | modeled cost | FIS, same fault |",
        "|---|---|---|---|---|---|---|",
    ]

    def fraction(value: float | None) -> str:
        return "not reached" if value is None else f"{value:.2f} x interval"

    for s in results.scenarios:
        rows.append(
            f"| {s.stack}/{s.scenario} | {s.verdict} | {fraction(s.error_in_intervals['detection'])} | "
            f"{fraction(s.error_in_intervals['dns_cutover'])} | {s.wall_seconds:.0f} s / {s.inherent_seconds:.1f} s = "
            f"{s.wall_over_inherent:.1f} | ${s.cost.total_usd:.5f} | ${s.cost.fis_usd:.2f} |"
        )
    rows += [
        "",
        "| function | MemorySize | invocations | billed duration, median / max | GB-seconds | max memory used |",
        "|---|---|---|---|---|---|",
    ]
    for f in results.functions:
        used = "not reported" if f.max_memory_used_mb is None else f"{f.max_memory_used_mb} MB"
        rows.append(
            f"| {f.function} | {f.memory_size_mb} MB | {f.invocations} | {f.billed_ms_median} ms / {f.billed_ms_max} ms | "
            f"{f.gb_seconds:.2f} | {used} |"
        )
    g = results.growth
    rows += [
        "",
        f"Lab (default stack): ready in {statistics.median(results.lab_ready_seconds):.2f} s (median of "
        f"{len(results.lab_ready_seconds)}), {statistics.median(results.lab_ready_pss_mb):.0f} MB PSS at ready (median; one "
        f"process: the Lambda workers start when first invoked); {results.lab_tree_pss_mb:.0f} MB PSS over "
        f"{results.lab_processes} processes after its drills, every function's worker warm (Lambda keeps one execution "
        "environment per function alive between invocations too).",
        "",
        f"Growth (measured: the demo drill, then again with {MAX_STEADY_STATE_SAMPLES} steady-state samples): cost(L, i) = "
        f"${g.fixed_usd:.5f} + L x (${g.per_second_usd:.8f} + ${g.per_tick_usd:.7f} / i) and wall(L) = "
        f"{g.wall_fixed_seconds:.0f} s + L, L = seconds the fault is observed, i = sampling interval; "
        f"a game-day of N environments costs N x (cost(L, i) + "
        f"{GAMEDAY_TRANSITIONS_PER_ENVIRONMENT} transitions) and takes N x wall(L) one at a time, "
        f"ceil(N / MaxConcurrency) x wall(L) in parallel.",
        f"A 10-minute drill sampled every {results.aws_interval_seconds:g} s (scenarios/aws/): "
        f"${results.ten_minute_drill_usd:.4f} (goal < ${COST_GOAL_USD}); AWS FIS for the same 10 minutes "
        f"of one fault: ${results.ten_minute_drill_fis_usd:.2f}. A game-day of 10 environments x 10 minutes: "
        f"${results.gameday_10_environments_ten_minutes_usd:.3f}.",
        f"Prices: benchmarks/prices.json (us-east-1 list prices as of {results.prices_as_of}).",
    ]
    return "\n".join(rows)


def write_docs(path: Path, text: str) -> None:
    start, end = MARKERS
    current = path.read_text() if path.exists() else f"# Performance\n\n{start}\n{end}\n"
    if start not in current or end not in current:
        current += f"\n{start}\n{end}\n"
    head, rest = current.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ready-runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    args = parser.parse_args()
    prices = load_prices()
    bench = _lab_benchmark()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ready: list[float] = []
        ready_pss: list[float] = []
        for run in range(args.ready_runs):
            process = LabProcess(work / f"ready-{run}")
            started = time.monotonic()
            process.start()
            ready.append(time.monotonic() - started)
            assert process.process is not None
            ready_pss.append(bench.memory_mb(process.process.pid)["tree_pss"])
            process.stop()
        pss = ", ".join(f"{m:.0f} MB" for m in ready_pss)
        print(f"lab ready: {', '.join(f'{s:.2f} s' for s in ready)}; PSS {pss}", flush=True)
        results: list[ScenarioResult] = []
        invocations: list[Invocation] = []
        with labs(work / "labs") as lab_of:
            for stack, path in shipped():
                if args.only and args.only not in path.stem:
                    continue
                lab = lab_of(stack)
                report, run = run_one(lab, yaml.safe_load(path.read_text()), work / "reports")
                result = judge(stack, path, lab, report, run, prices)
                results.append(result)
                invocations += run.usage.invocations
                print(
                    f"{stack}/{path.stem}: {result.verdict}, errors {result.error_in_intervals}, "
                    f"wall/inherent {result.wall_over_inherent:.1f}, ${result.cost.total_usd:.5f}",
                    flush=True,
                )
            lab = lab_of("default")
            memory = bench.memory_mb(lab.process.process.pid)
            demo = yaml.safe_load(DEMO.read_text())
            report_short, short = run_one(lab, demo, work / "reports")
            report_long, long = run_one(lab, with_longer_steady_state(demo), work / "reports")
            invocations += short.usage.invocations + long.usage.invocations
    fitted = growth(fit_run(report_short, short, prices), fit_run(report_long, long, prices))
    aws_interval = aws_sampling_interval()
    outcome = Results(
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        prices_as_of=prices.as_of,
        lab_ready_seconds=ready,
        lab_ready_pss_mb=ready_pss,
        lab_tree_pss_mb=memory["tree_pss"],
        lab_processes=int(memory["workers"]) + 1,
        scenarios=results,
        functions=function_figures(invocations),
        growth=fitted,
        aws_interval_seconds=aws_interval,
        ten_minute_drill_usd=fitted.cost(TEN_MINUTES - fitted.wall_fixed_seconds, aws_interval),
        ten_minute_drill_fis_usd=10 * prices.fis_per_action_minute,
        gameday_10_environments_ten_minutes_usd=fitted.gameday_cost(
            10, TEN_MINUTES - fitted.wall_fixed_seconds, aws_interval, GAMEDAY_TRANSITIONS_PER_ENVIRONMENT, prices
        ),
    )
    args.out.write_text(outcome.model_dump_json(indent=2) + "\n")
    text = table(outcome)
    write_docs(args.docs, text)
    print(text)
    print(f"written: {args.out}, {args.docs}")
    ready_median = statistics.median(ready)
    goals = [
        ("lab ready", f"{ready_median:.2f} s", f"< {READY_GOAL_SECONDS:g} s", ready_median < READY_GOAL_SECONDS),
        (
            "lab memory at ready (PSS)",
            f"{statistics.median(ready_pss):.0f} MB",
            f"< {PSS_GOAL_MB:g} MB",
            statistics.median(ready_pss) < PSS_GOAL_MB,
        ),
        (
            "10-minute drill",
            f"${outcome.ten_minute_drill_usd:.4f}",
            f"< ${COST_GOAL_USD:g}",
            outcome.ten_minute_drill_usd < COST_GOAL_USD,
        ),
    ]
    for name, value, goal, met in goals:
        print(f"goal {name}: {value} ({goal}): {'met' if met else 'MISSED'}")
    # Every drill ran to its verdict (a failed one exits above); goals are reported, not enforced.
    return 0


if __name__ == "__main__":
    sys.exit(main())
