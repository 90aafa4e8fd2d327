"""One warm Lambda execution environment: imports a handler once, runs invocations.

A worker is forked from the lab's runtime template (lambda_runtime.py: a fork server that has already
imported the libraries every function imports, as Lambda's runtime image holds them), then takes the
function's own environment, working directory and log before its Init phase imports the handler.

Protocol, over the worker's connection: one JSON object per message ({"handler", "event", "request_id",
"deadline_ms"}), one JSON reply per invocation. The handler's own prints and logs go to the function's log
file, like a function's CloudWatch stream.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from drillkit_lab import tether


class LocalContext:
    """The attributes of the Lambda context object handlers and powertools read."""

    def __init__(self, request_id: str, deadline_ms: int):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = os.environ.get("DRILLKIT_LAB_FUNCTION_ARN", "")
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "lab"
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class Sabotage:
    """The test harness breaking the toolkit itself, for one invocation (lab only; see docs/lab.md).

    Counts the invocation's AWS API calls; from call ``after_calls`` + 1 on, ``crash`` ends the
    process, ``timeout`` hangs until the runtime's deadline kills it, ``throttle`` answers every call
    with the service's throttling error (boto3's retries see it; their waits are shortened).
    """

    def __init__(self, spec: dict[str, Any]):
        self.kind = spec["kind"]
        self.after_calls = int(spec.get("after_calls", 0))
        self.calls = 0
        self._lock = threading.Lock()
        self._throttled = threading.local()
        self._undo: list[tuple[Any, str, Any]] = []

    def arm(self) -> None:
        from botocore import endpoint
        from botocore.retries import bucket, standard

        sabotage = self
        do_get_response, send = endpoint.Endpoint._do_get_response, endpoint.Endpoint._send
        delay_amount = standard.ExponentialBackoff.delay_amount

        def sabotaged_get_response(self: Any, request: Any, operation_model: Any, context: Any) -> Any:
            with sabotage._lock:
                sabotage.calls += 1
                broken = sabotage.calls > sabotage.after_calls
            operation = f"{operation_model.service_model.service_name}.{operation_model.name}"
            outcome = sabotage.kind if broken else "passes"
            print(f"lab sabotage: AWS call {sabotage.calls} {operation}: {outcome}", file=sys.stderr)
            if broken and sabotage.kind == "crash":
                os._exit(70)
            if broken and sabotage.kind == "timeout":
                while True:
                    time.sleep(60)
            sabotage._throttled.response = _throttling_response(request, operation_model) if broken else None
            return do_get_response(self, request, operation_model, context)

        def sabotaged_send(self: Any, request: Any) -> Any:
            response = getattr(sabotage._throttled, "response", None)
            return response if response is not None else send(self, request)

        for owner, name, replacement in (
            (endpoint.Endpoint, "_do_get_response", sabotaged_get_response),
            (endpoint.Endpoint, "_send", sabotaged_send),
            (standard.ExponentialBackoff, "delay_amount", lambda self, ctx: min(delay_amount(self, ctx), 0.05)),
            (bucket.TokenBucket, "acquire", lambda self, amount=1, block=True: True),
        ):
            self._undo.append((owner, name, getattr(owner, name)))
            setattr(owner, name, replacement)

    def disarm(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()


def _throttling_response(request: Any, operation_model: Any) -> Any:
    """What the service answers when it throttles, in its own protocol."""
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders

    protocol = operation_model.metadata["protocol"]
    service = operation_model.service_model.service_name
    if protocol in ("json", "rest-json"):
        status, headers = 400, {"x-amzn-ErrorType": "ThrottlingException", "Content-Type": "application/x-amz-json-1.1"}
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
    elif protocol == "ec2":
        status, headers = 503, {}
        body = (
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
            "</Error></Errors><RequestID>lab</RequestID></Response>"
        )
    elif service == "s3":
        status, headers = 503, {}
        body = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
    else:
        status, headers = 400, {}
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            "<RequestId>lab</RequestId></ErrorResponse>"
        )
    return AWSResponse(request.url, status, HTTPHeaders.from_dict(headers), _Raw(body.encode()))


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def start(environment: dict[str, str], log_path: str, connection: Any) -> None:
    """A new execution environment: the function's environment and log, its Init phase, then its invocations.

    It exits when its lab's end of the connection closes (tether.py): a worker busy in a long invocation does not
    outlive a killed lab.
    """
    tether.exit_when_hung_up(connection.fileno())
    os.environ.clear()
    os.environ.update(environment)
    time.tzset()
    sys.dont_write_bytecode = True
    task_root = environment.get("LAMBDA_TASK_ROOT")
    if task_root:
        os.chdir(task_root)
        sys.path.insert(0, task_root)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = sys.stderr  # prints and logs alike: line by line into the log
    serve(connection)


def serve(connection: Any) -> None:
    handlers: dict[str, Any] = {}
    # Lambda's Init phase: the handler's module is imported before the first invocation, outside its timeout.
    # An import that fails here fails again, and is reported, at the invocation.
    if handler_name := os.environ.get("_HANDLER"):
        module_name, function_name = handler_name.rsplit(".", 1)
        try:
            handlers[handler_name] = getattr(importlib.import_module(module_name), function_name)
        except Exception as error:  # noqa: BLE001
            print(f"lab: init of {handler_name} failed: {error}", file=sys.stderr)
    connection.send(json.dumps({"ready": True}))
    while True:
        try:
            request = json.loads(connection.recv())
        except (EOFError, OSError):
            return  # the runtime is gone: so is this environment
        connection.send(_invoke(handlers, request))


def _peak_memory_mb() -> int:
    """Lambda's REPORT line: Max Memory Used, the execution environment's peak resident memory so far.

    getrusage's ru_maxrss (kB on Linux) is the kernel's high-water mark, which it updates lazily: a process can hold
    a little more right now than its recorded peak. The peak is therefore the largest of that mark, /proc's VmHWM
    and the current VmRSS, so that it is never below what the environment holds.
    """
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                peak_kb = max(peak_kb, int(line.split()[1]))
    except OSError:  # not Linux: ru_maxrss alone
        pass
    return peak_kb // 1024


def _invoke(handlers: dict[str, Any], request: dict[str, Any]) -> str:
    name = request["handler"]
    try:
        if name not in handlers:
            module_name, function_name = name.rsplit(".", 1)
            handlers[name] = getattr(importlib.import_module(module_name), function_name)
        sabotage = Sabotage(request["sabotage"]) if request.get("sabotage") else None
        if sabotage is not None:
            sabotage.arm()
        try:
            result = handlers[name](request["event"], LocalContext(request["request_id"], request["deadline_ms"]))
        finally:
            if sabotage is not None:
                sabotage.disarm()
        reply = {"ok": True, "result": result}
    except Exception as error:  # noqa: BLE001 reported to the caller exactly as the Lambda runtime would
        reply = {
            "ok": False,
            "error": {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "stackTrace": traceback.format_exception(error)[-8:],
            },
        }
    reply["max_memory_used_mb"] = _peak_memory_mb()
    try:
        return json.dumps(reply, default=str)
    except (TypeError, ValueError) as error:
        failed = {"errorMessage": str(error), "errorType": "Runtime.MarshalError"}
        return json.dumps({"ok": False, "error": failed, "max_memory_used_mb": reply["max_memory_used_mb"]})
