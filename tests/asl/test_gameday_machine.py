"""statemachines/gameday.asl.json and its template resources: the promises the game-day makes, checked statically."""

from __future__ import annotations

import json
import re

from drillkit_lab import template as cfn

from ..conftest import ROOT

ASL = json.loads((ROOT / "statemachines" / "gameday.asl.json").read_text())
STATES = ASL["States"]
RESOURCES = cfn.load(ROOT / "template.yaml")["Resources"]
ITEM = STATES["RunDrills"]["ItemProcessor"]


def test_every_arn_comes_through_definition_substitutions():
    text = (ROOT / "statemachines" / "gameday.asl.json").read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    declared = set(RESOURCES["GameDayStateMachine"]["Properties"]["DefinitionSubstitutions"])
    assert used == declared == {"GameDayFunctionArn", "DrillStateMachineArn"}
    assert not re.search(r"arn:aws:(lambda|states):[a-z]", text)  # no literal function or machine ARN


def test_drills_run_through_the_drill_machine_and_wait_for_its_end():
    run = ITEM["States"]["RunDrill"]
    # .sync:2: a stopped game-day stops the drill in flight; the drill keeps its own safety net
    assert run["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert run["Parameters"]["StateMachineArn"] == "${DrillStateMachineArn}"
    assert run["Parameters"]["Name.$"] == "$.drill_id"  # the execution name is the drill id: unique, and found again
    assert [c["Next"] for c in run["Catch"]] == ["DrillDidNotFinish"]


def test_the_map_takes_concurrency_and_tolerated_failures_from_the_plan():
    runs = STATES["RunDrills"]
    assert runs["Type"] == "Map" and ITEM["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert runs["MaxConcurrencyPath"] == "$.prepared.gameday.max_concurrency"
    assert runs["ToleratedFailurePercentagePath"] == "$.prepared.gameday.tolerated_failure_percentage"
    # However the map ends, the report is written
    assert runs["Catch"][0]["ErrorEquals"] == ["States.ALL"] and runs["Catch"][0]["Next"] == "Report"
    assert STATES[runs["Next"]]["Next"] == "Report"


def test_failure_policy_stop_fails_the_item_and_continue_does_not():
    policy = ITEM["States"]["DrillDidNotPass"]
    [choice] = policy["Choices"]
    assert choice == {"Variable": "$.stop_on_failure", "BooleanEquals": True, "Next": "DrillFailed"}
    assert ITEM["States"]["DrillFailed"]["Type"] == "Fail"
    assert ITEM["States"][policy["Default"]].get("End") is True
    judged = ITEM["States"]["Judge"]["Choices"]
    assert judged == [{"Variable": "$.run.verdict", "StringEquals": "PASS", "Next": "DrillPassed"}]


def test_retries_only_transient_named_errors():
    for name, state in {**STATES, **ITEM["States"]}.items():
        for retry in state.get("Retry", []):
            assert not {"States.ALL", "States.TaskFailed"} & set(retry["ErrorEquals"]), name


def test_the_schedule_ships_disabled_and_targets_the_gameday_machine():
    schedule = RESOURCES["GameDaySchedule"]["Properties"]
    assert schedule["State"] == {"Ref": "GameDayScheduleState"}
    parameters = cfn.load(ROOT / "template.yaml")["Parameters"]
    assert parameters["GameDayScheduleState"]["Default"] == "DISABLED"
    assert schedule["Target"]["Arn"] == {"Ref": "GameDayStateMachine"}
    role = RESOURCES["GameDayScheduleRole"]["Properties"]
    [statement] = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["states:StartExecution"] and statement["Resource"] == {"Ref": "GameDayStateMachine"}
