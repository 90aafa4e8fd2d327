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

And every patch the lab makes to moto itself (install_moto_patches and install_step_functions_patches, at the end
of this module): Step Functions execution on, StopExecution and TimeoutSeconds as AWS ends an execution,
DescribeAlarmHistory, DescribeTargetHealth from the ALB's own checks, deregistration draining,
DescribeGlobalClusters showing the database physics, EC2's catalogues trimmed to the lab's regions, DynamoDB global
tables (ReplicaUpdates, Replicas, writes replicated) and S3 replication (ReplicationStatus, replicas, the stored
rule as GetBucketReplication answers it). No other module of the lab changes moto.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from drillkit_lab import change_calendar, moto_backends
from drillkit_lab.events import STOPPED_EXECUTIONS, stopped_execution_of
from drillkit_lab.lambda_runtime import InvocationResult, LambdaRuntime, Sabotage
from drillkit_lab.physics import replication
from drillkit_lab.physics.alarms import HISTORY
from drillkit_lab.physics.alb import BY_TARGET_GROUP, Draining, _record_drain, deregistration_delay, draining_targets, is_lambda
from drillkit_lab.physics.database import (
    BY_GLOBAL_CLUSTER,
    ClusterNotEligible,
    DatabaseUnavailable,
    GlobalClusterBusy,
    GlobalDatabase,
)
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
        # A service's signing name -> whom to tell after each call to it that moto answered and that may have changed
        # its state: the parts of the lab that follow a service's state sleep until then (physics/looks.py).
        self._watchers: dict[str, list[Callable[[], None]]] = {}
        self.usage = UsageMeter()
        self.calendars = change_calendar.ChangeCalendars()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        call = self.usage.record_request(environ)
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
        moto_answer = self.moto_app(environ, start_response)
        if call is not None and call.may_change_state:
            for tell in self._watchers.get(call.service, ()):
                tell()  # after moto made the change: what it reads now is the new state
        return moto_answer

    def watch(self, services: tuple[str, ...], tell: Callable[[], None]) -> None:
        """Call ``tell`` after each call to these services (signing names) that may have changed their state."""
        for service in services:
            self._watchers.setdefault(service, []).append(tell)

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
        result: InvocationResult | None = None
        try:
            result = self.runtime.invoke(name, event)
            return result
        finally:
            used = result.max_memory_used_mb if result is not None else None
            self.usage.record_invocation(name, self.runtime.functions[name].memory, (time.monotonic() - started) * 1000, used)


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


# == every patch the lab makes to moto ========================================================================
# moto is the local cloud; where it lacks an API or behaves unlike AWS, the lab changes it here and nowhere else.
# Each patch is installed once per process (install_moto_patches), before the local cloud serves; Step Functions'
# (install_step_functions_patches) before its first Step Functions request.


def skip_public_amis() -> None:
    """moto fills each region's EC2 backend with its catalogue of public AMIs when an account opens (seconds and
    memory); the lab's stacks register the images they launch. Unless whoever runs moto asked for the catalogue."""
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def install_moto_patches(regions: set[str]) -> None:
    """Every change the lab makes to moto's models and responses but Step Functions'; call before moto's EC2 models
    are imported."""
    skip_public_amis()
    share_botocore_loader()
    remember_backends_by_host()
    serialize_dynamodb_items_as_json()
    trim_instance_type_offerings(regions)
    install_describe_alarm_history()
    install_describe_target_health()
    install_target_draining()
    install_global_cluster_state()
    install_global_tables()
    install_s3_replication()
    install_acm_validation()
    install_lambda_vpc_id()


def install_step_functions_patches() -> None:
    """Step Functions as AWS runs it: executions on, StopExecution and .sync children, tolerated failures.

    Apart from the others because it imports moto's Step Functions interpreter (and, through it, Batch): the lab
    installs it once its stack is up, while the Route 53 checkers settle, before template.yaml's state machines.
    """
    enable_step_functions_execution()
    install_stop_at_once()
    install_sync_execution()
    install_tolerated_failures()
    install_execution_history_pages()


HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX = 100, 1000  # GetExecutionHistory's maxResults: default and largest allowed
_EXECUTION_DATA = ("input", "output")  # what includeExecutionData=false leaves out of each event's details


