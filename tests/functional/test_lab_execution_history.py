"""The lab's GetExecutionHistory (drillkit_lab.extensions.install_execution_history_pages) answers what moto answers,
in Step Functions' pages and without moto's serializer: the same events, the same details, the same timestamps."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws
from moto.core.config import default_user_config
from moto.stepfunctions.responses import StepFunctionResponse

from drillkit_lab import extensions

DEFINITION = {
    "StartAt": "Shape",
    "States": {
        "Shape": {"Type": "Pass", "Parameters": {"drill.$": "$.drill", "words": 'quotes " and unicode → é'}, "Next": "Pick"},
        "Pick": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.drill", "StringEquals": "d-1", "Next": "Done"}],
            "Default": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def test_the_labs_history_holds_motos_events_and_details_with_their_timestamps(monkeypatch: pytest.MonkeyPatch):
    # Given moto running executions, and the lab's GetExecutionHistory (both undone after the test)
    monkeypatch.setattr(StepFunctionResponse, "get_execution_history", StepFunctionResponse.get_execution_history)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    extensions.install_execution_history_pages()
    lab_answer = StepFunctionResponse.get_execution_history

    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="history", definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"drill": "d-1"}))["executionArn"]
        deadline = time.monotonic() + 10
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.02)

        # When the history is read through the lab, then through moto alone
        by_lab = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        monkeypatch.setattr(StepFunctionResponse, "get_execution_history", lab_answer.moto_answer)
        by_moto = sfn.get_execution_history(executionArn=arn)["events"]

    # Then they are the same events, details and timestamps (to the microsecond)
    assert len(by_moto) >= 6 and by_moto[0]["type"] == "ExecutionStarted" and by_moto[-1]["type"] == "ExecutionSucceeded"
    assert by_lab == by_moto
