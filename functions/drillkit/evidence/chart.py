"""The report's timeline chart: sample readings per probe, milestones and targets, as plain shapes.

Geometry only (no I/O, no markup): the HTML template draws these as inline SVG, so the
report stays one self-contained file that any browser opens offline.
"""

from __future__ import annotations

from typing import Any

from drillkit import timeline as tl
from drillkit.milestones import CATALOGUE
from drillkit.milestones import label as objective_label
from drillkit.readings import (
    AlarmsReading,
    DnsClientReading,
    DnsReading,
    HealthCheckReading,
    HeartbeatReading,
    HttpReading,
    Reading,
)

WIDTH, LEFT, RIGHT = 900, 120, 20
CHAR_WIDTH = 6.5  # the widest an ordinary character of the chart's 11 px sans-serif font draws (see text_width)
# Glyph advance widths of an 11 px sans-serif (Helvetica/Arial metrics, rounded up): labels are laid out from these
# extents, so two labels never share pixels on one row.
_NARROW, _WIDE = set("ijlI.,:;|!'() "), set("mwMW@%")
LABEL_GAP = 6.0  # free pixels between two labels on one row
# Rows of labels: an 11 px font's box (ascent plus descent) measures 11.9 px in Chromium (scripts/chart_check.py,
# getBBox): 11 px rows made a row's descenders touch the next row's capitals. 14 px leaves 2 px between rows.
ROW_HEIGHT = 14
# Objectives measured as a data-loss window, not as a time after injection: never drawn on the time axis.
NOT_ON_TIME_AXIS = {"rpo"}
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


def _state(sample: Reading) -> str:
    if isinstance(sample, HealthCheckReading):
        return "primary" if sample.healthy is True else ("failed" if sample.healthy is False else "unknown")
    if isinstance(sample, AlarmsReading):
        return "failed" if sample.in_alarm else ("unknown" if sample.error else "primary")
    if isinstance(sample, HttpReading | HeartbeatReading) and not sample.ok:
        return "failed"
    if isinstance(sample, HeartbeatReading):
        return "primary"
    side = sample.side if isinstance(sample, DnsReading | DnsClientReading | HttpReading) else None
    return side if side in ("primary", "standby") else "unknown"


def timeline(document: dict[str, Any], samples: list[Reading]) -> dict[str, Any] | None:
    if not samples:
        return None
    events = tl.read(document["timeline"])
    t_inject = tl.first(events, "fault_injected")
    shown = [e for e in events if e.event in MILESTONE_EVENTS]
    times = [s.t for s in samples] + [e.t for e in shown]
    targets = []
    if t_inject is not None:
        for name, m in document.get("measurements", {}).items():
            if m.get("target_seconds") is not None and m.get("kind") != "not_applicable" and name not in NOT_ON_TIME_AXIS:
                targets.append({"name": name, "t": t_inject + m["target_seconds"], "seconds": m["target_seconds"]})
    times += [target["t"] for target in targets]
    t0, t1 = min(times), max(times)
    span = max(t1 - t0, 1e-3)
    plot = WIDTH - LEFT - RIGHT

    def x(t: float) -> float:
        return round(LEFT + (t - t0) / span * plot, 1)

    markers: list[dict[str, Any]] = [{"x": x(e.t), "label": MILESTONE_EVENTS[e.event], "event": e.event} for e in shown]
    # Milestones at (nearly) the same instant share one label; labels go on the first row where they fit.
    labels: list[dict[str, Any]] = []
    for marker in markers:
        if labels and marker["x"] - labels[-1]["x"] < 4:
            labels[-1]["text"] += ", " + marker["label"]
            labels[-1]["members"].append(marker)
        else:
            labels.append({"x": marker["x"], "text": marker["label"], "members": [marker]})
    label_rows = _pack(labels)
    for label in labels:
        label["y"] = 10 + label.pop("row") * ROW_HEIGHT
        for marker in label.pop("members"):
            marker["top"] = label["y"] + 2
    lane_top = LANE_TOP + max(0, label_rows - 3) * ROW_HEIGHT

    present = {s.probe for s in samples}
    lanes = [(probe, label) for probe, label in LANES if probe in present]
    lane_y = {probe: lane_top + i * LANE_GAP for i, (probe, _) in enumerate(lanes)}
    # The targets' rows sit between the last lane and the axis, clear of the last lane's dots.
    drawn_targets = [_target(target, x(target["t"]), 0.0) for target in targets]
    target_rows = _pack(drawn_targets) if drawn_targets else 0
    axis_y = lane_top + max(len(lanes) - 1, 0) * LANE_GAP + max(LANE_GAP, 14 + target_rows * ROW_HEIGHT)
    dots = [
        {
            "x": x(s.t),
            "y": lane_y[s.probe],
            "state": _state(s),
            "colour": STATE_COLOURS[_state(s)],
            "probe": s.probe,
            "offset": s.t - (t_inject or t0),
        }
        for s in samples
        if s.probe in lane_y
    ]
    for target in drawn_targets:
        target["y"] = axis_y - 4 - (target_rows - 1 - target.pop("row")) * ROW_HEIGHT
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
        "targets": drawn_targets,
        "label_top": lane_top - 14,
        "ticks": ticks,
    }


def text_width(text: str) -> float:
    """How wide the text draws in the chart's font: narrow glyphs 3.5 px, wide 9.5 px, capitals 7.5 px, others 6.5 px."""
    return sum(3.5 if c in _NARROW else 9.5 if c in _WIDE else 7.5 if c.isupper() else CHAR_WIDTH for c in text)


def extent(item: dict[str, Any]) -> tuple[float, float]:
    """The pixels a label covers horizontally, as the template draws it (2 px off its x, on the side of its anchor)."""
    width = text_width(item["text"])
    if item["anchor"] == "start":
        return item["x"] + 2, item["x"] + 2 + width
    return item["x"] - 2 - width, item["x"] - 2


def _pack(items: list[dict[str, Any]]) -> int:
    """Give each item (x, text) an anchor and the first row where its extent clears every other's; returns the rows used."""
    rows: list[list[tuple[float, float]]] = []
    for item in items:
        item["anchor"] = _anchor(item["x"], item["text"])
        left, right = extent(item)
        for number, taken in enumerate(rows):
            if all(right + LABEL_GAP <= a or b + LABEL_GAP <= left for a, b in taken):
                taken.append((left, right))
                item["row"] = number
                break
        else:
            rows.append([(left, right)])
            item["row"] = len(rows) - 1
    return max(len(rows), 1)


def _anchor(x: float, text: str) -> str:
    """Right-align a label that would run past the chart's right edge."""
    return "end" if x + 2 + text_width(text) > WIDTH else "start"


def _target(target: dict[str, Any], x: float, y: float) -> dict[str, Any]:
    text = f"target {objective_label(target['name'])} {target['seconds']:g} s"
    return {**target, "x": x, "y": y, "text": text, "anchor": _anchor(x, text)}
