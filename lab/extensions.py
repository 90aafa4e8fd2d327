"""What the local cloud needs beyond moto, answered in the AWS wire format.

A WSGI layer in front of moto's server:
  Route 53 GetHealthCheckStatus  GET /2013-04-01/healthcheck/{id}/status
  Route 53 TestDNSAnswer         GET /2013-04-01/testdnsanswer
  Route 53 throttling            every /2013-04-01/ request, AWS's token buckets (throttle.py)
  Lambda Invoke                  POST /2015-03-31/functions/{name}/invocations
  RDS FailoverGlobalCluster, SwitchoverGlobalCluster   POST / (Query protocol)
  RDS Data API ExecuteStatement  POST /Execute
  SSM GetCalendarState           POST / (X-Amz-Target AmazonSSM.GetCalendarState), change calendars (change_calendar.py)
  Test harness (lab only)        POST /_lab/sabotage   break a drillkit function: crash, timeout, throttle
  Ground truth (lab only)        GET /_lab/assumed-roles   every role STS let anyone assume
  Clock (lab only)               POST /_lab/time-out   an execution reaches its TimeoutSeconds now
  Test harness (lab only)        POST /_lab/function-timeout   give a drillkit function a shorter timeout
  Usage (lab only)               GET /_lab/usage   every request and Lambda invocation so far (usage.py), for the cost model
Everything else goes to moto unchanged.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from drillkit_lab import change_calendar
from drillkit_lab.events import stopped_execution_of, time_out
from drillkit_lab.lambda_runtime import InvocationResult, LambdaRuntime, Sabotage
from drillkit_lab.physics.database import ClusterNotEligible, DatabaseUnavailable, GlobalClusterBusy, GlobalDatabase
from drillkit_lab.physics.route53 import Route53Physics
from drillkit_lab.throttle import Route53Throttle, operation_of
from drillkit_lab.usage import UsageMeter

ROUTE53_NS = "https://route53.amazonaws.com/doc/2013-04-01/"
HEALTH_STATUS = re.compile(r"^/2013-04-01/healthcheck/([^/]+)/status$")
TEST_DNS_ANSWER = re.compile(r"^/2013-04-01/testdnsanswer$")
LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
RDS_GLOBAL_ACTIONS = {"FailoverGlobalCluster", "SwitchoverGlobalCluster"}
LAB_SABOTAGE = "/_lab/sabotage"  # the test harness (tests/lab/test_harness.py); nothing in AWS answers here
LAB_TIME_OUT = "/_lab/time-out"  # the drill machine's 2-hour TimeoutSeconds, reached now (tests of that guardrail)
LAB_FUNCTION_TIMEOUT = "/_lab/function-timeout"  # a function's timeout shortened, so a test outlasts it in seconds
LAB_ASSUMED_ROLES = "/_lab/assumed-roles"  # ground truth: every AssumeRole STS granted (CloudTrail's record, in AWS)
LAB_USAGE = "/_lab/usage"  # what AWS would bill: requests by service, operation and caller; invocations and durations

StartResponse = Callable[..., Any]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _xml(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()
    start_response(
        status, [("Content-Type", "text/xml"), ("Content-Length", str(len(data))), ("x-amzn-RequestId", str(uuid.uuid4()))]
    )
    return [data]


def _route53_error(start_response: StartResponse, status: str, code: str, message: str) -> list[bytes]:
    body = (
        f'<ErrorResponse xmlns="{ROUTE53_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return _xml(start_response, status, body)


class LabExtensions:
    def __init__(
        self,
        moto_app: Callable[..., Iterable[bytes]],
        physics: Route53Physics,
        runtime: LambdaRuntime,
        route53_throttle: Route53Throttle | None = None,
    ):
        self.moto_app = moto_app
        self.physics = physics
        self.runtime = runtime
        self.route53_throttle = route53_throttle or Route53Throttle()
        self.database: GlobalDatabase | None = None  # set once the lab stack has one
        self.usage = UsageMeter()
        self.calendars = change_calendar.ChangeCalendars()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        self.usage.record_request(environ)
        operation = operation_of(method, path)
        if operation is not None and not self.route53_throttle.admit(operation):
            # Drillkit's own clients say so in their user agent; the ground truth tells them from the tests' calls.
            caller = "drillkit" if "drillkit" in environ.get("HTTP_USER_AGENT", "") else "other"
            self.physics.ground_truth.record("route53_throttled", operation=operation, caller=caller)
            return _route53_error(start_response, "400 Bad Request", "Throttling", "Rate exceeded")
        if method == "GET" and (match := HEALTH_STATUS.match(path)):
            return self.health_check_status(unquote(match.group(1)), start_response)
        if method == "GET" and TEST_DNS_ANSWER.match(path):
            return self.test_dns_answer(parse_qs(environ.get("QUERY_STRING", "")), start_response)
        if method == "GET" and path == LAB_ASSUMED_ROLES:
            return self.assumed_roles(start_response)
        if method == "GET" and path == LAB_USAGE:
            return _json(start_response, "200 OK", self.usage.snapshot().model_dump(mode="json"))
        if method == "POST" and path == LAB_TIME_OUT:
            arn = str(json.loads(_body(environ) or b"{}").get("executionArn", ""))
            if not time_out(arn):
                return _json(start_response, "404 Not Found", {"message": f"no running execution {arn}"}, "ExecutionDoesNotExist")
            return _json(start_response, "200 OK", {"executionArn": arn, "status": "TIMED_OUT"})
        if method == "POST" and path == LAB_SABOTAGE:
            return self.sabotage(_body(environ), start_response)
        if method == "POST" and path == LAB_FUNCTION_TIMEOUT:
            return self.function_timeout(_body(environ), start_response)
        if method == "POST" and environ.get("HTTP_X_AMZ_TARGET", "").startswith("AmazonSSM."):
            if (answered := self.ssm_calendar(environ, start_response)) is not None:
                return answered
        if method == "POST" and (match := LAMBDA_INVOKE.match(path)):
            return self.invoke(unquote(match.group(1)), environ, start_response)
        if method == "POST" and path == "/Execute" and self.database is not None:
            return self.execute_statement(_body(environ), start_response)
        if method == "POST" and path == "/" and "/rds/aws4_request" in environ.get("HTTP_AUTHORIZATION", ""):
            raw = _body(environ)
            environ["wsgi.input"] = io.BytesIO(raw)  # moto reads it again when the action is not ours
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if form.get("Action") in RDS_GLOBAL_ACTIONS and self.database is not None:
                return self.global_cluster_action(form, start_response)
        return self.moto_app(environ, start_response)

    # -- SSM: change calendars (change_calendar.py) ------------------------------------------------------
    def ssm_calendar(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes] | None:
        """GetCalendarState, and CreateDocument of a TEXT ChangeCalendar; None: the request is moto's."""
        found = re.search(r"Credential=[^/]+/\d+/([a-z0-9-]+)/ssm/", environ.get("HTTP_AUTHORIZATION", ""))
        region = found.group(1) if found else "us-east-1"
        target = environ["HTTP_X_AMZ_TARGET"]
        if target == "AmazonSSM.GetCalendarState":
            return _json(start_response, *self.calendars.answer(region, _body(environ)))
        if target == "AmazonSSM.CreateDocument":
            raw = _body(environ)
            environ["wsgi.input"] = io.BytesIO(raw)  # moto reads it again when the document is not a calendar
            request = json.loads(raw or b"{}")
            if request.get("DocumentType") == "ChangeCalendar" and request.get("DocumentFormat") == "TEXT":
                return _json(start_response, *self.calendars.create(region, request))
        return None

    # -- RDS: global cluster failover and switchover, and the Data API -----------------------
    def global_cluster_action(self, form: dict[str, str], start_response: StartResponse) -> list[bytes]:
        assert self.database is not None
        action = form["Action"]
        global_id = form.get("GlobalClusterIdentifier", "")
        target = form.get("TargetDbClusterIdentifier", "")
        if global_id.lower() != (self.database.global_cluster_id or "").lower():
            return _rds_error(start_response, "GlobalClusterNotFoundFault", f"Global cluster {global_id} not found.")
        cluster = self.database.cluster(target)
        if cluster is None:
            return _rds_error(start_response, "DBClusterNotFoundFault", f"DBCluster {target} not found.")
        # FailoverGlobalCluster without AllowDataLoss is a switchover too.
        data_loss = action == "FailoverGlobalCluster" and form.get("AllowDataLoss", "false").lower() == "true"
        try:
            self.database.begin("failover" if data_loss else "switchover", target)
        except GlobalClusterBusy as error:
            return _rds_error(start_response, "InvalidGlobalClusterStateFault", str(error), "400 Bad Request")
        except ClusterNotEligible as error:
            return _rds_error(start_response, "InvalidDBClusterStateFault", str(error), "400 Bad Request")
        # The answer shows the operation just accepted (FailoverState pending), as AWS's does.
        members = "".join(
            f"<GlobalClusterMember><DBClusterArn>{escape(c.arn)}</DBClusterArn>"
            f"<IsWriter>{str(c.role == 'writer').lower()}</IsWriter>"
            f"<SynchronizationStatus>{c.synchronization}</SynchronizationStatus></GlobalClusterMember>"
            for c in self.database.clusters.values()
        )
        state = self.database.failover_state() or {}
        failover_state = "".join(
            f"<{key}>{escape(str(value).lower() if isinstance(value, bool) else str(value))}</{key}>"
            for key, value in state.items()
        )
        body = (
            f'<{action}Response xmlns="{RDS_NS}"><{action}Result><GlobalCluster>'
            f"<GlobalClusterIdentifier>{escape(global_id)}</GlobalClusterIdentifier><Status>available</Status>"
            f"<GlobalClusterMembers>{members}</GlobalClusterMembers>"
            f"<FailoverState>{failover_state}</FailoverState></GlobalCluster></{action}Result>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
        )
        return _xml(start_response, "200 OK", body)

    def execute_statement(self, raw: bytes, start_response: StartResponse) -> list[bytes]:
        assert self.database is not None
        request = json.loads(raw or b"{}")
        arn, sql = request.get("resourceArn", ""), request.get("sql", "")
        params = {p["name"]: _data_api_value(p.get("value", {})) for p in request.get("parameters", [])}
        try:
            columns, rows, updated = self.database.execute(arn, sql, params)
        except KeyError:
            return _json(start_response, "404 Not Found", {"message": f"Database cluster {arn} not found"}, "NotFoundException")
        except DatabaseUnavailable as error:
            return _json(
                start_response, "400 Bad Request", {"message": f"Communications link failure: {error}"}, "BadRequestException"
            )
        except Exception as error:  # noqa: BLE001 read-only and SQL errors come back as the Data API's 400
            return _json(start_response, "400 Bad Request", {"message": str(error)}, "BadRequestException")
        body: dict[str, Any] = {"numberOfRecordsUpdated": updated, "records": [[_data_api_field(v) for v in row] for row in rows]}
        if request.get("includeResultMetadata"):
            body["columnMetadata"] = [{"name": c, "label": c} for c in columns]
        return _json(start_response, "200 OK", body)

    # -- Route 53 -------------------------------------------------------------
    def health_check_status(self, health_check_id: str, start_response: StartResponse) -> list[bytes]:
        config = self.physics.backend.health_checks.get(health_check_id)
        if config is not None and (config.type_ or "").upper() in ("CALCULATED", "RECOVERY_CONTROL"):
            # AWS: "You can't use GetHealthCheckStatus to get the status of a calculated health check."
            # The error code is not documented; InvalidInput is Route 53's error for a request it cannot serve.
            return _route53_error(
                start_response,
                "400 Bad Request",
                "InvalidInput",
                f"GetHealthCheckStatus does not report health check {health_check_id} of type {config.type_}",
            )
        observations = self.physics.observations(health_check_id)
        if observations is None:
            return _route53_error(
                start_response, "404 Not Found", "NoSuchHealthCheck", f"A health check with id {health_check_id} does not exist."
            )
        items = "".join(
            "<HealthCheckObservation>"
            f"<Region>{o['region']}</Region><IPAddress>{o['address']}</IPAddress>"
            f"<StatusReport><Status>{escape(o['status'])}</Status><CheckedTime>{_iso(o['checked_at'])}</CheckedTime></StatusReport>"
            "</HealthCheckObservation>"
            for o in observations
        )
        return _xml(
            start_response,
            "200 OK",
            f'<GetHealthCheckStatusResponse xmlns="{ROUTE53_NS}"><HealthCheckObservations>{items}'
            "</HealthCheckObservations></GetHealthCheckStatusResponse>",
        )

    def test_dns_answer(self, query: dict[str, list[str]], start_response: StartResponse) -> list[bytes]:
        zone_id = (query.get("hostedzoneid") or [""])[0]
        name = (query.get("recordname") or [""])[0]
        record_type = (query.get("recordtype") or ["A"])[0]
        zone = self.physics.backend.zones.get(zone_id.split("/")[-1])
        if zone is None:
            return _route53_error(start_response, "404 Not Found", "NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}")
        rcode, values, _ = self.physics.answer(name, record_type, zone)
        entries = "".join(f"<RecordDataEntry>{escape(v)}</RecordDataEntry>" for v in values)
        fqdn = name if name.endswith(".") else name + "."
        return _xml(
            start_response,
            "200 OK",
            f'<TestDNSAnswerResponse xmlns="{ROUTE53_NS}"><Nameserver>ns-1.drillkit.lab</Nameserver>'
            f"<RecordName>{escape(fqdn)}</RecordName><RecordType>{record_type}</RecordType>"
            f"<RecordData>{entries}</RecordData><ResponseCode>{rcode}</ResponseCode><Protocol>UDP</Protocol>"
            "</TestDNSAnswerResponse>",
        )

    # -- Lambda ---------------------------------------------------------------
    def assumed_roles(self, start_response: StartResponse) -> list[bytes]:
        from moto.sts.models import sts_backends

        granted = [
            {"role_arn": r.role_arn, "session_name": r.session_name, "external_id": r.external_id, "account": account}
            for account in list(sts_backends.keys())
            for backend in sts_backends[account].values()
            for r in list(backend.assumed_roles)
        ]
        return _json(start_response, "200 OK", {"assumed_roles": granted})

    # -- the test harness: break a drillkit function on purpose ------------------------------
    def sabotage(self, raw: bytes, start_response: StartResponse) -> list[bytes]:
        try:
            request = json.loads(raw or b"{}")
            name = self.runtime.function_named(str(request.pop("function", "")))
            sabotage = None if request.pop("mend", False) else Sabotage(**request)
        except (ValueError, TypeError, KeyError) as error:
            return _json(start_response, "400 Bad Request", {"message": str(error)}, "InvalidParameterValueException")
        self.runtime.sabotage(name, sabotage)
        return _json(start_response, "200 OK", {"function": name, "sabotage": None if sabotage is None else vars(sabotage)})

    def function_timeout(self, raw: bytes, start_response: StartResponse) -> list[bytes]:
        """``{"function": ..., "timeout_seconds": N}`` shortens its timeout; ``{"function": ..., "reset": true}`` restores it."""
        try:
            request = json.loads(raw or b"{}")
            name = self.runtime.function_named(str(request.get("function", "")))
            seconds = None if request.get("reset") else float(request["timeout_seconds"])
            if seconds is not None and not 1 <= seconds <= self.runtime.functions[name].timeout:
                raise ValueError(f"timeout_seconds must be from 1 to the template's {self.runtime.functions[name].timeout:g}")
        except (ValueError, TypeError, KeyError) as error:
            return _json(start_response, "400 Bad Request", {"message": str(error)}, "InvalidParameterValueException")
        self.runtime.set_timeout(name, seconds)
        return _json(start_response, "200 OK", {"function": name, "timeout_seconds": self.runtime.timeout_of(name)})

    def invoke(self, function: str, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        name = function.split(":")[6] if function.startswith("arn:") else function
        if name not in self.runtime.functions:
            return list(self.moto_app(environ, start_response))  # let moto report the unknown function
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        event = json.loads(raw) if raw.strip() else {}
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        headers = [
            ("Content-Type", "application/json"),
            ("X-Amz-Executed-Version", "$LATEST"),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        if invocation_type == "Event":
            threading.Thread(target=self._invoke_metered, args=(name, event), daemon=True).start()
            start_response("202 Accepted", headers + [("Content-Length", "0")])
            return [b""]
        if stopped := stopped_execution_of(event):
            # Step Functions invokes nothing for an execution once it is stopped.
            result = InvocationResult(False, {"errorType": "States.Runtime", "errorMessage": f"execution {stopped} was stopped"})
        else:
            result = self._invoke_metered(name, event)
        if not result.ok:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
        data = json.dumps(result.payload).encode()
        start_response("200 OK", headers + [("Content-Length", str(len(data)))])
        return [data]

    def _invoke_metered(self, name: str, event: Any) -> InvocationResult:
        started = time.monotonic()
        try:
            return self.runtime.invoke(name, event)
        finally:
            self.usage.record_invocation(name, self.runtime.functions[name].memory, (time.monotonic() - started) * 1000)


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def _rds_error(start_response: StartResponse, code: str, message: str, status: str = "404 Not Found") -> list[bytes]:
    body = (
        f'<ErrorResponse xmlns="{RDS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return _xml(start_response, status, body)


def _json(start_response: StartResponse, status: str, body: dict[str, Any], error_type: str | None = None) -> list[bytes]:
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("x-amzn-RequestId", str(uuid.uuid4()))]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    start_response(status, headers)
    return [data]


def _data_api_value(value: dict[str, Any]) -> Any:
    if value.get("isNull"):
        return None
    for key in ("longValue", "doubleValue", "stringValue", "booleanValue"):
        if key in value:
            return value[key]
    return None


def _data_api_field(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}
