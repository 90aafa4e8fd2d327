"""Run Lambda invocations as the real handlers in warm worker processes, no Docker.

Each function gets its own pool of worker processes whose environment is exactly the
function's configured variables plus what the Lambda runtime itself provides
(region, credentials, function name) and the lab endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"


@dataclass(frozen=True)
class FunctionConfig:
    name: str
    arn: str
    region: str
    handler: str
    timeout: float
    memory: int
    variables: dict[str, str] = field(default_factory=dict)

    def environment(self, endpoint_url: str) -> dict[str, str]:
        runtime = {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "DRILLKIT_LAB_FUNCTION_ARN": self.arn,
            "DRILLKIT_LOCAL_LAB": "true",  # every report made here says it ran in the local lab (evidence/where.py)
            "LAMBDA_TASK_ROOT": str(FUNCTIONS_DIR),
            "_HANDLER": self.handler,
            "PYTHONPATH": str(FUNCTIONS_DIR),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TZ": "UTC",
            # Lambda hands X-Ray a trace header per invocation and runs its daemon; the lab has neither.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        return {**runtime, **{k: str(v) for k, v in self.variables.items()}}


@dataclass
class Sabotage:
    """The test harness's break of one function (see lambda_worker.Sabotage): crash, timeout or throttle.

    ``invocations`` None breaks every invocation until cleared; a timeout ends the invocation after
    ``timeout_seconds`` (shorter than the function's own, so that a test does not wait 900 s).
    """

    kind: str
    after_calls: int = 0
    invocations: int | None = None
    timeout_seconds: float = 3.0

    KINDS = ("crash", "timeout", "throttle")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"kind must be one of {', '.join(self.KINDS)}")


class InvocationResult:
    def __init__(self, ok: bool, payload: Any):
        self.ok = ok
        self.payload = payload


class Worker:
    def __init__(self, config: FunctionConfig, endpoint_url: str, log: IO[str]):
        self.config = config
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve().parent / "lambda_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=config.environment(endpoint_url),
            cwd=str(FUNCTIONS_DIR),
            text=True,
            bufsize=1,
        )
        self.ready = threading.Event()
        self.last_used = time.monotonic()

    def wait_ready(self, timeout: float) -> bool:
        if not self.ready.is_set():
            line = _readline(self.process, timeout)
            if line is None:
                return False
            self.ready.set()
        return True

    def invoke(self, event: Any, timeout: float, sabotage: Sabotage | None = None) -> InvocationResult:
        request_id = str(uuid.uuid4())
        deadline_ms = int((time.time() + timeout) * 1000)
        assert self.process.stdin is not None
        request = {"handler": self.config.handler, "event": event, "request_id": request_id, "deadline_ms": deadline_ms}
        if sabotage is not None:
            request["sabotage"] = {"kind": sabotage.kind, "after_calls": sabotage.after_calls}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = _readline(self.process, timeout)
        self.last_used = time.monotonic()
        if line is None and self.process.poll() is not None:
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {self.process.returncode}"
            return InvocationResult(False, {"errorType": "Runtime.ExitError", "errorMessage": message})
        if line is None:
            self.kill()
            return InvocationResult(
                False,
                {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"},
            )
        reply = json.loads(line)
        return InvocationResult(True, reply["result"]) if reply["ok"] else InvocationResult(False, reply["error"])

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=5)


def _readline(process: subprocess.Popen[str], timeout: float) -> str | None:
    """Read one line with a deadline; None when the worker died or ran out of time."""
    result: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if reader.is_alive() or not result or not result[0]:
        return None
    return result[0]


class LambdaRuntime:
    """Warm worker pools per function; concurrent invocations get their own worker."""

    def __init__(self, endpoint_url: str, log_dir: Path):
        self.endpoint_url = endpoint_url
        self.log_dir = log_dir
        self.functions: dict[str, FunctionConfig] = {}
        self._idle: dict[str, list[Worker]] = {}
        self._lock = threading.Lock()
        self._logs: dict[str, IO[str]] = {}
        self.invocations = 0
        self._sabotage: dict[str, Sabotage] = {}
        self._timeouts: dict[str, float] = {}  # lab-only: a function's timeout shortened for a test

    def register(self, config: FunctionConfig) -> None:
        self.functions[config.name] = config
        self._idle.setdefault(config.name, [])

    def _log(self, name: str) -> IO[str]:
        if name not in self._logs:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._logs[name] = open(self.log_dir / f"lambda-{name}.log", "a", buffering=1)
        return self._logs[name]

    def _take(self, name: str) -> Worker:
        with self._lock:
            idle = self._idle[name]
            while idle:
                worker = idle.pop()
                if worker.alive():
                    return worker
        return Worker(self.functions[name], self.endpoint_url, self._log(name))

    def _give_back(self, worker: Worker) -> None:
        if worker.alive():
            with self._lock:
                self._idle[worker.config.name].append(worker)

    def prewarm(self) -> None:
        """Start one worker per function so drills skip cold starts.

        Each goes straight into its pool while it starts: an invocation that arrives first waits for
        that worker to be ready instead of starting a second one.
        """
        for name in self.functions:
            self._give_back(self._take(name))

    def function_named(self, name: str) -> str:
        """A function's name as registered, from it or its template logical id."""
        if name in self.functions:
            return name
        matches = [registered for registered in self.functions if registered.endswith("-" + name)]
        if len(matches) != 1:
            raise KeyError(f"no function {name!r}; known: {', '.join(sorted(self.functions))}")
        return matches[0]

    def sabotage(self, name: str, sabotage: Sabotage | None) -> None:
        """Break (or, with None, mend) a function's invocations from now on."""
        with self._lock:
            if sabotage is None:
                self._sabotage.pop(name, None)
            else:
                self._sabotage[name] = sabotage

    def set_timeout(self, name: str, seconds: float | None) -> None:
        """Give a function a shorter timeout than its template's (None: the template's again).

        Lets a test show a wait outlasting its function in seconds instead of the template's 120-900 s. The
        invocation ends at it (Sandbox.Timedout) and the handler's context counts down to it, as in Lambda.
        """
        with self._lock:
            if seconds is None:
                self._timeouts.pop(name, None)
            else:
                self._timeouts[name] = seconds

    def timeout_of(self, name: str) -> float:
        with self._lock:
            return self._timeouts.get(name, self.functions[name].timeout)

    def _sabotage_for(self, name: str) -> Sabotage | None:
        with self._lock:
            sabotage = self._sabotage.get(name)
            if sabotage is not None and sabotage.invocations is not None:
                sabotage.invocations -= 1
                if sabotage.invocations <= 0:
                    del self._sabotage[name]
            return sabotage

    def invoke(self, name: str, event: Any) -> InvocationResult:
        config = self.functions[name]
        timeout = self.timeout_of(name)
        self.invocations += 1
        worker = self._take(name)
        if not worker.wait_ready(max(30.0, config.timeout)):
            worker.kill()
            return InvocationResult(False, {"errorType": "Runtime.ExitError", "errorMessage": f"{name}: worker failed to start"})
        # The worker imported the handler while it started (Lambda's Init phase): the invocation's timeout starts now.
        remaining = timeout
        sabotage = self._sabotage_for(name)
        if sabotage is not None and sabotage.kind == "timeout":
            remaining = min(remaining, sabotage.timeout_seconds)
        result = worker.invoke(event, max(1.0, remaining), sabotage)
        if sabotage is None:
            self._give_back(worker)
        else:
            worker.kill()  # its clients' retry state saw the sabotage; the next invocation starts clean
        return result

    def close(self) -> None:
        with self._lock:
            workers = [w for pool in self._idle.values() for w in pool]
            self._idle = {name: [] for name in self._idle}
        for worker in workers:
            worker.kill()
        for log in self._logs.values():
            log.close()
