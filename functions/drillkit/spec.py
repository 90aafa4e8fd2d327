"""Scenario and drill-request models: the one place where input is validated.

A scenario says what to break and what to expect; a drill request wraps a scenario
with who asked and, for the local lab, where its resolver and HTTP listeners are.
Every model forbids unknown fields so a typo is reported instead of ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drillkit.errors import ScenarioInvalid

DRILL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{5,62}$"
HOSTNAME_PATTERN = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9_-]{1,63}\.?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _fqdn(value: str) -> str:
    value = value.strip()
    if not HOSTNAME_PATTERN.match(value):
        raise ValueError(f"{value!r} is not a DNS name")
    return value if value.endswith(".") else value + "."


class Target(_Strict):
    """The failover record under test and how clients reach it."""

    hosted_zone: str = Field(description="Name of the public hosted zone, e.g. example.com.")
    record_name: str = Field(description="The failover record clients resolve, e.g. app.example.com.")
    record_type: Literal["A", "AAAA", "CNAME"] = "A"
    url_scheme: Literal["http", "https"] = "https"
    url_port: int | None = Field(default=None, ge=1, le=65535)
    url_path: str = "/"
    region_header: str = Field(
        default="x-drillkit-region",
        description="Response header (or JSON body key 'region') naming the region that served a request.",
    )

    @field_validator("hosted_zone", "record_name")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        return _fqdn(value)

    @field_validator("url_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @model_validator(mode="after")
    def _record_in_zone(self) -> Target:
        if not (self.record_name == self.hosted_zone or self.record_name.endswith("." + self.hosted_zone)):
            raise ValueError(f"record_name {self.record_name} is not inside hosted_zone {self.hosted_zone}")
        return self


class HealthCheckInversion(_Strict):
    """Invert the Route 53 health check of a failover record; restore puts the flag back."""

    type: Literal["health-check-inversion"]
    record: Literal["primary", "standby"] = "primary"


# New faults join this union; the ``type`` field selects the model.
FaultSpec = Annotated[HealthCheckInversion, Field(discriminator="type")]


class Objectives(_Strict):
    """Targets in seconds after injection; a missing target is measured but not judged."""

    detection_seconds: float | None = Field(default=None, gt=0)
    dns_cutover_seconds: float | None = Field(default=None, gt=0)
    recovery_seconds: float | None = Field(default=None, gt=0, description="The RTO target.")


class Sampling(_Strict):
    interval_seconds: float = Field(default=1.0, ge=0.1, le=60)
    hold_samples: int = Field(default=2, ge=1, le=20, description="Samples a cutover must hold to count.")
    steady_state_samples: int = Field(default=3, ge=1, le=60)
    steady_state_timeout_seconds: float = Field(default=60, gt=0, le=3600)
    observe_timeout_seconds: float = Field(default=300, gt=0, le=3600)
    restore_timeout_seconds: float = Field(default=300, gt=0, le=3600)


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    version: str = Field(default="1", min_length=1, max_length=32)
    description: str = ""
    target: Target
    fault: FaultSpec
    objectives: Objectives = Objectives()
    sampling: Sampling = Sampling()

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    def content_hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class Resolver(_Strict):
    host: str
    port: int = Field(default=53, ge=1, le=65535)


class Network(_Strict):
    """Where probes reach the stack when it is not the public internet (the local lab)."""

    resolver: Resolver | None = None
    ports: dict[int, int] = Field(default_factory=dict, description="Logical port -> the port it really listens on.")
    ca_pem: str | None = Field(default=None, max_length=20000, description="An extra CA to trust for HTTPS (the lab's own).")


class DrillRequest(_Strict):
    drill_id: str | None = Field(default=None, pattern=DRILL_ID_PATTERN)
    requested_by: str = Field(default="unknown", max_length=128)
    scenario: Scenario
    network: Network = Network()


def _field_name(location: tuple[Any, ...], whole: str) -> str:
    # Drop the discriminator tag pydantic inserts ("fault.health-check-inversion.record").
    parts = [str(part) for part in location if part not in ("health-check-inversion",)]
    return ".".join(parts) or whole


def describe_validation_error(error: ValidationError, prefix: str = "", whole: str = "(request)") -> list[tuple[str, str]]:
    """(field path, problem) for every error, in the words our users read; ``whole`` names the document."""
    problems = []
    for item in error.errors():
        field = _field_name(item["loc"], whole)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append((prefix + field, message))
    return problems


def parse_request(payload: Any) -> DrillRequest:
    """Validate a drill request, raising ScenarioInvalid that names every bad field."""
    if not isinstance(payload, dict):
        raise ScenarioInvalid([("(request)", "must be a JSON object")])
    try:
        return DrillRequest.model_validate(payload)
    except ValidationError as error:
        raise ScenarioInvalid(describe_validation_error(error)) from None


def parse_scenario(payload: Any) -> Scenario:
    if not isinstance(payload, dict):
        raise ScenarioInvalid([("(scenario)", "must be a mapping")])
    try:
        return Scenario.model_validate(payload)
    except ValidationError as error:
        raise ScenarioInvalid(describe_validation_error(error)) from None
