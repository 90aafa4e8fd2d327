"""Drills of every shipped fault on the AWS-timed lab profile: real intervals, minutes per drill.

    .venv/bin/python benchmarks/aws_timed.py [--only NAME ...] [--parallel 2] [--out benchmarks/aws-timed-results.json]

Each drill is the lab scenario of that fault (scenarios/NAME.yaml: the lab's target, alarms and heartbeat)
with the objectives and sampling of its AWS-sized example (scenarios/aws/NAME.yaml), run on
lab/stacks/aws-timed.yaml: 10 s Route 53 checks with threshold 3, 60 s alias TTL, 300 s deregistration
delay, ALB target checks every 10 s, Aurora global failover 90 s, switchover 60 s, rejoin 120 s, the standby
70 ms away. The code paths and AWS calls are those of the fast profile; only the timings differ.

Prints one line per drill (verdict, restore verified, each measurement against its target, wall time) and
writes them as JSON. Not a test: it takes tens of minutes and is not part of CI (`make bench-aws`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from drillkit import client
from drillkit.cli import LabProcess
from drillkit.spec import parse_scenario

ROOT = Path(__file__).resolve().parent.parent
STACK = ROOT / "lab" / "stacks" / "aws-timed.yaml"
# Faults the default stack can play (the ec2-asg, alb-lambda and apigw stacks have their own AWS-sized twins).
SCENARIOS = (
    "region-failover-health-check",
    "fail-targets-deregister",
    "fail-targets-ecs-scale-to-zero",
    "block-primary-alb-security-group",
    "block-primary-alb-network-acl",
    "global-database-switchover",
    "global-database-failover",
)


def aws_sized(name: str) -> dict[str, Any]:
    """The lab scenario with the AWS-sized example's objectives and sampling."""
    lab = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    sized = yaml.safe_load((ROOT / "scenarios" / "aws" / f"{name}.yaml").read_text())
    lab["name"] = f"aws-timed-{name}"
    lab["objectives"] = {k: v for k, v in sized["objectives"].items() if k != "rpo_seconds" or lab.get("data")}
    lab["sampling"] = sized["sampling"]
    return lab


def run(name: str, work_dir: Path) -> dict[str, Any]:
    lab = LabProcess(work_dir, STACK)
    deployment = lab.start()
    try:
        scenario = parse_scenario(aws_sized(name))
        request = client.drill_request(deployment, scenario, "bench-aws-timed")
        started = time.monotonic()
        execution = client.follow(
            deployment, request["drill_id"], client.start(deployment, request), lambda *_: None, timeout_seconds=7200
        )
        wall = time.monotonic() - started
        if execution["status"] != "SUCCEEDED":
            return {"scenario": name, "status": execution["status"], "error": list(client.execution_error(execution))}
        folder = client.download_report(deployment, request["drill_id"], work_dir / "reports")
        report = json.loads((folder / "report.json").read_text())
        return {
            "scenario": name,
            "status": execution["status"],
            "verdict": report["verdict"],
            "restore_verified": report["restore_verified"],
            "wall_seconds": round(wall, 1),
            "measurements": {
                key: {
                    "seconds": m.get("seconds"),
                    "uncertainty_seconds": m.get("uncertainty_seconds"),
                    "target_seconds": m.get("target_seconds"),
                    "passed": m.get("passed"),
                    "kind": m.get("kind"),
                }
                for key, m in report["measurements"].items()
            },
        }
    finally:
        lab.stop()


def describe(result: dict[str, Any]) -> str:
    if result["status"] != "SUCCEEDED":
        return f"{result['scenario']}: execution {result['status']} {result.get('error')}"
    parts = []
    for key, m in result["measurements"].items():
        if m["seconds"] is None:
            parts.append(f"{key} {m['kind']}")
        else:
            parts.append(f"{key} {m['seconds']:.1f}±{m['uncertainty_seconds'] or 0:.1f}s/{m['target_seconds']}")
    return (
        f"{result['scenario']}: {result['verdict']}, restore verified {result['restore_verified']}, "
        f"wall {result['wall_seconds']:.0f}s; " + ", ".join(parts)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--parallel", type=int, default=2, help="labs at once (each on its own ports and work dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "aws-timed-results.json")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(max_workers=args.parallel) as pool:
        futures = {name: pool.submit(run, name, Path(scratch) / name) for name in args.only}
        for name, future in futures.items():
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 one broken drill must not hide the others' numbers
                result = {"scenario": name, "status": "ERROR", "error": [type(error).__name__, str(error)]}
            results.append(result)
            print(describe(result), flush=True)
    args.out.write_text(json.dumps({"stack": str(STACK.relative_to(ROOT)), "drills": results}, indent=2) + "\n")
    passed = [r for r in results if r.get("verdict") == "PASS" and r.get("restore_verified")]
    print(f"{len(passed)}/{len(results)} drills passed and restored; results in {args.out}")
    return 0 if len(passed) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
