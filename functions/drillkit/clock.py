"""The only place drillkit reads the wall clock (tests freeze it here)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Seconds since the epoch, as a float."""
    return time.time()


def iso(epoch_seconds: float | None) -> str | None:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-22T10:00:00.123Z."""
    if epoch_seconds is None:
        return None
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sleep_until(deadline: float) -> None:
    remaining = deadline - now()
    if remaining > 0:
        time.sleep(remaining)
