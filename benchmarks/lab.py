"""Benchmark the lab: time to ready and memory (RSS of the lab and its Lambda workers).

    .venv/bin/python benchmarks/lab.py [--runs 3] [--stack lab/stacks/default.yaml] [--drill]

Prints one line per run and a summary; targets (issue 18): ready < 2 s and the whole tree's proportional set
size (PSS: shared pages counted once) < 300 MB at ready, for the default stack. A Lambda worker starts at its
function's first invocation (forked from one template process), so after a drill the tree holds one per
function invoked: reported apart. The lab's CPU seconds to ready are printed too: on a loaded machine they
say more than the wall time. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from drillkit import client
from drillkit.cli import LabProcess
from drillkit.spec import parse_scenario

ROOT = Path(__file__).resolve().parent.parent
READY_TARGET_SECONDS = 2.0
PSS_TARGET_MB = 300.0


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def _kb(path: str, key: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float]:
    """RSS of the lab process; RSS and PSS of its Lambda workers (PSS counts shared pages once)."""
    workers = _tree(pid)[1:]
    return {
        "lab_rss": _kb(f"/proc/{pid}/status", "VmRSS:") / 1024,
        "workers": len(workers),
        "workers_rss": sum(_kb(f"/proc/{w}/status", "VmRSS:") for w in workers) / 1024,
        "tree_pss": sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in [pid, *workers]) / 1024,
    }


def describe(memory: dict[str, float]) -> str:
    return (
        f"lab RSS {memory['lab_rss']:.0f} MB, {memory['workers']:.0f} Lambda workers RSS {memory['workers_rss']:.0f} MB, "
        f"whole tree PSS {memory['tree_pss']:.0f} MB"
    )


def run_drill(deployment: client.Deployment) -> str:
    scenario = parse_scenario(yaml.safe_load((ROOT / "scenarios" / "region-failover-health-check.yaml").read_text()))
    request = client.drill_request(deployment, scenario, "bench")
    execution = client.follow(deployment, request["drill_id"], client.start(deployment, request), lambda *_: None)
    return execution["status"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stack", type=Path, default=None)
    parser.add_argument("--drill", action="store_true", help="also run the demo drill and measure memory after it")
    args = parser.parse_args()
    ready, tree_pss = [], []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as work_dir:
            lab = LabProcess(Path(work_dir), args.stack)
            started = time.monotonic()
            deployment = lab.start()
            seconds = time.monotonic() - started
            assert lab.process is not None
            at_ready = memory_mb(lab.process.pid)
            cpu = cpu_seconds(lab.process.pid)
            print(f"run {run}: ready in {seconds:.2f} s ({cpu:.1f} CPU s); at ready: {describe(at_ready)}", flush=True)
            if args.drill:
                status = run_drill(deployment)
                after = memory_mb(lab.process.pid)
                print(f"        drill {status}; after it: {describe(after)}", flush=True)
            stopping = time.monotonic()
            lab.stop()
            print(f"        stopped in {time.monotonic() - stopping:.2f} s", flush=True)
            ready.append(seconds)
            tree_pss.append(at_ready["tree_pss"])
    print(
        f"lab ready: median {statistics.median(ready):.2f} s, max {max(ready):.2f} s (target < {READY_TARGET_SECONDS:g} s); "
        f"whole tree PSS at ready: max {max(tree_pss):.0f} MB (target < {PSS_TARGET_MB:g} MB)"
    )
    return 0 if max(ready) < READY_TARGET_SECONDS and max(tree_pss) < PSS_TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
