"""The handler decorator: configuration checked at cold start, the drill id as correlation id, one line per step.

Given a handler wrapped by ``observability.drill_step``, when the Lambda runtime imports and invokes it, then its
environment is validated at import, and each invocation writes exactly one structured line: drill id, step,
outcome (ok or the error's name, which is what Step Functions sees) and duration.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from freezegun import freeze_time

from drillkit import config, drill, observability
from drillkit.errors import ConfigurationError, NotSteady
from drillkit.observability import drill_step

from ..conftest import ROOT

HANDLERS_DIR = ROOT / "functions" / "drillkit" / "handlers"
HANDLER_MODULES = sorted(p.stem for p in HANDLERS_DIR.glob("*.py") if p.stem != "__init__")
ENVIRONMENT = {
    "LEDGER_TABLE": "drillkit-ledger",
    "EVIDENCE_BUCKET": "drillkit-evidence",
    "TOPIC_ARN": "arn:aws:sns:::t",
    "DRILL_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:drill",
}
# The drill machine's steps; the game-day function (handlers/gameday.py) reads no ledger and is tested on its own.
DRILL_HANDLER_MODULES = [module for module in HANDLER_MODULES if module != "gameday"]


@dataclass
class FakeLambdaContext:
    function_name: str = "drillkit-InjectFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:drillkit-InjectFunction"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _clear_config() -> None:
    for loader in (
        config.ledger_config,
        config.evidence_config,
        config.observe_config,
        config.approval_config,
        config.notify_config,
    ):
        loader.cache_clear()


@pytest.fixture
def function_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """What template.yaml gives the functions; a test takes variables away to break it."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    _clear_config()
    yield ENVIRONMENT
    _clear_config()


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines the shared logger writes, as the function's log stream would hold them."""
    stream = io.StringIO()
    handler = observability.logger.registered_handler
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    handler.setStream(previous)  # type: ignore[attr-defined]


def step_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["message"] == observability.STEP_FINISHED]


