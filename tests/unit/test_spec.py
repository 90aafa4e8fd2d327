"""Scenario and request validation: every problem is reported with the field that has it."""

from __future__ import annotations

import copy

import pytest
import yaml

from drillkit.errors import ScenarioInvalid
from drillkit.spec import parse_request, parse_scenario

from ..conftest import DEMO_SCENARIO


def test_shipped_demo_scenario_is_valid():
    scenario = parse_scenario(yaml.safe_load(DEMO_SCENARIO.read_text()))
    assert scenario.fault.type == "health-check-inversion"
    assert scenario.target.record_name == "app.drillkit.lab."
    assert scenario.sampling.interval_seconds == 0.5  # twice per lab health-check interval
    assert scenario.alarms and scenario.data.heartbeat is not None


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"objectives": {"rpo_seconds": 1}}, "(request)", "objectives.rpo_seconds needs data.heartbeat"),
        ({"objectives": {"alerting_seconds": 1}}, "(request)", "objectives.alerting_seconds needs alarms"),
        ({"alarms": [{"name": "arn:aws:cloudwatch:us-east-1:1:alarm:x"}]}, "alarms.0.name", "not its ARN"),
        ({"fault": {"type": "fail-targets", "load_balancer": "my-alb"}}, "fault", "region is required"),
        ({"fault": {"type": "fail-targets", "method": "deregister", "function": "f"}}, "fault", "lambda-throttle only"),
        ({"fault": {"type": "stop-cluster", "cluster": "db"}}, "fault", "region is required"),
        (
            {"fault": {"type": "stop-cluster", "cluster": "db", "region": "us-east-1", "failover_to": "x"}},
            "fault",
            "DB cluster ARN",
        ),
        ({"fault": {"type": "block-primary-alb", "method": "unplug"}}, "fault.method", "'security-group' or 'network-acl'"),
    ],
)
def test_fault_and_measurement_fields_are_checked_naming_the_field(scenario_dict, change, field, problem):
    for key, value in change.items():
        scenario_dict[key] = {**scenario_dict.get(key, {}), **value} if key == "objectives" else value
    with pytest.raises(ScenarioInvalid) as raised:
        parse_scenario(scenario_dict)
    assert any(f == field and problem in p for f, p in raised.value.problems), raised.value.problems


@pytest.mark.parametrize(
    ("path", "value", "field", "says"),
    [
        (("sampling", "interval_seconds"), 0, "sampling.interval_seconds", "greater than or equal to 0.1"),
        (("fault", "record"), "left", "fault.record", "'primary' or 'standby'"),
        (("fault", "type"), "unplug-the-datacenter", "fault", "does not match any of the expected tags"),
        (("target", "record_name"), "app.example.org", "target", "not inside hosted_zone"),
        (("objectives", "recovery_seconds"), -5, "objectives.recovery_seconds", "greater than 0"),
        (("objectives", "detection_seconds"), "INFINITY", "objectives.detection_seconds", "finite number"),
        (("sampling", "interval_seconds"), float("nan"), "sampling.interval_seconds", "finite number"),
        (("target", "url_path"), "health", "target.url_path", "must start with '/'"),
        (("name",), "Bad Name!", "name", "should match pattern"),
    ],
)
def test_invalid_field_is_named(scenario_dict, path, value, field, says):
    # Given a valid scenario with one bad field
    broken = copy.deepcopy(scenario_dict)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    # When it is parsed, Then the error names that field and the problem
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario(broken)
    fields = dict(caught.value.problems)
    assert field in fields, caught.value.problems
    assert says in fields[field]
    assert field in str(caught.value)


def test_unknown_field_is_reported_not_ignored(scenario_dict):
    scenario_dict["sampling"]["intervall_seconds"] = 2
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario(scenario_dict)
    assert ("sampling.intervall_seconds", "unknown field") in caught.value.problems


def test_request_errors_are_prefixed_with_scenario(scenario_dict):
    scenario_dict["sampling"]["hold_samples"] = 0
    with pytest.raises(ScenarioInvalid) as caught:
        parse_request({"scenario": scenario_dict, "drill_id": "x"})
    fields = [field for field, _ in caught.value.problems]
    assert "scenario.sampling.hold_samples" in fields
    assert "drill_id" in fields


def test_request_that_is_not_an_object_is_rejected():
    with pytest.raises(ScenarioInvalid, match="must be a JSON object"):
        parse_request(["not", "a", "request"])


def test_names_are_normalised_to_fully_qualified(scenario_dict):
    scenario_dict["target"].update(hosted_zone="example.com", record_name="app.example.com")
    scenario = parse_scenario(scenario_dict)
    assert (scenario.target.hosted_zone, scenario.target.record_name) == ("example.com.", "app.example.com.")


def test_content_hash_changes_with_content(scenario_dict):
    first = parse_scenario(scenario_dict).content_hash()
    scenario_dict["objectives"]["recovery_seconds"] = 31
    assert parse_scenario(scenario_dict).content_hash() != first


def test_a_scenario_that_names_no_role_keeps_the_content_hash_its_earlier_reports_recorded():
    scenario = parse_scenario(yaml.safe_load(DEMO_SCENARIO.read_text()))
    # The demo scenario's hash before target.role_arn and target.external_id existed.
    assert scenario.content_hash() == "sha256:afe8b55e051cafa2e4c145959bba6971514d5117e1f5eea72f24964a3c490b4e"
    with_role = scenario.model_copy(
        update={"target": scenario.target.model_copy(update={"role_arn": "arn:aws:iam::111122223333:role/drillkit-target-x"})}
    )
    assert with_role.content_hash() != scenario.content_hash()
