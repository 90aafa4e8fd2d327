"""Step Functions execution status changes, delivered to the functions that template.yaml subscribes to them.

In AWS, Step Functions sends "Step Functions Execution Status Change" events to EventBridge and a rule
starts the safety net's state machine. moto has neither the events nor the routing, so the lab watches the
state machines' executions through the API and, for every EventBridgeRule in the template (on a function or
on a state machine) that matches the new status, invokes the function or starts an execution of the state
machine with the event AWS would send as its input.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DETAIL_TYPE = "Step Functions Execution Status Change"


FUNCTION, STATE_MACHINE = "function", "state_machine"


@dataclass(frozen=True)
class ExecutionRule:
    target: str  # a function's name, or a state machine's ARN
    state_machine_arns: frozenset[str]
    statuses: frozenset[str]
    target_kind: str = FUNCTION


def rules_from_template(stack: Any, state_machines: dict[str, str]) -> list[ExecutionRule]:
    """Every EventBridgeRule on Step Functions status changes, of a function or a state machine, with ARNs resolved."""
    targets = [
        *(
            (FUNCTION, stack.physical_name(logical_id), resource)
            for logical_id, resource in stack.of_type("AWS::Serverless::Function").items()
        ),
        *(
            (STATE_MACHINE, state_machines[logical_id], resource)
            for logical_id, resource in stack.of_type("AWS::Serverless::StateMachine").items()
        ),
    ]
    rules = []
    for kind, target, resource in targets:
        for event in resource.get("Properties", {}).get("Events", {}).values():
            pattern = event.get("Properties", {}).get("Pattern", {})
            if event.get("Type") != "EventBridgeRule" or "aws.states" not in pattern.get("source", []):
                continue
            if DETAIL_TYPE not in pattern.get("detail-type", [DETAIL_TYPE]):
                continue
            detail = pattern.get("detail", {})
            machines = [state_machines[m["Ref"]] if isinstance(m, dict) else m for m in detail.get("stateMachineArn", [])]
            rules.append(ExecutionRule(target, frozenset(machines), frozenset(detail.get("status", [])), kind))
    return rules


class ExecutionEvents:
    def __init__(self, session: Any, rules: list[ExecutionRule], invoke: Any, poll_seconds: float = 0.25):
        self.sfn = session.client("stepfunctions")
        self.rules = rules
        self.invoke = invoke  # (function name, event) -> None
        self.poll_seconds = poll_seconds
        self._seen: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="execution-events", daemon=True)

    def start(self) -> None:
        if self.rules:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        machines = sorted({arn for rule in self.rules for arn in rule.state_machine_arns})
        while not self._stop.wait(self.poll_seconds):
            for machine in machines:
                try:
                    executions = self.sfn.list_executions(stateMachineArn=machine)["executions"]
                except Exception:  # noqa: BLE001, S112 the local cloud is stopping; try again or stop
                    continue
                for execution in executions:
                    arn, status = execution["executionArn"], execution["status"]
                    before = self._seen.get(arn)
                    self._seen[arn] = status
                    if before is not None and before != status:
                        try:
                            self._deliver(machine, arn, status)
                        except Exception as error:  # noqa: BLE001 one failed delivery must not stop the others
                            print(f"lab: delivering {status} of {arn} failed: {error}", file=sys.stderr)

    def _deliver(self, machine: str, execution_arn: str, status: str) -> None:
        described = self.sfn.describe_execution(executionArn=execution_arn)
        detail = {
            "executionArn": execution_arn,
            "stateMachineArn": machine,
            "name": described["name"],
            "status": status,
            "startDate": int(described["startDate"].timestamp() * 1000),
            "stopDate": int(described["stopDate"].timestamp() * 1000) if described.get("stopDate") else None,
            "input": described.get("input"),
            "output": described.get("output"),
            "error": described.get("error"),
            "cause": described.get("cause"),
        }
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": DETAIL_TYPE,
            "source": "aws.states",
            "account": execution_arn.split(":")[4],
            "time": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": execution_arn.split(":")[3],
            "resources": [execution_arn],
            "detail": detail,
        }
        for rule in self.rules:
            if machine in rule.state_machine_arns and status in rule.statuses:
                # Asynchronous, as EventBridge invokes its targets; a state machine target gets the event as its input.
                if rule.target_kind == STATE_MACHINE:
                    # EventBridge names the execution itself; moto needs a name (it would name every one "None").
                    self.sfn.start_execution(stateMachineArn=rule.target, name=event["id"], input=json.dumps(event))
                else:
                    threading.Thread(target=self.invoke, args=(rule.target, event), daemon=True).start()


STOPPED_EXECUTIONS: set[str] = set()
# Executions a parent started through a .sync integration (startExecution.sync:2): parent ARN -> child ARNs.
SYNC_CHILDREN: dict[str, set[str]] = {}


def _execution(execution_arn: str) -> Any:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    account, region = execution_arn.split(":")[4], execution_arn.split(":")[3]
    backend = stepfunctions_parser_backends[account][region]
    for machine in backend.state_machines:
        for execution in machine.executions:
            if getattr(execution, "exec_arn", None) == execution_arn:
                return execution
    return None


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
            child = _execution(child_arn)
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
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    account, region = execution_arn.split(":")[4], execution_arn.split(":")[3]
    backend = stepfunctions_parser_backends[account][region]
    for machine in backend.state_machines:
        for execution in machine.executions:
            if getattr(execution, "exec_arn", None) == execution_arn and execution.exec_status == ExecutionStatus.RUNNING:
                cause = "The execution reached its TimeoutSeconds (the lab moved its clock)."
                execution.stop(datetime.now(tz=UTC), "States.Timeout", cause)
                execution.exec_status = ExecutionStatus.TIMED_OUT
                return True
    return False


def stopped_execution_of(event: Any) -> str | None:
    """The execution an invocation belongs to, when that execution was stopped (drill states carry its id)."""
    if not isinstance(event, dict):
        return None
    drill = event.get("drill")
    if not isinstance(drill, dict):
        drill = {}
    execution = drill.get("execution_id") or event.get("execution_id")
    return execution if execution in STOPPED_EXECUTIONS else None


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
