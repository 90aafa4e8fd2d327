"""Game-day plans are validated like scenarios: every problem is reported with the field that has it, all at once."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from drillkit.gameday.client import load_plan, resolved
from drillkit.gameday.plan import GameDayInvalid, parse_plan
from drillkit.gameday.run import GAMEDAY_ID_PATTERN, drill_id_of, drill_items, new_gameday_id, parse_gameday_request
from drillkit.spec import DRILL_ID_PATTERN

from ..conftest import DEMO_SCENARIO


@pytest.fixture
def plan_dict(scenario_dict) -> dict:
    other = copy.deepcopy(scenario_dict)
    other["target"] = {**other["target"], "hosted_zone": "example.com.", "record_name": "api.example.com."}
    return {
        "name": "q4-gameday",
        "pause_seconds": 5,
        "failure_policy": "stop",
        "environments": {"eu": {"target": other["target"]}},
        "drills": [{"scenario": scenario_dict}, {"scenario": scenario_dict, "environment": "eu"}],
    }


def problems_of(payload) -> list[tuple[str, str]]:
    with pytest.raises(GameDayInvalid) as raised:
        parse_plan(payload)
    return raised.value.problems


def test_a_valid_plan_keeps_order_policy_and_environments(plan_dict):
    # Given a plan of two drills, the second on a named environment
    plan = parse_plan(plan_dict)
    # Then the drills keep their order and the second runs on the environment's target
    assert [plan.environment_label(i) for i in range(2)] == ["app.drillkit.lab", "eu"]
    assert plan.scenario_of(1).target.record_name == "api.example.com."
    assert plan.scenario_of(0).target.record_name == "app.drillkit.lab."
    assert (plan.failure_policy, plan.max_concurrency, plan.pause_seconds) == ("stop", 1, 5)


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"name": "Q4 Game Day!"}, "name", "should match pattern"),
        ({"drills": []}, "drills", "at least 1 item"),
        ({"pause_seconds": -1}, "pause_seconds", "greater than or equal to 0"),
        ({"pause_seconds": 7200}, "pause_seconds", "less than or equal to 3600"),
        ({"failure_policy": "retry"}, "failure_policy", "'stop' or 'continue'"),
        ({"max_concurrency": 0}, "max_concurrency", "greater than or equal to 1"),
        ({"tolerated_failure_percentage": 150}, "tolerated_failure_percentage", "less than or equal to 100"),
        ({"change_calendar": "no spaces allowed"}, "change_calendar", "should match pattern"),
        ({"pause": 5}, "pause", "unknown field"),
        (
            {"environments": {"EU West": {"target": {"hosted_zone": "example.com.", "record_name": "a.example.com."}}}},
            "environments",
            "must be lowercase",
        ),
        (
            {"environments": {"eu": {"target": {"hosted_zone": "example.com.", "record_name": "a.example.org."}}}},
            "environments.eu.target",
            "not inside hosted_zone",
        ),
    ],
)
def test_every_bad_field_is_named(plan_dict, change, field, says):
    plan_dict.update(change)
    problems = problems_of(plan_dict)
    assert any(f == field and says in p for f, p in problems), problems


def test_a_bad_inline_scenario_is_named_inside_its_drill(plan_dict):
    # Given the second drill's inline scenario with a bad sampling interval and a typo
    plan_dict["drills"][1]["scenario"] = {**plan_dict["drills"][1]["scenario"], "sampling": {"interval_seconds": 0}, "tagret": 1}
    problems = problems_of(plan_dict)
    # Then both are named with the drill's path, and the str alternative of the union is not reported
    fields = [f for f, _ in problems]
    assert "drills.1.scenario.sampling.interval_seconds" in fields
    assert "drills.1.scenario.tagret" in fields
    assert not any(f.endswith(".str") or "Scenario" in f for f in fields), fields


def test_cross_field_problems_are_all_reported_at_once(plan_dict):
    # Given an unknown environment and a tolerated percentage with failure_policy continue
    plan_dict["drills"][0]["environment"] = "mars"
    plan_dict.update(failure_policy="continue", tolerated_failure_percentage=20)
    problems = dict(problems_of(plan_dict))
    assert "'mars' is not in environments (eu)" in problems["drills.0.environment"]
    assert "failure_policy stop only" in problems["tolerated_failure_percentage"]


def test_concurrent_drills_on_one_environment_are_refused_naming_the_second(plan_dict, scenario_dict):
    # Given three drills at once, two of them on the same environment (the lab's)
    plan_dict["drills"].append({"scenario": scenario_dict})
    plan_dict["max_concurrency"] = 3
    with pytest.raises(GameDayInvalid) as raised:
        resolved(parse_plan(plan_dict), Path("."))
    [(field, problem)] = raised.value.problems
    assert field == "drills.2.environment"
    assert "same environment as drills.0" in problem and "max_concurrency 1" in problem


def test_scenario_files_are_resolved_relative_to_the_plan(tmp_path, scenario_dict):
    # Given a plan next to one good scenario file, naming it and a missing one
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(scenario_dict))
    (tmp_path / "plan.yaml").write_text(
        yaml.safe_dump({"name": "files", "drills": [{"scenario": "good.yaml"}, {"scenario": "missing.yaml"}]})
    )
    with pytest.raises(GameDayInvalid) as raised:
        load_plan(tmp_path / "plan.yaml")
    [(field, problem)] = raised.value.problems
    assert field == "drills.1.scenario" and "missing.yaml" in problem
    # When the missing one is replaced by the shipped demo scenario (absolute path), the plan resolves inline
    (tmp_path / "plan.yaml").write_text(
        yaml.safe_dump({"name": "files", "drills": [{"scenario": "good.yaml"}, {"scenario": str(DEMO_SCENARIO)}]})
    )
    plan = load_plan(tmp_path / "plan.yaml")
    assert [plan.scenario_of(i).name for i in range(2)] == ["region-failover-health-check"] * 2
    assert plan.scenario_of(1).alarms and not plan.scenario_of(0).alarms


def test_a_bad_scenario_file_is_named_by_drill_and_file(tmp_path, scenario_dict):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**scenario_dict, "name": "Not Valid"}))
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump({"name": "files", "drills": [{"scenario": "bad.yaml"}]}))
    with pytest.raises(GameDayInvalid) as raised:
        load_plan(tmp_path / "plan.yaml")
    assert [f for f, _ in raised.value.problems] == ["drills.0.scenario(bad.yaml).name"]


def test_the_machine_input_refuses_scenario_files_and_names_the_field(plan_dict):
    # Given the machine's input with a plan whose first drill still names a file
    plan_dict["drills"][0]["scenario"] = "scenarios/x.yaml"
    payload = {"gameday_id": new_gameday_id("q4-gameday"), "plan": plan_dict}
    with pytest.raises(GameDayInvalid) as raised:
        parse_gameday_request(payload)
    assert raised.value.problems[0][0] == "plan.drills.0.scenario"
    assert "inline" in raised.value.problems[0][1]


def test_the_machine_input_names_a_bad_id_and_bad_plan_fields(plan_dict):
    plan_dict["pause_seconds"] = "soon"
    with pytest.raises(GameDayInvalid) as raised:
        parse_gameday_request({"gameday_id": "x", "plan": plan_dict})
    fields = [f for f, _ in raised.value.problems]
    assert fields == ["gameday_id", "plan.pause_seconds"]


def test_drill_items_have_stable_valid_ids_and_pause_only_between_drills(plan_dict):
    request = parse_gameday_request({"gameday_id": new_gameday_id("q4-gameday", now=1_790_000_000), "plan": plan_dict})
    items = drill_items(request)
    again = drill_items(request)
    assert [i.drill_id for i in items] == [i.drill_id for i in again]  # a retried preflight names the same drills
    assert len({i.drill_id for i in items}) == 2

    assert all(re.match(DRILL_ID_PATTERN, i.drill_id) for i in items)
    assert [i.pause_seconds for i in items] == [0, 5]
    assert items[1].request["scenario"]["target"]["record_name"] == "api.example.com."
    assert items[0].stop_on_failure is True
    assert drill_id_of(request.gameday_id, "x" * 60, 3).endswith("-03")


def test_a_scheduled_gameday_without_id_is_named_from_its_execution_stably(plan_dict):
    from drillkit.gameday.run import id_of, named

    # Given the fixed input a schedule sends: a plan, no game-day id
    request = parse_gameday_request({"plan": plan_dict, "requested_by": "schedule weekly"})
    execution = "arn:aws:states:us-east-1:123456789012:execution:gameday:7f3a"
    # When preflight names it (twice, as a retried preflight would), the name and the drill ids are the same
    first, again = named(request, execution, 1_790_000_000), named(request, execution, 1_790_000_000)
    assert id_of(first) == id_of(again) and re.match(GAMEDAY_ID_PATTERN, id_of(first))
    assert [i.drill_id for i in drill_items(first)] == [i.drill_id for i in drill_items(again)]
    # And another execution gets another name
    assert id_of(named(request, execution + "x", 1_790_000_000)) != id_of(first)
    # And without an execution there is nothing to name it from
    with pytest.raises(GameDayInvalid) as raised:
        named(request, None, 1_790_000_000)
    assert raised.value.problems[0][0] == "gameday_id"