def install_execution_history_pages() -> None:
    """GetExecutionHistory as Step Functions answers it: pages of ``maxResults`` events (100 unless asked, at most
    1000) with a ``nextToken``, newest first with ``reverseOrder``, and without the events' input and output when
    ``includeExecutionData`` is false. moto answers every event with its data in one page: a follower polling an
    execution twice a second was sent its whole history each time (a quarter of a megabyte by a drill's end), and a
    reader that did not page would have passed in the lab and missed events in AWS."""
    from moto.stepfunctions.exceptions import InvalidToken, ValidationException
    from moto.stepfunctions.responses import StepFunctionResponse

    if getattr(StepFunctionResponse.get_execution_history, "_lab", False):
        return
    moto_answer = StepFunctionResponse.get_execution_history  # every event, with its data, in one page

    def get_execution_history(self: Any) -> Any:
        from moto.core.responses import ActionResult

        events = list(moto_answer(self).result["events"])
        size = self._get_int_param("maxResults") or HISTORY_PAGE_DEFAULT
        if not 0 < size <= HISTORY_PAGE_MAX:
            raise ValidationException(
                f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy "
                f"constraint: Member must have value less than or equal to {HISTORY_PAGE_MAX}"
            )
        if str(self._get_param("reverseOrder")).lower() == "true":
            events.reverse()
        if str(self._get_param("includeExecutionData", True)).lower() == "false":
            events = [_without_execution_data(event) for event in events]
        token = self._get_param("nextToken")
        start = 0
        if token:
            if not (token.startswith("lab-history-") and token[12:].isdigit()):
                raise InvalidToken(f"{token} is not a token this call gave")
            start = int(token[12:])
        page: dict[str, Any] = {"events": events[start : start + size]}
        if start + size < len(events):
            page["nextToken"] = f"lab-history-{start + size}"
        # Written as DynamoDB's plain answers are (serialize_dynamodb_items_as_json): moto's serializer visits each of
        # a history event's sixty members for every event, 40 ms for a page of fifty. moto keeps the events as JSON
        # (timestamps already ISO 8601 strings); anything else goes through its serializer.
        try:
            body = json.dumps(page, separators=(",", ":"))
        except TypeError:
            return ActionResult(page)
        status, headers, _ = self.serialized(ActionResult({"events": []}))
        return status, headers, body

    get_execution_history._lab = True  # type: ignore[attr-defined]
    get_execution_history.moto_answer = moto_answer  # type: ignore[attr-defined]  # the equivalence test compares with it
    StepFunctionResponse.get_execution_history = get_execution_history


def _without_execution_data(event: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {k: v for k, v in value.items() if k not in _EXECUTION_DATA}
        if key.endswith("EventDetails") and isinstance(value, dict)
        else value
        for key, value in event.items()
    }


def install_lambda_vpc_id() -> None:
    """GetFunctionConfiguration's VpcConfig.VpcId is the VPC of the function's subnets, as in Lambda (moto answers a
    fixed placeholder id)."""
    from moto.awslambda.models import LambdaFunction
    from moto.ec2.models import ec2_backends

    def vpc_config(self: Any) -> dict[str, Any] | None:
        config = dict(self._vpc_config or {})
        if not config:
            return None
        subnets = list(config.get("SubnetIds") or [])
        if subnets:
            subnet = ec2_backends[self.account_id][self.region].get_subnet(subnets[0])
            config["VpcId"] = subnet.vpc_id
        return config

    LambdaFunction.vpc_config = property(vpc_config)


def install_acm_validation() -> None:
    """ACM validates a DNS-validated certificate only once its validation CNAME answers; the lab creates none, so a
    requested certificate stays PENDING_VALIDATION (moto would mark it ISSUED after 60 s)."""
    from moto import settings

    settings.ACM_VALIDATION_WAIT = 10**9


