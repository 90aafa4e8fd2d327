"""The report's timeline chart: sample readings per probe, milestones and targets, as plain shapes.

Geometry only (no I/O, no markup): the HTML template draws these as inline SVG, so the
report stays one self-contained file that any browser opens offline.
"""

from __future__ import annotations

from typing import Any

from drillkit.milestones import CATALOGUE
from drillkit.milestones import label as objective_label

WIDTH, LEFT, RIGHT = 900, 120, 20
CHAR_WIDTH = 6.5
LANES = (
    ("health_check", "Health check"),
    ("alarms", "Alarms"),
    ("dns", "DNS answer"),
    ("dns_client", "DNS (cached)"),
    ("http", "Clients (HTTP)"),
    ("heartbeat", "Heartbeat"),
)
LANE_TOP, LANE_GAP = 50, 38
# Fill colours as attributes, not CSS, so that PDF converters and SVG viewers draw them too.
STATE_COLOURS = {"primary": "#1f7a3d", "standby": "#1d5fbf", "failed": "#b42318", "unknown": "#9aa3af"}
# Timeline events drawn as markers: the milestones by their chart marker, around them the drill's own steps.
MILESTONE_EVENTS = {
    "fault_injected": "fault injected",
    **{name: objective.marker for name, objective in CATALOGUE.items() if objective.not_reached is not None},
    "restore": "restored",
    "restore_verified": "restore verified",
}


def _state(sample: dict[str, Any]) -> str:
    probe = sample.get("probe")
    if probe == "health_check":
        healthy = sample.get("healthy")
        return "primary" if healthy is True else ("failed" if healthy is False else "unknown")
    if probe == "alarms":
        return "failed" if sample.get("in_alarm") else ("unknown" if sample.get("error") else "primary")
    if probe in ("http", "heartbeat") and not sample.get("ok"):
        return "failed"
    if probe == "heartbeat":
        return "primary"
    side = sample.get("side")
    return side if side in ("primary", "standby") else "unknown"


def timeline(document: dict[str, Any], samples: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not samples:
        return None
    t_inject = next((e["t"] for e in document["timeline"] if e["event"] == "fault_injected"), None)
    times = [s["t"] for s in samples] + [e["t"] for e in document["timeline"] if e["event"] in MILESTONE_EVENTS]
    targets = []
    if t_inject is not None:
        for name, m in document.get("measurements", {}).items():
            if m.get("target_seconds") is not None and m.get("kind") != "not_applicable":
                targets.append({"name": name, "t": t_inject + m["target_seconds"], "seconds": m["target_seconds"]})
    times += [target["t"] for target in targets]
    t0, t1 = min(times), max(times)
    span = max(t1 - t0, 1e-3)
    plot = WIDTH - LEFT - RIGHT

    def x(t: float) -> float:
        return round(LEFT + (t - t0) / span * plot, 1)

    present = {s.get("probe") for s in samples}
    lanes = [(probe, label) for probe, label in LANES if probe in present]
    lane_y = {probe: LANE_TOP + i * LANE_GAP for i, (probe, _) in enumerate(lanes)}
    axis_y = LANE_TOP + len(lanes) * LANE_GAP
    dots = [
        {
            "x": x(s["t"]),
            "y": lane_y[s["probe"]],
            "state": _state(s),
            "colour": STATE_COLOURS[_state(s)],
            "probe": s["probe"],
            "offset": s["t"] - (t_inject or t0),
        }
        for s in samples
        if s.get("probe") in lane_y
    ]
    shown = [e for e in document["timeline"] if e["event"] in MILESTONE_EVENTS]
    markers = [{"x": x(e["t"]), "label": MILESTONE_EVENTS[e["event"]], "event": e["event"]} for e in shown]
    # Milestones closer than a label's width share one label; labels take turns on three rows.
    labels: list[dict[str, Any]] = []
    for marker in markers:
        if labels and marker["x"] - labels[-1]["x"] < 40:
            labels[-1]["text"] += ", " + marker["label"]
        else:
            labels.append({"x": marker["x"], "text": marker["label"]})
    for i, label in enumerate(labels):
        label["y"] = 10 + (i % 3) * 10
        label["anchor"] = _anchor(label["x"], label["text"])
    for marker in markers:
        marker["top"] = next(label["y"] for label in reversed(labels) if label["x"] <= marker["x"]) + 2
    ticks = []
    origin = t_inject if t_inject is not None else t0
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if span / s <= 12)
    k = int((t0 - origin) // step)
    while origin + k * step <= t1:
        if origin + k * step >= t0:
            ticks.append({"x": x(origin + k * step), "label": f"{k * step:+g} s" if t_inject is not None else f"{k * step:g} s"})
        k += 1
    return {
        "width": WIDTH,
        "height": axis_y + 60,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "axis_y": axis_y,
        "lanes": [{"y": lane_y[probe], "label": label} for probe, label in lanes],
        "dots": dots,
        "markers": markers,
        "labels": labels,
        "targets": [_target(target, x(target["t"]), axis_y - 4 - (i % 2) * 12) for i, target in enumerate(targets)],
        "ticks": ticks,
    }


def _anchor(x: float, text: str) -> str:
    """Right-align a label that would run past the chart's right edge (about 6 px per character)."""
    return "end" if x + CHAR_WIDTH * len(text) > WIDTH else "start"


def _target(target: dict[str, Any], x: float, y: float) -> dict[str, Any]:
    text = f"target {objective_label(target['name'])} {target['seconds']:g} s"
    return {**target, "x": x, "y": y, "text": text, "anchor": _anchor(x, text)}
