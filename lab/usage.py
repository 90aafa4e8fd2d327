"""What a drill asked of the cloud: every request the local cloud answered and every Lambda invocation.

AWS bills a drill by what it calls, so the lab counts the calls where they arrive (the WSGI layer in front
of moto) rather than trusting what drillkit believes it called. benchmarks/cost.py prices the counts.

A request is attributed to drillkit's functions when its user agent carries ``drillkit`` (functions/drillkit/aws.py
sets it on every client the functions build); anything else (the CLI following a drill, tests) is ``other``.
"""

from __future__ import annotations

import io
import re
import threading
from collections import Counter
from typing import Any, NamedTuple
from urllib.parse import parse_qs

from pydantic import BaseModel, Field

from drillkit_lab.throttle import operation_of as route53_operation_of

CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
LAMBDA_PATH = re.compile(r"^/2015-03-31/functions/[^/]+/(invocations|configuration)?")
SMITHY_RPC = re.compile(r"^/service/[^/]+/operation/([^/]+)$")  # rpc-v2-cbor (e.g. CloudWatch in newer botocore)
FORM_TYPE = "application/x-www-form-urlencoded"


# Operations that read only, by the names AWS gives them (EC2, ELB, RDS and the JSON APIs send reads as POSTs too).
READ_PREFIXES = ("Describe", "List", "Get", "Search", "Query", "Scan", "BatchGet")


class ApiCall(NamedTuple):
    """One signed request to the local cloud: the service's signing name and the operation."""

    service: str
    operation: str
    method: str

    @property
    def may_change_state(self) -> bool:
        return self.method not in ("GET", "HEAD") and not self.operation.startswith(READ_PREFIXES)


class RequestCount(BaseModel):
    service: str
    operation: str
    caller: str  # "drillkit" (the functions) or "other"
    count: int


class Invocation(BaseModel):
    function: str
    memory_mb: int  # the function's MemorySize from template.yaml: Lambda bills GB-seconds
    duration_ms: float
    # The execution environment's peak resident memory, as Lambda's REPORT line says it (None: it never answered).
    max_memory_used_mb: int | None = None


class Usage(BaseModel):
    """A snapshot of the counters: GET /_lab/usage answers it; two snapshots subtract to one drill's usage."""

    requests: list[RequestCount] = Field(default_factory=list)
    invocations: list[Invocation] = Field(default_factory=list)

    def since(self, earlier: Usage) -> Usage:
        before = Counter({(r.service, r.operation, r.caller): r.count for r in earlier.requests})
        after = Counter({(r.service, r.operation, r.caller): r.count for r in self.requests})
        after.subtract(before)
        requests = [RequestCount(service=s, operation=o, caller=c, count=n) for (s, o, c), n in sorted(after.items()) if n > 0]
        return Usage(requests=requests, invocations=self.invocations[len(earlier.invocations) :])

    def count(self, service: str, operation: str | None = None, caller: str | None = None) -> int:
        return sum(
            r.count
            for r in self.requests
            if r.service == service and operation in (None, r.operation) and caller in (None, r.caller)
        )


def _operation(service: str, method: str, path: str, environ: dict[str, Any]) -> str:
    if target := environ.get("HTTP_X_AMZ_TARGET"):
        return str(target).rsplit(".", 1)[-1]
    if match := SMITHY_RPC.match(path):
        return match.group(1)
    if service == "route53":
        return route53_operation_of(method, path) or f"{method} {path}"
    if service == "lambda" and (match := LAMBDA_PATH.match(path)):
        return "Invoke" if match.group(1) == "invocations" else f"{method} function"
    if service == "s3":
        return _s3_operation(method, path, environ.get("QUERY_STRING", ""))
    if environ.get("CONTENT_TYPE", "").startswith(FORM_TYPE):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)  # the next reader (moto, the RDS extensions) reads it again
        action = parse_qs(raw.decode(errors="replace")).get("Action")
        if action:
            return action[0]
    return f"{method} {path.split('/')[1] if '/' in path else path}"


def _s3_operation(method: str, path: str, query: str) -> str:
    """S3 bills by request class: PUT, COPY, POST and LIST in one tier, GET and HEAD (and others) in another."""
    key = path.lstrip("/").partition("/")[2]
    if method == "GET" and not key:
        return "ListObjects" if "list-type" in query or not query else f"GET bucket ?{query.split('=')[0]}"
    return {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "POST": "PostObject", "DELETE": "DeleteObject"}.get(
        method, method
    )


class UsageMeter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, str]] = Counter()
        self._invocations: list[Invocation] = []

    def record_request(self, environ: dict[str, Any]) -> ApiCall | None:
        """Count the request; what it called (None: unsigned, one of the lab's own endpoints, never billed)."""
        scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None:
            return None
        service = scope.group(1)
        method = environ.get("REQUEST_METHOD", "GET")
        operation = _operation(service, method, environ.get("PATH_INFO", ""), environ)
        caller = "drillkit" if "drillkit" in environ.get("HTTP_USER_AGENT", "") else "other"
        with self._lock:
            self._requests[(service, operation, caller)] += 1
        return ApiCall(service, operation, method)

    def record_invocation(self, function: str, memory_mb: int, duration_ms: float, max_memory_used_mb: int | None = None) -> None:
        invocation = Invocation(
            function=function, memory_mb=memory_mb, duration_ms=duration_ms, max_memory_used_mb=max_memory_used_mb
        )
        with self._lock:
            self._invocations.append(invocation)

    def snapshot(self) -> Usage:
        with self._lock:
            requests = [
                RequestCount(service=s, operation=o, caller=c, count=n) for (s, o, c), n in sorted(self._requests.items())
            ]
            return Usage(requests=requests, invocations=list(self._invocations))
