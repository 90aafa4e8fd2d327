"""Test helpers for drill reports: schema validation and report building without AWS."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from .conftest import ROOT

SCHEMA_PATH = ROOT / "docs" / "report.schema.json"


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def schema_errors(document: dict[str, Any]) -> list[str]:
    errors = sorted(validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]


def assert_valid_report(document: dict[str, Any]) -> None:
    """Fail naming every field of report.json that does not match docs/report.schema.json."""
    problems = schema_errors(document)
    assert not problems, "report.json does not match docs/report.schema.json:\n  " + "\n  ".join(problems)
