"""Function configuration from environment variables, validated at cold start."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drillkit.errors import ConfigurationError
from drillkit.waits import DRILL_MACHINE_SECONDS


class LedgerConfig(BaseModel):
    model_config = ConfigDict(frozen=True)
    ledger_table: str = Field(min_length=3)
    # The lock lasts as long as the drill can: the drill machine's maximum duration (a shorter lock would let a
    # second drill take the environment under a drill still running). The safety net renews it for its own run.
    lock_ttl_seconds: int = Field(default=DRILL_MACHINE_SECONDS, ge=DRILL_MACHINE_SECONDS)


class ApprovalConfig(BaseModel):
    model_config = ConfigDict(frozen=True)
    approval_timeout_seconds: int = Field(default=1800, ge=60, le=3600)


class NotifyConfig(BaseModel):
    model_config = ConfigDict(frozen=True)
    topic_arn: str | None = None


class EvidenceConfig(BaseModel):
    model_config = ConfigDict(frozen=True)
    evidence_bucket: str = Field(min_length=3)
    topic_arn: str | None = None
    signing_key_arn: str | None = None


class ObserveConfig(BaseModel):
    model_config = ConfigDict(frozen=True)
    observe_batch_seconds: float = Field(default=60, gt=0, le=840)


def _load(model: type[BaseModel], names: dict[str, str]) -> BaseModel:
    raw = {field: os.environ[var] for field, var in names.items() if os.environ.get(var)}
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        details = "; ".join(f"{names.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in error.errors())
        raise ConfigurationError(f"bad function environment: {details}") from None


@lru_cache(maxsize=1)
def ledger_config() -> LedgerConfig:
    return _load(LedgerConfig, {"ledger_table": "LEDGER_TABLE", "lock_ttl_seconds": "LOCK_TTL_SECONDS"})  # type: ignore[return-value]


@lru_cache(maxsize=1)
def evidence_config() -> EvidenceConfig:
    return _load(
        EvidenceConfig, {"evidence_bucket": "EVIDENCE_BUCKET", "topic_arn": "TOPIC_ARN", "signing_key_arn": "SIGNING_KEY_ARN"}
    )  # type: ignore[return-value]


@lru_cache(maxsize=1)
def observe_config() -> ObserveConfig:
    return _load(ObserveConfig, {"observe_batch_seconds": "OBSERVE_BATCH_SECONDS"})  # type: ignore[return-value]


@lru_cache(maxsize=1)
def approval_config() -> ApprovalConfig:
    return _load(ApprovalConfig, {"approval_timeout_seconds": "APPROVAL_TIMEOUT_SECONDS"})  # type: ignore[return-value]


@lru_cache(maxsize=1)
def notify_config() -> NotifyConfig:
    return _load(NotifyConfig, {"topic_arn": "TOPIC_ARN"})  # type: ignore[return-value]
