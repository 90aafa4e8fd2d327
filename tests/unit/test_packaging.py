"""What ships to Lambda stays small, and the shipped inputs stay valid."""

from __future__ import annotations

import ast
import json
import sys

import pytest
import yaml

from drillkit.spec import parse_request

from ..conftest import ROOT

PACKAGE = ROOT / "functions" / "drillkit"
# The CLI side runs on a workstation and may use more; everything else is loaded by the functions.
WORKSTATION_ONLY = {"cli.py", "client.py", "gameday/client.py", "evidence/export.py", "evidence/verify.py", "scaffold/write.py"}
RUNTIME_PROVIDED = {"boto3", "botocore"}
DISTRIBUTION_OF = {"aws_lambda_powertools": "aws-lambda-powertools", "dns": "dnspython"}


def requirement_lines() -> list[str]:
    lines = (ROOT / "functions" / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def runtime_requirements() -> set[str]:
    """Distribution names, without versions or extras."""
    return {line.split(">")[0].split("=")[0].split("[")[0].strip() for line in requirement_lines()}


def test_the_functions_get_the_tracers_xray_sdk_which_the_lambda_runtime_lacks():
    assert any(line.startswith("aws-lambda-powertools[tracer]") for line in requirement_lines())


def imported_top_level(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_function_code_imports_only_the_stdlib_the_runtime_and_functions_requirements():
    allowed = set(sys.stdlib_module_names) | RUNTIME_PROVIDED | {"drillkit"}
    required = runtime_requirements()
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).as_posix() in WORKSTATION_ONLY:
            continue
        for name in imported_top_level(path) - allowed:
            assert DISTRIBUTION_OF.get(name, name) in required, f"{path.relative_to(ROOT)} imports {name}"


EVENTS = sorted((ROOT / "events").rglob("*.json"))


@pytest.mark.parametrize("event", EVENTS, ids=lambda p: p.relative_to(ROOT / "events").as_posix())
def test_shipped_drill_requests_are_valid_and_match_their_scenario(event):
    request = parse_request(json.loads(event.read_text()))
    scenario_file = ROOT / "scenarios" / event.relative_to(ROOT / "events").with_suffix(".yaml")
    assert scenario_file.exists(), f"{event.name} has no scenario of the same name"
    shipped = parse_request({"scenario": yaml.safe_load(scenario_file.read_text())}).scenario
    assert request.scenario.model_dump() == shipped.model_dump()


def test_every_shipped_scenario_has_a_console_drill_request_in_events():
    scenarios = {p.relative_to(ROOT / "scenarios").with_suffix("") for p in (ROOT / "scenarios").rglob("*.yaml")}
    events = {p.relative_to(ROOT / "events").with_suffix("") for p in EVENTS}
    assert scenarios == events


def test_function_code_never_imports_the_workstation_modules():
    workstation = {"drillkit." + name.removesuffix(".py").replace("/", ".") for name in WORKSTATION_ONLY}
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).as_posix() in WORKSTATION_ONLY:
            continue
        tree = ast.parse(path.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        imported |= {
            f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module for a in n.names
        }
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not imported & workstation, f"{path.relative_to(ROOT)} imports {imported & workstation}"
