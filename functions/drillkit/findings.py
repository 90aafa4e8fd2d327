"""Readiness findings: the typed shape of what a read-only check found, and the catalogue of codes.

Pure (no boto3): the drill context carries findings from Preflight to Report, and the report, the CLI and
docs/readiness.md read the catalogue. Each code is declared once, with its area, severity, remedy and
whether it blocks the drill; a check makes a finding from its rule, naming the resource and what was read.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["critical", "high", "medium", "low", "info"]
Area = Literal["dns", "standby", "data", "detection", "network", "security", "readiness"]
AREAS: tuple[Area, ...] = ("dns", "standby", "data", "detection", "network", "security", "readiness")


class Evidence(BaseModel):
    """The API call that showed the problem, on which resource, and what it answered (when that says more)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    call: str = Field(description="service:Operation, e.g. route53:GetHealthCheckStatus")
    resource: str = Field(description="The resource's id or ARN as the call named it")
    answered: str | None = Field(default=None, description="What the call (or drillkit's own request) answered")

    def __str__(self) -> str:
        return f"{self.call} {self.resource}" + (f": {self.answered}" if self.answered else "")


class Finding(BaseModel):
    """One readiness finding. ``blocking`` ones end the drill before anything is injected."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    area: Area
    severity: Severity
    message: str = Field(min_length=1)
    evidence: Evidence
    remedy: str
    blocking: bool

    @model_validator(mode="before")
    @classmethod
    def _earlier_shape(cls, value: Any) -> Any:
        """Drill records written before the catalogue carried evidence as one string and no area."""
        if isinstance(value, dict) and (isinstance(value.get("evidence"), str) or "area" not in value):
            value = dict(value)
            if isinstance(value.get("evidence"), str):
                call, _, resource = value["evidence"].partition(" ")
                value["evidence"] = {"call": call, "resource": resource}
            known = CATALOGUE.get(str(value.get("code")))
            value.setdefault("area", known.area if known else "readiness")
        return value


class Rule(BaseModel):
    """A catalogue entry: what a code means and how bad it is; ``finding`` makes one occurrence of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    area: Area
    severity: Severity
    blocking: bool
    title: str
    remedy: str

    def finding(
        self, message: str, call: str, resource: str, answered: str | None = None, *, remedy: str | None = None
    ) -> Finding:
        return Finding(
            code=self.code,
            area=self.area,
            severity=self.severity,
            message=message,
            evidence=Evidence(call=call, resource=resource, answered=answered),
            remedy=remedy or self.remedy,
            blocking=self.blocking,
        )


CATALOGUE: dict[str, Rule] = {}


def rule(code: str, area: Area, severity: Severity, blocking: bool, title: str, remedy: str) -> Rule:
    """Declare a code (once): the readiness modules call this at import time."""
    if code in CATALOGUE:
        raise ValueError(f"readiness code {code} is declared twice")
    declared = Rule(code=code, area=area, severity=severity, blocking=blocking, title=title, remedy=remedy)
    CATALOGUE[code] = declared
    return declared
