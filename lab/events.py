"""Step Functions execution status changes, delivered to the functions that template.yaml subscribes to them.

In AWS, Step Functions sends "Step Functions Execution Status Change" events to EventBridge and a rule
starts the safety net's state machine. moto has neither the events nor the routing, so the lab watches the
state machines' executions and, for every EventBridgeRule in the template (on a function or on a state machine)
that matches the new status, invokes the function or starts an execution of the state machine with the event
AWS would send as its input. It watches them in moto's backend (moto_backends.execution_statuses), as Step
Functions itself knows them: a ListExecutions per state machine four times a second cost the lab more CPU with
every drill it had run (each answer lists every execution ever started), about 2% of a core after a few drills.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections.abc import Callable
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
    def __init__(
        self,
        session: Any,
        rules: list[ExecutionRule],
        invoke: Any,
        statuses: Callable[[str], list[tuple[str, str]]],
        poll_seconds: float = 0.25,
    ):
        self.sfn = session.client("stepfunctions")
        self.rules = rules
        self.invoke = invoke  # (function name, event) -> None
        self.statuses = statuses  # state machine ARN -> [(execution ARN, status)]
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
                for arn, status in self.statuses(machine):
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


def stopped_execution_of(event: Any) -> str | None:
    """The execution an invocation belongs to, when that execution was stopped (drill states carry its id)."""
    if not isinstance(event, dict):
        return None
    drill = event.get("drill")
    if not isinstance(drill, dict):
        drill = {}
    execution = drill.get("execution_id") or event.get("execution_id")
    return execution if execution in STOPPED_EXECUTIONS else None
