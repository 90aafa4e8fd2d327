"""Run Lambda invocations as the real handlers in warm worker processes, no Docker.

Each function gets its own pool of worker processes whose environment is exactly the
function's configured variables plus what the Lambda runtime itself provides
(region, credentials, function name) and the lab endpoint.

A function's first worker starts when the function is first invoked (a cold start), as in Lambda. Workers
are forked from one template process that has already imported the libraries every handler imports and
that read nothing of a function's environment as they are imported (boto3, botocore, pydantic, dnspython,
jinja2): a cold start then imports drillkit, powertools and the handler, and the workers share those
libraries' memory instead of holding a copy each.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

from drillkit_lab import lambda_worker

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
# What the runtime template imports once for every worker: third-party libraries only, none of which reads the
# function's environment at import (drillkit's handlers do, at their Init phase, in the worker; so do powertools and
# the X-Ray SDK, which stay out). pydantic's models, dnspython and jinja2 took a third of each cold start's imports.
TEMPLATE_PRELOAD = [
    "drillkit_lab.lambda_worker",
    "boto3",
    "boto3.session",
    "botocore.client",
    "botocore.session",
    "pydantic",
    "pydantic.main",
    "pydantic.fields",
    "pydantic.functional_validators",
    "pydantic.type_adapter",
    "dns.resolver",
    "dns.query",
    "dns.message",
    "dns.rdatatype",
    "dns.rcode",
    "dns.flags",
    "jinja2",
    "zoneinfo",
    "asyncio",
]
_forkserver_lock = threading.Lock()


def _forkserver() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(TEMPLATE_PRELOAD)
    return context


def start_template() -> None:
    """Start the workers' template process now (it imports its libraries in the background)."""
    from multiprocessing import forkserver

    with _forkserver_lock:
        _forkserver()
        forkserver.ensure_running()


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
    def __init__(self, ok: bool, payload: Any, max_memory_used_mb: int | None = None):
        self.ok = ok
        self.payload = payload
        self.max_memory_used_mb = max_memory_used_mb  # None: the environment died or timed out before it said


class Worker:
    def __init__(self, config: FunctionConfig, endpoint_url: str, log_path: Path):
        self.config = config
        with _forkserver_lock:
            context = _forkserver()
            self.connection, theirs = context.Pipe()
            self.process = context.Process(
                target=lambda_worker.start,
                args=(config.environment(endpoint_url), str(log_path), theirs),
                name=f"lambda-{config.name}",
                daemon=True,
            )
            self.process.start()
        theirs.close()
        self.ready = threading.Event()
        self.last_used = time.monotonic()

    def wait_ready(self, timeout: float) -> bool:
        if not self.ready.is_set():
            line = self._receive(timeout)
            if line is None:
                return False
            self.ready.set()
        return True

    def invoke(self, event: Any, timeout: float, sabotage: Sabotage | None = None) -> InvocationResult:
        request_id = str(uuid.uuid4())
        deadline_ms = int((time.time() + timeout) * 1000)
        request = {"handler": self.config.handler, "event": event, "request_id": request_id, "deadline_ms": deadline_ms}
        if sabotage is not None:
            request["sabotage"] = {"kind": sabotage.kind, "after_calls": sabotage.after_calls}
        self.connection.send(json.dumps(request))
        line = self._receive(timeout)
        self.last_used = time.monotonic()
        if line is None and not self.alive():
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {self.process.exitcode}"
            return InvocationResult(False, {"errorType": "Runtime.ExitError", "errorMessage": message})
        if line is None:
            self.kill()
            return InvocationResult(
                False,
                {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"},
            )
        reply = json.loads(line)
        used = reply.get("max_memory_used_mb")
        return InvocationResult(True, reply["result"], used) if reply["ok"] else InvocationResult(False, reply["error"], used)

    def _receive(self, timeout: float) -> str | None:
        """One message with a deadline; None when the worker died or ran out of time."""
        try:
            if self.connection.poll(timeout):
                return str(self.connection.recv())
        except (EOFError, OSError):
            self.process.join(timeout=5)  # it died: its exit status is known once it is reaped
        return None

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


class LambdaRuntime:
    """Warm worker pools per function; concurrent invocations get their own worker."""

    def __init__(self, endpoint_url: str, log_dir: Path):
        self.endpoint_url = endpoint_url
        self.log_dir = log_dir
        self.functions: dict[str, FunctionConfig] = {}
        self._idle: dict[str, list[Worker]] = {}
        self._started: set[Worker] = set()  # every worker not yet stopped, busy or idle
        self._lock = threading.Lock()
        self.invocations = 0
        self._sabotage: dict[str, Sabotage] = {}
        self._timeouts: dict[str, float] = {}  # lab-only: a function's timeout shortened for a test

    def register(self, config: FunctionConfig) -> None:
        self.functions[config.name] = config
        self._idle.setdefault(config.name, [])

    def _log(self, name: str) -> Path:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"lambda-{name}.log"

    def _take(self, name: str) -> Worker:
        with self._lock:
            idle = self._idle[name]
            while idle:
                worker = idle.pop()
                if worker.alive():
                    return worker
                worker.kill()  # reaped, its connection closed
                self._started.discard(worker)
        worker = Worker(self.functions[name], self.endpoint_url, self._log(name))
        with self._lock:
            self._started.add(worker)
        return worker

    def _give_back(self, worker: Worker) -> None:
        if worker.alive():
            with self._lock:
                self._idle[worker.config.name].append(worker)

    def prepare(self) -> None:
        """Get cold starts ready without starting any function: the workers' template imports its libraries."""
        threading.Thread(target=start_template, name="lambda-template", daemon=True).start()

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
            with self._lock:
                self._started.discard(worker)
        return result

    def close(self) -> None:
        with self._lock:
            workers = list(self._started)  # busy ones too: a worker hung by the harness never comes back
            self._started.clear()
            self._idle = {name: [] for name in self._idle}
        for worker in workers:
            worker.kill()
