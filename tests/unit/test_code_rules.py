"""Rules of the codebase that a reviewer would otherwise have to remember: read from the source, not from a run.

- No product function is longer than 80 lines (issue 17: judging apart from rendering, thin handlers).
- Every error Step Functions can see is a class of drillkit/errors.py: the class name is the error name a Retry or
  Catch matches, so one room holds every name the ASL may use (issue 17: errors in one room).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from drillkit import errors

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "functions" / "drillkit"
STATE_MACHINES = sorted((ROOT / "statemachines").glob("*.asl.json"))
LONGEST_FUNCTION = 80
# Names Step Functions itself raises (States.*) or reports for a failed service integration: not drillkit's to define.
SERVICE_ERROR_PREFIXES = ("States.", "Lambda.", "StepFunctions.")
# pydantic turns a ValueError raised in a validator into a ValidationError, which spec.parse_request and
# gameday.plan.parse_plan turn into ScenarioInvalid/GameDayInvalid naming the field: Step Functions never sees it.
VALIDATORS = {"field_validator", "model_validator"}
# Raised while a module is imported (a readiness code declared twice): the function never starts, no step sees it.
AT_IMPORT = {("drillkit.findings", "rule")}
ERROR_CLASSES = {name for name, value in vars(errors).items() if inspect.isclass(value) and issubclass(value, BaseException)}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT / "functions").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PRODUCT.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in MODULES.items()}


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(module).split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imported_names(module: str) -> dict[str, str]:
    """Each name a module imports anywhere (calls import lazily too) -> the module it names or comes from."""
    names: dict[str, str] = {}
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            names.update({alias.asname or alias.name: alias.name for alias in node.names})
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                full = f"{source}.{alias.name}"
                names[alias.asname or alias.name] = full if full in MODULES else source
    return names


def _reachable_from_handlers() -> set[str]:
    """Every product module a Lambda handler can run, lazy imports included (read from the source, nothing imported)."""
    seen: set[str] = set()
    todo = [name for name in MODULES if name.startswith("drillkit.handlers")]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(origin for origin in _imported_names(module).values() if origin in MODULES)
    return seen


@dataclass(frozen=True)
class RaiseSite:
    module: str
    function: str
    line: int
    name: str
    origin: str  # "drillkit.errors", "builtins", the module that defines it, or "" when it is not a class name


def _raise_sites(module: str) -> list[RaiseSite]:
    imported = _imported_names(module)
    defined = {node.name for node in TREES[module].body if isinstance(node, ast.ClassDef)}
    sites: list[RaiseSite] = []

    def visit(node: ast.AST, function: str, in_validator: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name, in_validator or bool(_decorator_names(child) & VALIDATORS))
                continue
            if isinstance(child, ast.Raise) and child.exc is not None and not in_validator:
                raised = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                sites.append(_site(module, function, child.lineno, raised, imported, defined))
            visit(child, function, in_validator)

    visit(TREES[module], "<module>", False)
    return sites


def _decorator_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    return {ast.unparse(d.func if isinstance(d, ast.Call) else d).rpartition(".")[2] for d in function.decorator_list}


def _site(module: str, function: str, line: int, raised: ast.expr, imported: dict[str, str], defined: set[str]) -> RaiseSite:
    if isinstance(raised, ast.Attribute) and isinstance(raised.value, ast.Name):
        origin = imported.get(raised.value.id, "")  # errors.Something
        return RaiseSite(module, function, line, raised.attr, origin)
    name = raised.id if isinstance(raised, ast.Name) else ast.unparse(raised)
    if name in defined:
        return RaiseSite(module, function, line, name, module)
    if name in imported:
        return RaiseSite(module, function, line, name, imported[name])
    if inspect.isclass(getattr(builtins, name, None)):
        return RaiseSite(module, function, line, name, "builtins")
    return RaiseSite(module, function, line, name, "")  # a caught error raised again (raise error)


def test_no_product_function_is_longer_than_80_lines():
    # Given every function and method of the product
    too_long = [
        f"{MODULES[module].relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for module, tree in TREES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION
    ]

    # Then none is longer than 80 lines, decorators aside
    assert too_long == []


@pytest.mark.parametrize("machine", STATE_MACHINES, ids=lambda path: path.name)
def test_every_error_the_state_machines_retry_or_catch_by_name_is_defined_in_errors(machine: Path):
    # Given every ErrorEquals of a state machine's Retry and Catch clauses
    named: set[str] = set()

    def collect(node: object) -> None:
        if isinstance(node, dict):
            named.update(node.get("ErrorEquals", []))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(json.loads(machine.read_text()))

    # Then each name that is drillkit's (not Step Functions' or a service integration's) is a class of errors.py
    ours = {name for name in named if not name.startswith(SERVICE_ERROR_PREFIXES)}
    assert ours, f"{machine.name} retries or catches no drillkit error by name"
    assert ours - ERROR_CLASSES == set()


def test_every_error_a_lambda_handler_can_raise_is_defined_in_errors():
    # Given every raise statement in the modules a handler can run
    reachable = _reachable_from_handlers()
    assert {"drillkit.drill", "drillkit.faults.stop_cluster", "drillkit.gameday.run"} <= reachable
    sites = [site for module in sorted(reachable) for site in _raise_sites(module)]

    # Then each raises a class of errors.py (a bare `raise error` re-raises one already named)
    elsewhere = [
        f"{site.module}:{site.line} {site.function} raises {site.name} from {site.origin}"
        for site in sites
        if site.origin not in ("drillkit.errors", "") and (site.module, site.function) not in AT_IMPORT
    ]
    assert elsewhere == []
    raised_by_name = {site.name for site in sites if site.origin == "drillkit.errors"}
    assert {"RestoreFailed", "TransientError", "DrillStateInvalid"} <= raised_by_name


def test_no_exception_class_is_defined_outside_errors():
    # Given every class of the product outside errors.py
    defined_elsewhere = [
        f"{MODULES[module].relative_to(ROOT)}:{node.lineno} {node.name}"
        for module, tree in TREES.items()
        if module != "drillkit.errors"
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(
            ast.unparse(base).rpartition(".")[2] in ERROR_CLASSES
            or inspect.isclass(getattr(builtins, ast.unparse(base), None))
            and issubclass(getattr(builtins, ast.unparse(base)), BaseException)
            for base in node.bases
        )
    ]

    # Then none is an exception: a new error gets its name in errors.py, where the ASL's names are
    assert defined_elsewhere == []


# aws.py turns botocore's errors into named ones (aws_call); cli.py's last resort prints an error nobody expected.
BOTOCORE_ERRORS = {"ClientError", "BotoCoreError"}
MAY_HANDLE_BOTOCORE_ERRORS = {"drillkit.aws", "drillkit.cli"}


def test_aws_errors_are_handled_by_name_through_aws_call_only():
    # Given every product module but the two that may handle botocore's errors themselves
    handling = [
        f"{MODULES[module].relative_to(ROOT)}:{node.lineno} imports {', '.join(sorted(names))}"
        for module, tree in TREES.items()
        if module not in MAY_HANDLE_BOTOCORE_ERRORS
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module == "botocore.exceptions"
        and (names := {alias.name for alias in node.names} & BOTOCORE_ERRORS)
    ]

    # Then none catches ClientError or BotoCoreError: it calls AWS inside aws.aws_call and branches on the named error
    assert handling == []
