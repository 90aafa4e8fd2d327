"""Timeline events for the report: {t, event, ...} in time order."""

from __future__ import annotations

from typing import Any


def event(t: float | None, name: str, **details: Any) -> dict[str, Any]:
    return {"t": t, "event": name, **{k: v for k, v in details.items() if v is not None}}


def ordered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((e for e in events if e.get("t") is not None), key=lambda e: e["t"])