def quiet_request_handler() -> Any:
    """moto's request handler without its access log line per request."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietRequestHandler(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return

    return QuietRequestHandler


def enable_step_functions_execution() -> None:
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True


def share_botocore_loader() -> None:
    """One botocore data loader for every session of the process: each service's API model is parsed once.

    moto builds each backend from a fresh boto3 Session (three more while importing EC2) and asks it for the
    service's regions, which parses the service's whole API model (EC2's: six times, about 1.5 s of the lab's
    start on this machine); mock_aws drops boto3's default session at every start, so each test that opens an
    account parses again every model its clients use. The models are botocore's installed data files, the same
    for every session; a loader caches what it parsed, so sharing one shares the parse.

    moto reads the same models once more, with its own extras, through a loader of its own that it creates anew
    for each service it parses requests for; each new loader lists botocore's four hundred service directories
    again (20 to 50 ms each, a few tenths of a second of each lab start). One moto loader per process: the same
    models, listed once.
    """
    import botocore.loaders
    import botocore.session
    import moto.core.loaders
    import moto.core.utils

    if getattr(botocore.session.create_loader, "_lab", False):
        return
    moto_loader = moto.core.loaders.create_loader()
    moto.core.utils.create_loader = lambda: moto_loader
    loaders: dict[str | None, botocore.loaders.Loader] = {}
    create = botocore.loaders.create_loader

    def create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    create_loader._lab = True  # type: ignore[attr-defined]
    botocore.session.create_loader = create_loader


def remember_backends_by_host() -> None:
    """Which moto backend answers a host, worked out once per host.

    moto's server asks it of every request, under one lock for all of them: it lists moto's package directory
    (two hundred entries, a stat each) and tries its URL patterns in turn, 0.7 ms a request, about 0.35 s of the
    lab's CPU in each drill. The answer depends on the host name alone and on what moto has installed.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication.get_backend_for_host, "_lab", False):
        return
    look_up = DomainDispatcherApplication.get_backend_for_host
    backends: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in backends:
            backends[host] = look_up(self, host)
        return backends[host]

    get_backend_for_host._lab = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host


_BINARY_TYPES = frozenset({"B", "BS"})


