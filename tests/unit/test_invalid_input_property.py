"""Property: invalid input never reaches a target and is always refused naming a field.

Hypothesis breaks a valid drill request in one of the ways input goes wrong (an unknown field, a
missing required field, a wrong type, a value out of range, a fault method or field that does not
exist) and hands it to Preflight, whose first act must be to refuse it. Resolving the target (the
first read of the customer's stack) is replaced by a tripwire, so reaching it fails the property.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from drillkit import drill
from drillkit.errors import ScenarioInvalid

from ..conftest import ROOT

SCENARIOS = sorted((ROOT / "scenarios").rglob("*.yaml"))
TOP_LEVEL = {"drill_id", "requested_by", "scenario", "network", "(request)"}


def requests() -> list[dict[str, Any]]:
    return [{"requested_by": "property", "scenario": yaml.safe_load(path.read_text())} for path in SCENARIOS]


# Parsed once: each example breaks a deep copy of one of them (300 examples x every scenario file was most of the time).
VALID_REQUESTS = requests()


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a mapping entry or list item in the request."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((*prefix, index))
            found += paths(value, (*prefix, index))
    return found


def mappings(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if isinstance(node, dict) else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += mappings(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += mappings(value, (*prefix, index))
    return found


def get(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


REQUIRED = [
    ("scenario",),
    ("scenario", "name"),
    ("scenario", "target"),
    ("scenario", "fault"),
    ("scenario", "target", "hosted_zone"),
    ("scenario", "target", "record_name"),
    ("scenario", "fault", "type"),
]
NUMBERS = [
    ("scenario", "sampling", "interval_seconds"),
    ("scenario", "sampling", "hold_samples"),
    ("scenario", "sampling", "observe_timeout_seconds"),
    ("scenario", "objectives", "detection_seconds"),
    ("scenario", "objectives", "recovery_seconds"),
    ("scenario", "target", "url_port"),
]


def reads_as_number(text: str) -> bool:
    """Whether the models take this text for a number: they read JSON's and YAML's quoted numbers ("1", " 2 ") as
    numbers, as pydantic does; such text is not a wrong number (it once failed the property as one)."""
    try:
        TypeAdapter(float).validate_python(text)
    except ValidationError:
        return False
    return True


WRONG_NUMBERS = st.one_of(
    st.integers(max_value=0),
    st.floats(max_value=-0.001, allow_nan=False),
    st.text(min_size=1).filter(lambda text: not reads_as_number(text)),
    st.lists(st.integers()),
)


@st.composite
def broken_requests(draw: st.DrawFn) -> dict[str, Any]:
    request = copy.deepcopy(draw(st.sampled_from(VALID_REQUESTS)))
    how = draw(st.sampled_from(["unknown field", "missing field", "wrong number", "bad choice", "not a mapping", "bad name"]))
    if how == "unknown field":
        where = draw(st.sampled_from(mappings(request)))
        get(request, where)[draw(st.from_regex(r"\A[a-z]{1,8}_x\Z"))] = draw(st.integers() | st.text())
    elif how == "missing field":
        path = draw(st.sampled_from(REQUIRED))
        get(request, path[:-1]).pop(path[-1], None)
    elif how == "wrong number":
        path = draw(st.sampled_from(NUMBERS))
        get(request, path[:-1])[path[-1]] = draw(WRONG_NUMBERS)
    elif how == "bad choice":
        path = draw(
            st.sampled_from(
                [("scenario", "fault", "type"), ("scenario", "target", "record_type"), ("scenario", "target", "url_scheme")]
            )
        )
        get(request, path[:-1])[path[-1]] = draw(
            st.text(max_size=12).filter(lambda v: v not in ("A", "AAAA", "CNAME", "http", "https"))
        )
    elif how == "not a mapping":
        path = draw(st.sampled_from([p for p in paths(request) if isinstance(get(request, p), dict)]))
        get(request, path[:-1])[path[-1]] = draw(st.integers() | st.text() | st.lists(st.integers(), max_size=2))
    else:
        request["scenario"]["name"] = draw(st.from_regex(r"\A([A-Z _]{1,10}|-[a-z]{1,5}|[a-z][a-z0-9-]{63,70})\Z"))
    return request


@pytest.fixture
def tripwire(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reached: list[str] = []

    def resolve_target(target: Any) -> Any:
        reached.append(str(target))
        raise AssertionError("invalid input reached the target stack")

    monkeypatch.setattr(drill, "resolve_target", resolve_target)
    return reached


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=broken_requests())
def test_invalid_input_never_reaches_a_target_and_is_refused_naming_a_field(tripwire, request):
    with pytest.raises(ScenarioInvalid) as refused:
        drill.preflight(request, execution_id=None, execution_name="property-0001")

    assert tripwire == []
    assert refused.value.problems
    for field, problem in refused.value.problems:
        # A path into the request (an unknown top-level field is named by itself), never a blank.
        assert field.split(".")[0] in TOP_LEVEL | set(request), field
        assert problem, field
