"""What ships to Lambda stays small, and the shipped inputs stay valid."""

from __future__ import annotations

import ast
import json
import math
import sys

import pytest
import yaml

from drillkit.spec import parse_request

from ..conftest import ROOT

PACKAGE = ROOT / "functions" / "drillkit"
# The CLI side runs on a workstation and may use more; everything else is loaded by the functions.
WORKSTATION_ONLY = {"cli.py", "client.py", "gameday/client.py", "evidence/export.py", "evidence/verify.py", "scaffold/write.py"}
RUNTIME_PROVIDED = {"boto3", "botocore"}
DISTRIBUTION_OF = {"aws_lambda_powertools": "aws-lambda-powertools", "dns": "dnspython", "typing_extensions": "typing-extensions"}


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


def _template() -> dict:
    from drillkit_lab import template as cfn

    return cfn.load(ROOT / "template.yaml")


def _functions(document: dict) -> dict[str, dict]:
    """Each function's properties, the template's Globals applied."""
    defaults = document["Globals"]["Function"]
    functions = {k: v for k, v in document["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    return {k: {**defaults, **v.get("Properties", {})} for k, v in functions.items()}


def test_every_function_runs_on_arm64_and_keeps_its_logs_for_a_bounded_time():
    document = _template()
    groups = {
        r["Properties"]["LogGroupName"]["Fn::Sub"]: r["Properties"].get("RetentionInDays")
        for r in document["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup"
    }
    for name, props in _functions(document).items():
        assert props["Architectures"] == ["arm64"], name
        # The group Lambda writes to, created by the stack with a retention (Lambda's own would keep logs forever).
        assert groups.get(f"/aws/lambda/${{{name}}}") == 90, name


# The functions that take timed readings (probes on a cadence, up to 8 threads): Lambda gives CPU in proportion to
# memory, and below 256 MB a reading's handshake would wait on CPU (docs/performance.md, "Sizing the template").
TIMED_READINGS = {"SteadyStateFunction", "InjectFunction", "ObserveFunction", "VerifyRestoreFunction"}


def test_each_function_asks_for_half_again_the_peak_memory_make_bench_measured():
    functions = _functions(_template())
    figures = json.loads((ROOT / "benchmarks" / "results.json").read_text())["functions"]
    measured = {f["function"].removeprefix("drillkit-lab-"): f["max_memory_used_mb"] for f in figures}
    assert set(measured) <= set(functions) and len(measured) >= 5  # the drill's functions, every one a drill runs
    for name, peak in measured.items():
        assert peak is not None, name
        # Headroom for inputs larger than the lab's (more targets, longer observations) without running out, and no
        # more than the next 64 MB step above that (memory is billed by the GB-second); 256 MB for timed readings.
        sized = max(math.ceil(1.5 * peak / 64) * 64, 256 if name in TIMED_READINGS else 128)
        assert functions[name]["MemorySize"] == sized, (name, peak, sized)