def _plain_json(value: Any) -> bool:
    """Only JSON's own types all the way down, and no binary attribute (the one a serializer would still encode)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and k not in _BINARY_TYPES and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


def serialize_dynamodb_items_as_json() -> None:
    """DynamoDB's answers written with json.dumps when they are plain JSON already, as moto's items are.

    moto 5.2 writes every answer through a generic serializer that walks the operation's output shape node by node;
    a DynamoDB item is a tree of attribute values (a drill record: a thousand nodes), and a GetItem of one took
    20 ms of the lab's CPU, a follower reading it twice a second. DynamoDB speaks JSON and moto keeps items in its
    wire form, so for an answer of JSON types only, with only the output's own members, json.dumps writes the same
    document; anything else (a binary attribute, a timestamp, a pagination, an error) goes through moto's serializer
    as before. tests/functional/test_lab_dynamodb_json.py compares the two answers operation by operation.
    """
    from moto.core.responses import ActionResult, get_service_model
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.serialized, "_lab", False):
        return
    original = DynamoHandler.serialized
    output_members: dict[str, frozenset[str]] = {}

    def serialized(self: Any, action_result: Any) -> Any:
        # ActionResult and DynamoResult (items already turned into dicts) serialize as they are; a PaginatedResult does not.
        plain_result = type(action_result).execute_result is ActionResult.execute_result
        result = action_result.result if plain_result else None
        if isinstance(result, dict) and _plain_json(result):
            action = self._get_action()
            if action not in output_members:
                output = get_service_model(self.boto3_service_name).operation_model(action).output_shape
                output_members[action] = frozenset(output.members if output is not None else ())
            if all(key in output_members[action] for key in result):
                status, headers, _ = original(self, ActionResult({}))  # the status and headers moto gives this operation
                return status, headers, json.dumps({k: v for k, v in result.items() if v is not None}, separators=(",", ":"))
        return original(self, action_result)

    serialized._lab = True  # type: ignore[attr-defined]
    serialized.moto_serialized = original  # type: ignore[attr-defined]  # the equivalence test compares with it
    DynamoHandler.serialized = serialized


def trim_instance_type_offerings(regions: set[str]) -> None:
    """Load moto's EC2 instance-type offerings only for the lab's regions (about 40 MB less).

    Must run before moto's EC2 models are imported; describe_instance_type_offerings for other
    regions then answers empty, which no drill asks for.
    """
    import moto.utilities.utils as moto_utils

    if getattr(moto_utils.load_resource, "_lab", False):
        return
    original = moto_utils.load_resource

    def load_resource(path: str, *args: Any, **kwargs: Any) -> Any:
        if "instance_type_offerings" in path and not any(f"/{region}." in path for region in regions):
            return []
        return original(path, *args, **kwargs)

    load_resource._lab = True  # type: ignore[attr-defined]
    moto_utils.load_resource = load_resource


# Executions a parent started through a .sync integration (startExecution.sync:2): parent ARN -> child ARNs.
SYNC_CHILDREN: dict[str, set[str]] = {}


def install_stop_at_once() -> None:
    """StopExecution as AWS does it: ABORTED at once, and no state of the execution runs after it.

    moto's interpreter only notices a stop once the task in flight returns, and may then carry on into
    the Catch path; in AWS the execution is ABORTED at the stop and invokes nothing more (a Lambda
    already running finishes on its own, its result unused). The lab marks it ABORTED at the stop,
    keeps it so, and refuses the stopped execution's later invocations (see LabExtensions.invoke).
    """
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

    if getattr(Execution.stop, "_lab", False):
        return
    original_stop, original_reflect = Execution.stop, BaseExecutionWorkerCommunication._reflect_execution_status

    def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        original_stop(self, stop_date, error, cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            STOPPED_EXECUTIONS.add(self.exec_arn)
            self.exec_status, self.stop_date, self.error, self.cause = ExecutionStatus.ABORTED, stop_date, error, cause
        # AWS stops the executions a stopped execution started through .sync integrations (a game-day's drills).
        for child_arn in sorted(SYNC_CHILDREN.pop(self.exec_arn, set())):
            child = moto_backends.execution(child_arn)
            if child is not None and child.exec_status == ExecutionStatus.RUNNING:
                child.stop(stop_date, "States.Aborted", f"Its parent execution {self.exec_arn} was stopped.")

    def reflect(self: Any) -> None:
        if self.execution.exec_arn not in STOPPED_EXECUTIONS:
            original_reflect(self)

    stop._lab = True  # type: ignore[attr-defined]
    Execution.stop = stop
    BaseExecutionWorkerCommunication._reflect_execution_status = reflect


def time_out(execution_arn: str) -> bool:
    """End a running execution TIMED_OUT now, as Step Functions does when it reaches its TimeoutSeconds.

    The drill machine's limit is 2 hours; the lab test of that guardrail moves the clock instead of waiting.
    """
    from moto.stepfunctions.parser.api import ExecutionStatus

    execution = moto_backends.execution(execution_arn)
    if execution is None or execution.exec_status != ExecutionStatus.RUNNING:
        return False
    cause = "The execution reached its TimeoutSeconds (the lab moved its clock)."
    execution.stop(datetime.now(tz=UTC), "States.Timeout", cause)
    execution.exec_status = ExecutionStatus.TIMED_OUT
    return True


def install_describe_alarm_history() -> None:
    """Teach moto's CloudWatch DescribeAlarmHistory, answered from HISTORY in its own wire format."""
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    def describe_alarm_history(self: Any) -> Any:
        name = self._get_param("AlarmName")
        kind = self._get_param("HistoryItemType")
        items = [
            i for i in HISTORY[self.region] if (not name or i["AlarmName"] == name) and (not kind or i["HistoryItemType"] == kind)
        ]
        newest_first = sorted(items, key=lambda i: i["Timestamp"], reverse=True)
        return ActionResult({"AlarmHistoryItems": newest_first[: int(self._get_param("MaxRecords") or 100)]})

    CloudWatchResponse.describe_alarm_history = describe_alarm_history


def install_describe_target_health() -> None:
    """DescribeTargetHealth answers from the ALB's own health checks instead of moto's constant 'healthy'."""
    from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

    original = FakeTargetGroup.health_for
    if getattr(original, "_lab", False):
        return

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        drain = draining_targets(self).get(target["Id"])
        if target["Id"] not in self.targets and drain is not None and drain.until > time.time():
            return FakeHealthStatus(
                target["Id"],
                drain.target.get("Port", self.port),
                self.health_check_port,
                "draining",
                "Target.DeregistrationInProgress",
                "Target deregistration is in progress",
            )
        status = original(self, target, ec2_backend)
        physics = BY_TARGET_GROUP.get(self.arn)
        if physics is None or status.status != "healthy":
            return status
        port = 0 if is_lambda(status.instance_id) else int(status.port)
        state = physics.targets.get(f"{status.instance_id}:{port}")
        if state is None or state.healthy is None:
            if is_lambda(status.instance_id):
                return FakeHealthStatus(
                    status.instance_id, status.port, None, "unavailable", "Target.HealthCheckDisabled", "Health checks disabled"
                )
            return FakeHealthStatus(
                status.instance_id,
                status.port,
                status.health_check_port,
                "initial",
                "Elb.InitialHealthChecking",
                "Initial health checks in progress",
            )
        if state.healthy:
            return status
        return FakeHealthStatus(
            status.instance_id,
            status.port,
            status.health_check_port,
            "unhealthy",
            state.reason,
            state.description,
        )

    health_for._lab = True  # type: ignore[attr-defined]
    FakeTargetGroup.health_for = health_for