def fresh_import(module: str) -> Any:
    """Run a handler module's top level again, as a cold start does, without replacing the imported one."""
    spec = importlib.util.spec_from_file_location(f"cold_start_{module}", HANDLERS_DIR / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def test_a_step_that_returns_logs_one_line_with_drill_id_step_ok_and_duration(function_environment, log_lines):
    # Given a step that takes 1.25 s
    with freeze_time("2026-11-22 10:00:00") as frozen:

        @drill_step("inject", config=(config.ledger_config,))
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            frozen.tick(1.25)
            return {"injected": True}

        # When the runtime invokes it for drill d-1
        result = handler({"drill": {"drill_id": "d-1"}}, FakeLambdaContext())

    # Then it returns the step's result and writes one line saying how the step ended
    assert result == {"injected": True}
    [line] = step_lines(log_lines())
    assert (line["drill_id"], line["step"], line["outcome"], line["duration_ms"]) == ("d-1", "inject", "ok", 1250)
    assert line["level"] == "INFO" and line["correlation_id"] == "d-1"
    assert line["function_request_id"] == "request-1" and "cold_start" in line


def test_a_step_that_fails_logs_the_error_name_at_error_level_and_raises_it_unchanged(function_environment, log_lines):
    # Given a step that ends NotSteady
    @drill_step("steady_state", config=(config.ledger_config,))
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise NotSteady("http: 3 of 8 samples failed")

    # When it is invoked
    with pytest.raises(NotSteady, match="3 of 8"):
        handler({"drill": {"drill_id": "d-2"}}, FakeLambdaContext())

    # Then its line names the error Step Functions matches, with the traceback
    [line] = step_lines(log_lines())
    assert (line["drill_id"], line["step"], line["outcome"], line["level"]) == ("d-2", "steady_state", "NotSteady", "ERROR")
    assert line["exception_name"] == "NotSteady" and "3 of 8" in line["exception"]


def test_each_invocation_carries_its_own_drill_id(function_environment, log_lines):
    # Given one warm function
    @drill_step("observe", config=())
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        observability.logger.info("sampling")
        return {}

    # When it serves two drills one after the other
    handler({"drill": {"drill_id": "d-3"}}, FakeLambdaContext())
    handler({"drill": {"drill_id": "d-4"}}, FakeLambdaContext())

    # Then every line, the handler's own too, carries the drill it belongs to
    assert [(line["message"], line["correlation_id"]) for line in log_lines()] == [
        ("sampling", "d-3"),
        (observability.STEP_FINISHED, "d-3"),
        ("sampling", "d-4"),
        (observability.STEP_FINISHED, "d-4"),
    ]


def test_a_wrong_environment_fails_the_decoration_that_is_the_cold_start(function_environment, monkeypatch):
    # Given a function whose ledger table variable is missing
    monkeypatch.delenv("LEDGER_TABLE")
    config.ledger_config.cache_clear()

    # When its handler module is imported, Then the import fails naming the variable, before any invocation
    with pytest.raises(ConfigurationError, match="LEDGER_TABLE"):
        drill_step("restore", config=(config.ledger_config,))


@pytest.mark.parametrize("module", DRILL_HANDLER_MODULES)
def test_every_handler_module_fails_its_cold_start_without_its_ledger_table(module, function_environment, monkeypatch):
    # Given the function's environment without LEDGER_TABLE
    monkeypatch.delenv("LEDGER_TABLE")
    config.ledger_config.cache_clear()

    # When the runtime imports the handler module, Then the cold start fails, not the drill
    with pytest.raises(ConfigurationError, match="LEDGER_TABLE"):
        fresh_import(module)


# Each handler, the drillkit.drill function it calls and an event as its state machine sends it.
CALLS = {
    "preflight": ("preflight", {"request": {"scenario": {}}, "execution_name": "d-5"}),
    "request_approval": ("request_approval", {"drill": {"drill_id": "d-5"}, "task_token": "token"}),
    "steady_state": ("steady_state", {"drill": {"drill_id": "d-5"}}),
    "inject": ("inject", {"drill": {"drill_id": "d-5"}}),
    "observe": ("observe", {"drill": {"drill_id": "d-5"}}),
    "restore": ("restore", {"drill": {"drill_id": "d-5"}}),
    "verify_restore": ("verify_restore", {"drill": {"drill_id": "d-5"}}),
    "report": ("report", {"drill": {"drill_id": "d-5"}}),
    "safety_net": ("safety_net", {"step": "verify", "net": {"drill_id": "d-5"}}),
}
# What every stand-in returns: shaped as the report step's outcome, which its handler turns into metrics.
STEP_RESULT = {"drill_id": "d-5", "scenario": "s", "verdict": "PASS", "restore_verified": True, "measurements": {}}


def test_the_table_of_calls_covers_every_handler_module():
    assert sorted(CALLS) == DRILL_HANDLER_MODULES


def test_the_game_day_function_fails_its_cold_start_without_the_drill_machine(function_environment, monkeypatch):
    monkeypatch.delenv("DRILL_STATE_MACHINE_ARN")

    with pytest.raises(ConfigurationError, match="DRILL_STATE_MACHINE_ARN"):
        fresh_import("gameday")


def test_the_game_day_function_logs_one_step_line_with_the_game_day_id(function_environment, log_lines, monkeypatch):
    # Given the game-day function, whose preflight answers at once
    from drillkit.gameday import run

    monkeypatch.setattr(run, "preflight", lambda *args, **kwargs: {"gameday_id": "gd-1"})
    handler = importlib.import_module("drillkit.handlers.gameday").lambda_handler

    # When its machine invokes the preflight step
    handler({"step": "preflight", "request": {"gameday_id": "gd-1"}, "execution_id": "arn:x"}, FakeLambdaContext())

    # Then one line names the game-day and the step
    [line] = step_lines(log_lines())
    assert (line["drill_id"], line["step"], line["outcome"]) == ("gd-1", "gameday.preflight", "ok")


@pytest.mark.parametrize("module", DRILL_HANDLER_MODULES)
def test_every_handler_logs_one_step_line_with_the_drill_id_from_its_event(
    module, function_environment, log_lines, monkeypatch, capsys
):
    # Given a handler whose call into drillkit.drill answers at once
    function, event = CALLS[module]
    monkeypatch.setattr(drill, function, lambda *args, **kwargs: STEP_RESULT)
    handler = importlib.import_module(f"drillkit.handlers.{module}").lambda_handler

    # When the state machine invokes it
    handler(event, FakeLambdaContext())

    # Then one line names the drill and the step
    [line] = step_lines(log_lines())
    expected_step = "safety_net.verify" if module == "safety_net" else module
    assert (line["drill_id"], line["step"], line["outcome"]) == ("d-5", expected_step, "ok")
    # and the report's metrics are flushed as one EMF record in the drillkit namespace
    emf = [json.loads(out) for out in capsys.readouterr().out.splitlines() if '"_aws"' in out]
    assert [doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] for doc in emf] == (["drillkit"] if module == "report" else [])


def test_handlers_are_thin_one_decorator_and_one_call(function_environment):
    for module in HANDLER_MODULES:
        source = (HANDLERS_DIR / f"{module}.py").read_text()
        assert source.count("@drill_step(") == 1, module
        assert "inject_lambda_context" not in source and "_config()" not in source, module


def test_the_safety_nets_first_step_takes_the_drill_id_from_the_execution_that_ended(
    function_environment, log_lines, monkeypatch
):
    # Given the safety net's begin step, which receives the EventBridge event of the drill's execution
    monkeypatch.setattr(drill, "safety_net", lambda *args, **kwargs: {"action": "restore"})
    handler = importlib.import_module("drillkit.handlers.safety_net").lambda_handler
    event = {"step": "begin", "event": {"detail": {"name": "d-6", "status": "ABORTED"}}}

    # When it is invoked
    handler(event, FakeLambdaContext())

    # Then the drill id is the execution's name, as the drill machine named the drill
    [line] = step_lines(log_lines())
    assert (line["drill_id"], line["step"], line["correlation_id"]) == ("d-6", "safety_net.begin", "d-6")
