"""The report chart in a real browser: renders a few report.html files in headless Chromium, takes screenshots, and
measures every text label of the chart with getBBox (in screen coordinates, through getScreenCTM) to check that no
two labels overlap, that every label is inside the chart, and that no RPO is drawn on the time axis.

    python scripts/chart_check.py [--out build/chart-check] [--chromium chromium] [REPORT_FOLDER...]

Needs a Chromium (Debian: `apt-get install chromium`); not part of CI. Exit 0 when every check passes, 1 otherwise,
2 when no browser is found. Screenshots and the rendered pages go to --out (build/ is gitignored).
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from drillkit.evidence import report  # noqa: E402
from tests.reports import (  # noqa: E402
    T0,
    T_INJECT,
    UNDO,
    drill_context,
    finished_restore,
    finished_state,
    record_of,
    samples_after_injection,
)

HEARTBEAT = {
    "primary_cluster_arn": "arn:aws:rds:us-east-1:123456789012:cluster:app-primary",
    "standby_cluster_arn": "arn:aws:rds:us-west-2:123456789012:cluster:app-standby",
    "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:drillkit-heartbeat",
}

# Runs in the page once it has laid out: every <text> of the chart's <svg>, its box in screen pixels.
PROBE = """
<script>
window.addEventListener('load', () => {
  const svg = document.querySelector('svg[role="img"]');
  const out = {labels: [], overlaps: [], outside: [], rpo: [], over_dots: [], struck: [], dots: 0, svg: null};
  if (svg) {
    const frame = svg.getBoundingClientRect();
    out.svg = [frame.left, frame.top, frame.right, frame.bottom];
    const boxes = [...svg.querySelectorAll('text')].map((node) => {
      const b = node.getBBox(), m = node.getScreenCTM();
      const p = (x, y) => new DOMPoint(x, y).matrixTransform(m);
      const a = p(b.x, b.y), c = p(b.x + b.width, b.y + b.height);
      return {text: node.textContent, box: [a.x, a.y, c.x, c.y]};
    });
    out.labels = boxes;
    // the readings' dots (the legend's own dots sit beside their words, not under them)
    const dots = [...svg.querySelectorAll('circle')].filter((c) => !c.closest('g[transform]')).map((c) => {
      const r = c.getBoundingClientRect();
      return [r.left, r.top, r.right, r.bottom];
    });
    for (const label of boxes) {
      const [l, t, r, bt] = label.box;
      const hit = dots.filter(([dl, dt, dr, db]) =>
        Math.min(r, dr) - Math.max(l, dl) > 0.5 && Math.min(bt, db) - Math.max(t, dt) > 0.5);
      if (hit.length) out.over_dots.push([label.text, hit.length]);
    }
    out.dots = dots.length;
    // a line painted after a label (later in the document) and crossing it strikes the label through
    const texts = [...svg.querySelectorAll('text')];
    for (const line of svg.querySelectorAll('line')) {
      const r = line.getBoundingClientRect();
      for (const [i, node] of texts.entries()) {
        if (!(node.compareDocumentPosition(line) & Node.DOCUMENT_POSITION_FOLLOWING)) continue;
        const [l, t, rr, bt] = boxes[i].box;
        // a vertical line's box is 0 px wide: widen it by its 1 px stroke
        if (Math.min(rr, r.right + 0.5) - Math.max(l, r.left - 0.5) > 0 && Math.min(bt, r.bottom) - Math.max(t, r.top) > 0.5)
          out.struck.push(boxes[i].text);
      }
    }
    for (let i = 0; i < boxes.length; i++) {
      const [l, t, r, bt] = boxes[i].box;
      if (l < frame.left - 0.5 || r > frame.right + 0.5 || t < frame.top - 0.5 || bt > frame.bottom + 0.5)
        out.outside.push(boxes[i].text);
      if (/RPO|data loss/i.test(boxes[i].text)) out.rpo.push(boxes[i].text);
      for (let j = i + 1; j < boxes.length; j++) {
        const [l2, t2, r2, b2] = boxes[j].box;
        const w = Math.min(r, r2) - Math.max(l, l2), h = Math.min(bt, b2) - Math.max(t, t2);
        if (w > 0.5 && h > 0.5) out.overlaps.push([boxes[i].text, boxes[j].text, +w.toFixed(1), +h.toFixed(1)]);
      }
    }
  }
  const pre = document.createElement('pre');
  pre.id = 'chart-check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


class Measured(BaseModel):
    """What the page's script found in one report's chart."""

    labels: list[dict[str, Any]]
    overlaps: list[tuple[str, str, float, float]]
    outside: list[str]
    rpo: list[str]
    over_dots: list[tuple[str, int]]
    struck: list[str]
    dots: int
    svg: list[float] | None


def _scenario() -> dict[str, Any]:
    scenario = yaml.safe_load((ROOT / "scenarios" / "region-failover-health-check.yaml").read_text())
    scenario.pop("alarms", None)
    scenario["objectives"].pop("alerting_seconds", None)
    scenario["data"] = {"heartbeat": HEARTBEAT}
    return dict(scenario)


def _finished(scenario: dict[str, Any], detection: float, dns: float, recovery: float) -> tuple[dict[str, Any], list[dict]]:
    context = drill_context(scenario)
    samples = samples_after_injection(detection, dns, recovery)
    document = report.build(record_of(context, finished_state(context)), samples, UNDO, ended_at=T0 + 60)
    return document, samples


def _nothing_injected(scenario: dict[str, Any]) -> tuple[dict[str, Any], list[dict]]:
    context = drill_context(scenario)
    readings = [{"t": T_INJECT - 5 + i, "probe": "http", "ok": True, "side": "primary"} for i in range(5)]
    state = {
        "drill": context.model_dump(mode="json"),
        "error": {"Error": "NotSteady", "Cause": "the standby never answered"},
        "restore": finished_restore(T0 + 61, []),
        "verification": {"done": True, "verified": True, "t": T0 + 62, "resources": {}, "note": "nothing was injected"},
    }
    document = report.build(record_of(context, state), readings, [], ended_at=T0 + 60)
    return document, readings


def cases() -> dict[str, tuple[str, dict[str, Any], list[dict]]]:
    """name -> (verdict, report.json document, samples); each fixture's verdict is checked to be the one named."""
    scenario = _scenario()
    close = copy.deepcopy(scenario)
    built = {
        "pass": ("PASS", *_finished(scenario, 3, 6, 9)),
        "pass-milestones-close": ("PASS", *_finished(close, 0.3, 0.6, 0.9)),
        "fail-recovery-late": ("FAIL", *_finished(scenario, 4, 12, 35)),
        "error-nothing-injected": ("ERROR", *_nothing_injected(scenario)),
    }
    for name, (verdict, document, _) in built.items():
        if document["verdict"] != verdict:
            raise SystemExit(f"{name}: the fixture gives {document['verdict']}, not {verdict}")
    return built


def _drill(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A drill's report.json and samples.jsonl, as `drillkit run` copies them (drawn again with this checkout's code)."""
    document = json.loads((folder / "report.json").read_text())
    lines = (folder / "samples.jsonl").read_text().splitlines() if (folder / "samples.jsonl").exists() else []
    return document, [json.loads(line) for line in lines if line.strip()]


def chromium(explicit: str | None) -> str | None:
    for name in [explicit] if explicit else ["chromium", "chromium-browser", "google-chrome"]:
        found = shutil.which(name) if name else None
        if found:
            return found
    return None


def _browser(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chart-check-") as profile:
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}"]
        return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, check=False)


def check(binary: str, name: str, page: str, out: Path) -> Measured:
    """Screenshot the report as it is; measure its chart in a copy that carries the probe script."""
    original = out / f"{name}.html"
    original.write_text(page)
    _browser(binary, "--window-size=1280,1400", f"--screenshot={out / (name + '.png')}", original.resolve().as_uri())
    probed = out / f"{name}.probe.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    dumped = _browser(binary, "--virtual-time-budget=3000", "--dump-dom", probed.resolve().as_uri())
    found = re.search(r'<pre id="chart-check">(.*?)</pre>', dumped.stdout, re.S)
    if not found:
        raise SystemExit(f"{name}: the page's measurement did not come back (chromium said: {dumped.stderr[-500:]})")
    return Measured.model_validate(json.loads(html.unescape(found.group(1))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "chart-check")
    parser.add_argument("--chromium", default=None, help="the browser binary (default: chromium on PATH)")
    parser.add_argument(
        "reports", nargs="*", type=Path, help="report folders of real drills (report.json, samples.jsonl), drawn anew"
    )
    args = parser.parse_args()
    binary = chromium(args.chromium)
    if binary is None:
        print("chart check: no Chromium found (Debian: apt-get install chromium); nothing checked", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failures = labels = overlaps = over_dots = 0
    pages = {}
    for name, (verdict, document, samples) in cases().items():
        pages[name] = (verdict, report.render_html(document, samples), bool(samples))
    for number, folder in enumerate(args.reports):
        document, samples = _drill(folder)
        drawn = report.render_html(document, samples)
        pages[f"drill-{number}-{document['verdict']}"] = (document["verdict"], drawn, bool(samples))
    for name, (verdict, page, sampled) in pages.items():
        measured = check(binary, name, page, args.out)
        problems = [f"overlap {a!r} / {b!r} ({w} x {h} px)" for a, b, w, h in measured.overlaps]
        problems += [f"outside the chart: {text!r}" for text in measured.outside]
        problems += [f"RPO on the time axis: {text!r}" for text in measured.rpo]
        problems += [f"label over {count} reading(s): {text!r}" for text, count in measured.over_dots]
        problems += [f"a line drawn over the label {text!r}" for text in dict.fromkeys(measured.struck)]
        if verdict == "ERROR" and "after the fault was injected" in page:
            problems.append("an ERROR drill that injected nothing speaks of 'after the fault was injected'")
        if measured.svg is None and sampled:
            problems.append("no chart drawn")
        labels += len(measured.labels)
        overlaps += len(measured.overlaps)
        over_dots += len(measured.over_dots)
        failures += bool(problems)
        status = "ok" if not problems else "FAILED"
        print(
            f"{name:24} {verdict:6} {len(measured.labels):3} labels  {len(measured.overlaps)} overlaps  "
            f"{len(measured.over_dots)} over readings ({measured.dots} dots)  {status}"
        )
        for problem in problems:
            print(f"    {problem}")
    print(
        f"chart check: {labels} labels measured, {overlaps} overlaps, {over_dots} over readings, "
        f"{failures} report(s) failing; screenshots in {args.out}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