def install_target_draining() -> None:
    """DeregisterTargets starts a drain instead of forgetting the target; RegisterTargets ends it.

    Only the API path drains: the lab's ECS physics deregisters a stopping task itself and skips the
    delay (docs/lab.md, ECS). DescribeTargetHealth without a target list lists draining targets too.
    """
    from moto.elbv2.models import ELBv2Backend, FakeTargetGroup

    if getattr(ELBv2Backend.deregister_targets, "_lab", False):
        return
    original_deregister = ELBv2Backend.deregister_targets
    original_register = FakeTargetGroup.register
    original_describe = ELBv2Backend.describe_target_health

    def deregister_targets(self: Any, target_group_arn: str, instances: list[dict[str, Any]]) -> None:
        group = self.target_groups.get(target_group_arn)
        drains = draining_targets(group) if group is not None else {}
        # Deregistering a target that is already draining changes nothing (AWS accepts the call); the
        # rest, unknown targets included, are moto's to deregister or refuse.
        already_draining = {t["Id"] for t in instances if t["Id"] in drains and t["Id"] not in group.targets}
        registered = [t for t in instances if t["Id"] not in already_draining]
        if registered or not instances:
            original_deregister(self, target_group_arn, registered)
        delay = deregistration_delay(group) if group is not None else 0.0
        if delay <= 0:
            return
        until = time.time() + delay
        for target in registered:
            removed = group.deregistered_targets.get(target["Id"], target)
            drains[target["Id"]] = Draining({"Id": removed["Id"], "Port": removed.get("Port", group.port)}, until)
            _record_drain(group, drains[target["Id"]].target, True, "deregistered", seconds=delay)

    def register(self: Any, targets: list[dict[str, Any]]) -> None:
        newly = [t for t in targets if t["Id"] not in self.targets]  # registering a registered target changes nothing
        original_register(self, targets)
        drains = draining_targets(self)
        physics = BY_TARGET_GROUP.get(self.arn)
        for target in newly:
            ended = drains.pop(target["Id"], None)
            if ended is not None:
                _record_drain(self, ended.target, False, "registered again")
            if physics is not None:
                # A target registered (again) starts in `initial`: its earlier health counts for nothing.
                port = 0 if is_lambda(target["Id"]) else int(target.get("Port") or self.port)
                physics.targets.pop(f"{target['Id']}:{port}", None)

    def describe_target_health(self: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> list[Any]:
        group = self.target_groups.get(target_group_arn)
        if not targets and group is not None:
            now = time.time()
            drains = [d.target for i, d in list(draining_targets(group).items()) if d.until > now and i not in group.targets]
            targets = [*group.targets.values(), *drains]
        return original_describe(self, target_group_arn, targets)

    deregister_targets._lab = True  # type: ignore[attr-defined]
    ELBv2Backend.deregister_targets = deregister_targets
    FakeTargetGroup.register = register
    ELBv2Backend.describe_target_health = describe_target_health


def install_global_cluster_state() -> None:
    """DescribeGlobalClusters shows the physics: FailoverState during an operation, each member's role and sync."""
    from moto.rds.models import GlobalCluster

    original = GlobalCluster.global_cluster_members.fget
    if getattr(original, "_lab", False):
        return

    def physics_of(global_cluster: Any) -> GlobalDatabase | None:
        return BY_GLOBAL_CLUSTER.get(str(global_cluster.global_cluster_identifier).lower())

    def global_cluster_members(self: Any) -> list[dict[str, Any]]:
        members = original(self)
        physics = physics_of(self)
        if physics is None:
            return members
        for member in members:
            member.update(physics.member_view(member["DBClusterArn"]) or {})
        writer_readers = [m["DBClusterArn"] for m in members if not m["IsWriter"]]
        for member in members:
            member["Readers"] = writer_readers if member["IsWriter"] else []
        return members

    def failover_state(self: Any) -> dict[str, Any] | None:
        physics = physics_of(self)
        return None if physics is None else physics.failover_state()

    global_cluster_members._lab = True  # type: ignore[attr-defined]
    GlobalCluster.global_cluster_members = property(global_cluster_members)
    GlobalCluster.failover_state = property(failover_state)


def _pascal(key: str) -> str:
    return key[:1].upper() + key[1:]


def _epoch_millis(value: Any) -> Any:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else value


def install_sync_execution() -> None:
    """`arn:aws:states:::states:startExecution(.sync:2)` as AWS runs it: the game-day machine starts its drills so.

    moto's interpreter hands the ASL's parameters (StateMachineArn, Name, Input) to boto3 unchanged, which wants
    stateMachineArn, name and input, and returns boto3's keys (executionArn, status, output) where AWS's task
    result says ExecutionArn, Status and Output (dates as epoch milliseconds). The lab renames both ways.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    if getattr(StateTaskServiceSfn._normalise_parameters, "_lab", False):
        return
    original_parameters = StateTaskServiceSfn._normalise_parameters
    original_task = StateTaskServiceSfn._eval_service_task
    original_response = StateTaskServiceSfn._normalise_response

    def normalise_parameters(
        self: Any, parameters: dict[str, Any], boto_service_name: str | None = None, service_action_name: str | None = None
    ) -> None:
        original_parameters(self, parameters, boto_service_name, service_action_name)
        if service_action_name is None:
            renamed = {key[:1].lower() + key[1:]: value for key, value in parameters.items()}
            parameters.clear()
            parameters.update(renamed)

    def as_aws(response: Any) -> None:
        if isinstance(response, dict):
            renamed = {_pascal(key): _epoch_millis(value) for key, value in response.items()}
            response.clear()
            response.update(renamed)

    def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        original_task(self, env, *args, **kwargs)
        as_aws(env.stack[-1])
        started = env.stack[-1].get("ExecutionArn") if isinstance(env.stack[-1], dict) else None
        if started and str(self.resource.condition or "").startswith("sync"):
            # A .sync integration: stopping the parent stops this child (see install_stop_at_once).
            parent = env.states.context_object.context_object_data["Execution"]["Id"]
            SYNC_CHILDREN.setdefault(parent, set()).add(started)

    def normalise_response(
        self: Any, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None
    ) -> None:
        original_response(self, response, boto_service_name, service_action_name)
        as_aws(response)

    normalise_parameters._lab = True  # type: ignore[attr-defined]
    StateTaskServiceSfn._normalise_parameters = normalise_parameters
    StateTaskServiceSfn._eval_service_task = eval_service_task
    StateTaskServiceSfn._normalise_response = normalise_response


def install_tolerated_failures() -> None:
    """A Distributed Map's map run fails as in AWS once failed items exceed its tolerated failure count or percentage.

    moto counts failed items but goes on with the rest and succeeds ("ToleratedFailurePercentagePath declarations
    currently have no effect"). AWS fails the map run with States.ExceedToleratedFailureThreshold as soon as the
    failed items exceed ToleratedFailureCount or ToleratedFailurePercentage (of all items; both default to 0) and
    starts no further item: a game-day whose failure policy is stop starts no drill after the failed one.
    """
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
        DistributedItemProcessorWorker,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    if getattr(DistributedItemProcessorWorker._eval_job, "_lab", False):
        return
    original = DistributedItemProcessorWorker._eval_job

    def eval_job(self: Any, env: Any, job: Any) -> None:
        record = self._map_run_record
        failed_before = record.item_counter.failed.get() + record.item_counter.timed_out.get()
        original(self, env, job)
        failed = record.item_counter.failed.get() + record.item_counter.timed_out.get()
        if failed == failed_before:
            return
        total = self._job_pool._jobs_number or 1
        count_limit = record.tolerated_failure_count or 0
        percentage_limit = record.tolerated_failure_percentage or 0.0
        if failed > count_limit and failed * 100.0 / total > percentage_limit:
            cause = (
                f"The number of failed items ({failed} of {total}) exceeds the tolerated failure threshold "
                f"(count {count_limit}, percentage {percentage_limit:g})."
            )
            job.job_output = FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=EventDetails(
                        mapRunFailedEventDetails=MapRunFailedEventDetails(
                            error="States.ExceedToleratedFailureThreshold", cause=cause
                        )
                    ),
                )
            )

    eval_job._lab = True  # type: ignore[attr-defined]
    DistributedItemProcessorWorker._eval_job = eval_job


def install_global_tables() -> None:
    """DynamoDB global tables (2019.11.21): UpdateTable ReplicaUpdates, Replicas in DescribeTable, writes replicated.

    moto ignores ReplicaUpdates and never copies a write; the lab's replication physics (physics/replication.py)
    keeps the replica groups and carries each write to the other replicas after the table's lag.
    """
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.update_table, "_lab", False):
        return
    original_update_table, original_describe = DynamoHandler.update_table, Table.describe

    def update_table(self: Any) -> Any:
        physics = replication.CURRENT[0]
        updates = self.body.get("ReplicaUpdates") or []
        if physics is not None and updates:
            table = self.dynamodb_backend.get_table(self.body["TableName"])
            for update in updates:
                _replica_update(physics.tables, table.name, self.dynamodb_backend.region_name, update, MockValidationException)
        return original_update_table(self)

    def describe(self: Any, base_key: str = "TableDescription") -> dict[str, Any]:
        result: dict[str, Any] = original_describe(self, base_key)
        physics = replication.CURRENT[0]
        others = physics.tables.replicas(self.name, self.region_name) if physics is not None else None
        if others is not None:
            result[base_key]["GlobalTableVersion"] = replication.GLOBAL_TABLE_VERSION
            result[base_key]["Replicas"] = [{"RegionName": region, "ReplicaStatus": "ACTIVE"} for region in others]
        return result

    update_table._lab = True  # type: ignore[attr-defined]
    DynamoHandler.update_table = update_table
    Table.describe = describe
    for name, key_of in (
        ("put_item", lambda args, kwargs: kwargs.get("item_attrs", args[1] if len(args) > 1 else {})),
        ("update_item", lambda args, kwargs: kwargs.get("key", args[1] if len(args) > 1 else {})),
        ("delete_item", lambda args, kwargs: kwargs.get("key", args[1] if len(args) > 1 else {})),
    ):
        setattr(DynamoDBBackend, name, _replicated_write(getattr(DynamoDBBackend, name), key_of))
    original_transact, original_delete_table = DynamoDBBackend.transact_write_items, DynamoDBBackend.delete_table

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        original_transact(self, transact_items)  # all or nothing: replicated only once every item is applied
        if (physics := replication.CURRENT[0]) is None:
            return
        for operation in transact_items:
            kind, request = next(iter(operation.items()))
            if kind in ("Put", "Update", "Delete"):
                table = self.get_table(request["TableName"])
                attributes = request["Item"] if kind == "Put" else request["Key"]
                key = {name: attributes[name] for name in table.table_key_attrs if name in attributes}
                physics.tables.written(self.region_name, table.name, key)

    def delete_table(self: Any, name: str) -> Any:
        table = original_delete_table(self, name)
        if (physics := replication.CURRENT[0]) is not None:
            physics.tables.table_deleted(table.name, self.region_name)
        return table

    DynamoDBBackend.transact_write_items = transact_write_items
    DynamoDBBackend.delete_table = delete_table


def _replica_update(tables: replication.GlobalTables, table: str, region: str, update: dict[str, Any], invalid: Any) -> None:
    """One ReplicaUpdates entry, refused as DynamoDB refuses it (ValidationException)."""
    current = tables.replicas(table, region) or []
    if "Create" in update:
        new_region = update["Create"]["RegionName"]
        if new_region == region or new_region in current:
            raise invalid(
                f"Failed to create a the new replica of table with name: '{table}' because one or more replicas "
                "already existed as tables."
            )
        tables.add_replica(table, region, new_region)
    elif "Delete" in update:
        gone = update["Delete"]["RegionName"]
        if gone not in current and gone != region:
            raise invalid(f"Failed to remove replica from table '{table}': region {gone} is not a replica of the table.")
        tables.remove_replica(table, gone)


def _replicated_write(original: Callable[..., Any], key_of: Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]) -> Any:
    """A DynamoDB backend write that, once applied, is on its way to the table's other replicas."""

    def write(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        physics = replication.CURRENT[0]
        if physics is not None:
            backend, table_name = args[0], kwargs.get("table_name", args[1] if len(args) > 1 else "")
            if not isinstance(table_name, str):
                return result
            table = backend.get_table(table_name)
            attributes = key_of(args[1:], kwargs)
            key = {name: attributes[name] for name in table.table_key_attrs if name in attributes}
            physics.tables.written(backend.region_name, table.name, key)
        return result

    return write


def install_s3_replication() -> None:
    """S3 replication: x-amz-replication-status, replicas in the destination, GetBucketReplication as stored.

    moto stores a replication configuration and does nothing with it (and answers GetBucketReplication with an
    empty filter prefix whatever the rule said); the lab's physics replicates, and the configuration reads back.
    """
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import FakeKey, S3Backend
    from moto.s3.responses import S3Response

    if getattr(S3Backend.put_object, "_lab", False):
        return

    class DestinationNotVersioned(S3ClientError):
        code = "InvalidRequest"

        def __init__(self) -> None:
            super().__init__("InvalidRequest", "Destination bucket must have versioning enabled.")

    original_put, original_delete = S3Backend.put_object, S3Backend.delete_object
    original_put_replication = S3Backend.put_bucket_replication
    original_response_dict = FakeKey.response_dict.fget

    def put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        key = original_put(self, bucket_name, key_name, *args, **kwargs)
        if (physics := replication.CURRENT[0]) is not None:
            physics.buckets.object_written(bucket_name, key)
        return key

    def delete_object(self: Any, bucket_name: str, key_name: str, version_id: str | None = None, bypass: bool = False) -> Any:
        versioned = self.get_bucket(bucket_name).is_versioned
        result = original_delete(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        if versioned and version_id is None and (physics := replication.CURRENT[0]) is not None:
            physics.buckets.delete_marker_written(bucket_name, key_name)
        return result

    def put_bucket_replication(self: Any, bucket_name: str, configuration: dict[str, Any]) -> None:
        rules = configuration.get("Rule") or []
        for raw in [rules] if isinstance(rules, dict) else rules:
            destination = replication.Rule.parse(raw).destination
            if destination not in self.buckets or not self.buckets[destination].is_versioned:
                raise DestinationNotVersioned()
        original_put_replication(self, bucket_name, configuration)

    def response_dict(self: Any) -> dict[str, Any]:
        headers: dict[str, Any] = original_response_dict(self)
        status = getattr(self, "lab_replication_status", None)
        if status is not None:
            headers["x-amz-replication-status"] = status
        return headers

    put_object._lab = True  # type: ignore[attr-defined]
    S3Backend.put_object = put_object
    S3Backend.delete_object = delete_object
    S3Backend.put_bucket_replication = put_bucket_replication
    FakeKey.response_dict = property(response_dict)
    S3Response.get_bucket_replication = _get_bucket_replication


def _get_bucket_replication(self: Any) -> Any:
    """GetBucketReplication with each rule as it was put: its filter, status and delete marker replication."""
    from moto.core.responses import ActionResult
    from moto.s3.exceptions import ReplicationConfigurationNotFoundError

    self.data["Action"] = "GetBucketReplication"
    configuration = self.backend.get_bucket_replication(self.bucket_name)
    if not configuration:
        raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
    role, _ = replication.rules_of(self.backend.get_bucket(self.bucket_name))
    raw_rules = configuration["Rule"]
    rules = []
    for raw in [raw_rules] if isinstance(raw_rules, dict) else raw_rules:
        rule = {k: v for k, v in raw.items() if k not in ("Priority", "Filter", "Prefix")}
        rule["Priority"] = int(raw.get("Priority") or 0)
        if "Filter" in raw:
            filter_ = raw["Filter"] or {}
            rule["Filter"] = {**filter_, "Prefix": filter_["Prefix"] or ""} if "Prefix" in filter_ else filter_
        elif "Prefix" in raw:
            rule["Prefix"] = raw["Prefix"] or ""
        rules.append(rule)
    return self.serialized(ActionResult({"ReplicationConfiguration": {"Role": role, "Rules": rules}}))
