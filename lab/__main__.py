"""`python -m drillkit_lab`: run the lab in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
from pathlib import Path

from drillkit_lab import tether


def _log_to(path: Path) -> None:
    """Send everything written to stderr (this process's, its threads' and the Lambda workers' it forks) to a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    log = open(path, "a", buffering=1)  # noqa: SIM115 the process's stderr from now on, open until it exits
    os.dup2(log.fileno(), 2)
    sys.stderr = log


def main(argv: list[str] | None = None) -> int:
    """Run the lab until stopped; ``argv``: the command line's arguments (sys.argv's by default)."""
    # Python's cyclic garbage collector traverses every object it tracks, again and again as their number grows:
    # while the lab imports moto and loads the AWS API models (a million objects or more, all of them kept) it
    # cost more than a second of CPU at each start, and collected next to nothing. Off until the lab is up, then
    # what the start built is frozen out of later collections (gc.freeze: long-lived, never garbage), so that
    # they do not traverse it either while a drill runs.
    gc.disable()
    from drillkit_lab.lab import Lab
    from drillkit_lab.stackspec import StackInvalid, load_stack

    parser = argparse.ArgumentParser(prog="python -m drillkit_lab", description="Run the drillkit local lab.")
    parser.add_argument("--work-dir", type=Path, default=Path(".drillkit"), help="where lab.json, logs and the ground truth go")
    parser.add_argument("--observe-batch-seconds", type=int, default=60)
    parser.add_argument("--stack", type=Path, default=None, help="lab stack spec (default: lab/stacks/default.yaml)")
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help="write the components' logs (local cloud, Lambda functions, physics) here; progress stays on stdout",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="stop the lab when this process (the one that started it) exits, even killed; without it the lab runs until stopped",
    )
    args = parser.parse_args(argv)
    try:
        stack = load_stack(args.stack)
    except StackInvalid as error:
        print(f"lab: {error}", file=sys.stderr, flush=True)
        return 2
    if args.log_file is not None:
        _log_to(args.log_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.parent_pid is not None:
        tether.watch_parent(args.parent_pid, stop.set)
    lab = Lab(work_dir=args.work_dir, observe_batch_seconds=args.observe_batch_seconds, stack=stack)
    try:
        info = lab.start(progress=lambda message: print(f"lab: {message}", flush=True))
        gc.freeze()
        gc.enable()
        print(f"lab: ready in {info['ready_seconds']:.1f}s; {lab.lab_file}", flush=True)
        # Python runs a signal handler in the main thread, and only when that thread runs: a wait without a
        # timeout may never wake for it (the signal lands on one of the lab's many threads). Wake to look.
        while not stop.wait(0.1):
            pass
    finally:
        lab.stop()
    return 0


if __name__ == "__main__":
    code = main()
    # Everything the lab writes is closed by now. Tearing down its hundreds of MB of Python objects one by one
    # (the interpreter's exit) takes seconds and frees nothing the kernel would not free at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
