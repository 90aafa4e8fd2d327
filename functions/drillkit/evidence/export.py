"""Export a period of sealed drill evidence as one archive an auditor can verify offline.

Workstation side. Reads the evidence bucket with the caller's credentials (s3:ListBucket,
s3:GetObject) and the signing key's public half (kms:GetPublicKey), and writes:

    <name>/index.json             what is in the export, every top-level file's SHA-256, its own digest
    <name>/summary.md, summary.json  drills of the period against the framework's clauses
    <name>/keys/<key-id>.pem      public key(s) that signed the manifests
    <name>/drills/<id>/...        report.json, report.html, junit.xml, summary.md, samples.jsonl,
                                  manifest.json, manifest.sig, exactly as stored
    <name>/gamedays/<id>/...      gameday.json, gameday.html, junit.xml, manifest.json, manifest.sig

Game-days started in the period come with every drill they ran that was sealed (even one sealed after
the period's end), so an auditor reads each game-day next to its drills' own reports.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from drillkit.errors import ExportFailed
from drillkit.evidence import frameworks
from drillkit.evidence.summary import cell
from drillkit.evidence.verify import INDEX_FORMAT, MANIFEST, SIGNATURE, write_index


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: str, end: str) -> Period:
        first, last = _when(start, "--from", end_of_day=False), _when(end, "--to", end_of_day=True)
        if last < first:
            raise ExportFailed(f"--to {end} is before --from {start}")
        return cls(first, last)

    def holds(self, stamp: str) -> bool:
        return self.start <= frameworks.parse_time(stamp) <= self.end


def _when(value: str, option: str, end_of_day: bool) -> datetime:
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, day_time.max if end_of_day else day_time.min, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ExportFailed(f"{option} {value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Bucket:
    """The evidence bucket as the export reads it."""

    def __init__(self, s3: Any, name: str):
        self.s3 = s3
        self.name = name

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            found.extend(o["Key"] for o in page.get("Contents", []))
        return found

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.name, Key=key)["Body"].read()


Sealed = tuple[str, dict[str, Any], bytes]  # (member id, manifest, manifest bytes)


def _manifests(bucket: Bucket, folder: str = "drills") -> list[Sealed]:
    """Every sealed member of a chain (drills/ or gamedays/) in the bucket, in chain order."""
    sealed = []
    for key in bucket.keys(f"{folder}/"):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == MANIFEST:
            body = bucket.get(key)
            sealed.append((parts[1], json.loads(body), body))
    return sorted(sealed, key=lambda s: (s[1]["chain"]["sequence"], s[1]["signed_at"]))


def select(sealed: list[Sealed], period: Period, also: frozenset[str] = frozenset()) -> list[Sealed]:
    """Members started in the period (and those named in `also`), plus any chain member between them, so the chain stays whole."""
    inside = [s[1]["chain"]["sequence"] for s in sealed if period.holds(s[1]["started_at"]) or s[0] in also]
    if not inside:
        return []
    low, high = min(inside), max(inside)
    return [s for s in sealed if low <= s[1]["chain"]["sequence"] <= high]


def public_key_pem(kms: Any, key_arn: str, expected_sha256: str) -> bytes:
    der = kms.get_public_key(KeyId=key_arn)["PublicKey"]
    if hashlib.sha256(der).hexdigest() != expected_sha256:
        raise ExportFailed(f"the public key of {key_arn} is not the one the manifests name (SHA-256 {expected_sha256})")
    key = serialization.load_der_public_key(der)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def gameday_summary(document: dict[str, Any], exported: set[str]) -> dict[str, Any]:
    """A game-day as summary.json lists it: its verdict and every drill, saying whether its sealed report is in the export."""
    return {
        "gameday_id": document["gameday_id"],
        "name": document["name"],
        "started_at": document["started_at"],
        "verdict": document["verdict"],
        "schedule": document.get("schedule"),
        "drills": [
            {
                "drill_id": d["drill_id"],
                "scenario": d["scenario"],
                "environment": d["environment"],
                "verdict": d["verdict"],
                "in_export": d["drill_id"] in exported,
            }
            for d in document["drills"]
        ],
    }


def summarise(
    reports: list[dict[str, Any]],
    framework: str | None,
    period: Period,
    generated_at: str,
    gamedays: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    drills = [
        {
            "drill_id": r["drill_id"],
            "scenario": r["scenario"]["name"],
            "scenario_version": r["scenario"]["version"],
            "started_at": r["started_at"],
            "verdict": r["verdict"],
            "restore_verified": r["restore_verified"],
            "measurements": {name: m["seconds"] for name, m in r.get("measurements", {}).items()},
            "findings": len(r.get("findings", [])),
            "deployment": r.get("deployment"),  # where it ran (schema 1.3); None for older reports
        }
        for r in sorted(reports, key=lambda r: r["started_at"])
    ]
    in_period = [r for r in reports if period.holds(r["started_at"])]
    return {
        "period": {"from": period.start.isoformat(timespec="seconds"), "to": period.end.isoformat(timespec="seconds")},
        "framework": framework,
        "generated_at": generated_at,
        "drills": drills,
        "gamedays": [gameday_summary(g, {d["drill_id"] for d in drills}) for g in gamedays or []],
        "clauses": frameworks.assess(in_period, framework, period.end),
    }


def _where(drill: dict[str, Any]) -> str:
    deployment = drill.get("deployment") or {}
    return str(deployment.get("label") or "not recorded")


def render_summary(summary: dict[str, Any]) -> bytes:
    framework = summary["framework"]
    title = frameworks.FRAMEWORK_TITLES[framework] if framework else "all frameworks"
    lines = [
        f"# DR drill evidence: {title}",
        "",
        f"Period {summary['period']['from']} to {summary['period']['to']}; exported {summary['generated_at']}.",
        "Verify with `drillkit evidence verify <this archive>`: every hash, signature and chain link, offline.",
        "",
        "## Drills",
        "",
        "| Drill | Scenario | Where it ran | Started | Verdict | Restore verified | Findings |",
        "|---|---|---|---|---|---|---:|",
    ]
    for d in summary["drills"]:
        lines.append(
            f"| `{d['drill_id']}` | {cell(d['scenario'])} v{cell(d['scenario_version'])} | {cell(_where(d))} "
            f"| {d['started_at']} | {d['verdict']} "
            f"| {'yes' if d['restore_verified'] else 'NO'} | {d['findings']} |"
        )
    if not summary["drills"]:
        lines.append("| (no drill in the period) | | | | | | |")
    lines += _gameday_lines(summary.get("gamedays", []))
    lines += ["", "## Clauses", "", "| Framework | Clause | Status | Evidence | Missing |", "|---|---|---|---|---|"]
    for c in summary["clauses"]:
        latest = c["drills"][-1] if c["drills"] else None
        shown = [e.split(": ", 1)[1] for e in c["evidence"] if latest and e.startswith(latest + ": ")]
        evidence = f"{len(c['drills'])} drill(s); latest `{latest}`: " + "; ".join(shown) if latest else ""
        lines.append(
            f"| {c['framework']} | {cell(c['clause'])}: {cell(c['title'])} | **{c['status']}** | {cell(evidence) or '-'} "
            f"| {cell('; '.join(c['missing'])) or '-'} |"
        )
    return ("\n".join(lines) + "\n").encode()


def _gameday_lines(gamedays: list[dict[str, Any]]) -> list[str]:
    if not gamedays:
        return []
    lines = ["", "## Game-days", "", "| Game-day | Plan | Started | Verdict | Drills (verdict) |", "|---|---|---|---|---|"]
    for g in gamedays:
        missing = " (no sealed report)"
        drills = "; ".join(
            f"`{d['drill_id']}` {d['verdict']}" + ("" if d["in_export"] or d["verdict"] == "NOT_STARTED" else missing)
            for d in g["drills"]
        )
        lines.append(f"| `{g['gameday_id']}` | {cell(g['name'])} | {g['started_at']} | {g['verdict']} | {cell(drills)} |")
    return lines


@dataclass
class ExportResult:
    path: Path
    drills: int
    files: int
    bytes: int
    gamedays: int = 0


class _Writer:
    """Copies sealed members into the export's folder and collects the public keys that signed them."""

    def __init__(self, bucket: Bucket, kms: Any, root: Path):
        self.bucket, self.kms, self.root = bucket, kms, root
        self.keys: dict[str, bytes] = {}

    def copy(self, folder: str, member: Sealed) -> dict[str, Any]:
        """Write one member's artifacts as stored; returns its index entry."""
        member_id, manifest, manifest_bytes = member
        target = self.root / folder / member_id
        target.mkdir(parents=True)
        names = [a["name"] for a in manifest["artifacts"]] + [MANIFEST] + ([SIGNATURE] if manifest.get("signing") else [])
        for file_name in names:
            body = manifest_bytes if file_name == MANIFEST else self.bucket.get(f"{folder}/{member_id}/{file_name}")
            (target / file_name).write_bytes(body)
        signing = manifest.get("signing")
        if signing and signing["key_id"] not in self.keys:
            self.keys[signing["key_id"]] = public_key_pem(self.kms, signing["key_arn"], signing["public_key_sha256"])
        id_field = "gameday_id" if folder == "gamedays" else "drill_id"
        return {
            id_field: member_id,
            "sequence": manifest["chain"]["sequence"],
            "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        }

    def document(self, folder: str, member_id: str, name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.root / folder / member_id / name).read_bytes())
        return loaded


def export(
    s3: Any, kms: Any, bucket_name: str, period: Period, framework: str | None, out: Path, generated_at: float | None = None
) -> ExportResult:
    if framework is not None and framework not in frameworks.FRAMEWORKS:
        raise ExportFailed(f"--framework {framework!r} is not one of {', '.join(frameworks.FRAMEWORKS)}")
    if not (out.name.endswith((".tar.gz", ".tgz", ".zip"))):
        raise ExportFailed(f"--out {out}: name it .tar.gz, .tgz or .zip")
    bucket = Bucket(s3, bucket_name)
    gamedays = select(_manifests(bucket, "gamedays"), period)
    ran = frozenset(
        d["drill_id"]
        for gameday_id, _, _ in gamedays
        for d in json.loads(bucket.get(f"gamedays/{gameday_id}/gameday.json"))["drills"]
        if d["report_key"]
    )
    sealed_drills = _manifests(bucket)
    chosen = select(sealed_drills, period, also=ran & {s[0] for s in sealed_drills})
    stamp = datetime.fromtimestamp(generated_at if generated_at is not None else time.time(), tz=UTC)
    name = f"drillkit-evidence-{period.start.date()}-{period.end.date()}" + (f"-{framework}" if framework else "")
    with tempfile.TemporaryDirectory(prefix="drillkit-export-") as work:
        root = Path(work) / name
        root.mkdir()
        writer = _Writer(bucket, kms, root)
        entries = [writer.copy("drills", member) for member in chosen]
        reports = [writer.document("drills", member[0], "report.json") for member in chosen]
        gameday_entries = [writer.copy("gamedays", member) for member in gamedays]
        documents = [writer.document("gamedays", member[0], "gameday.json") for member in gamedays]
        summary = summarise(reports, framework, period, stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), documents)
        top = {
            "summary.json": (json.dumps(summary, indent=2) + "\n").encode(),
            "summary.md": render_summary(summary),
            **{f"keys/{key_id}.pem": pem for key_id, pem in writer.keys.items()},
        }
        (root / "keys").mkdir()
        for relative, body in top.items():
            (root / relative).write_bytes(body)
        write_index(
            root,
            {
                "format": INDEX_FORMAT,
                "generated_at": summary["generated_at"],
                "period": summary["period"],
                "framework": framework,
                "source": {"bucket": bucket_name},
                "drills": entries,
                "gamedays": gameday_entries,
                "files": {relative: hashlib.sha256(body).hexdigest() for relative, body in top.items()},
            },
        )
        files = sum(1 for p in root.rglob("*") if p.is_file())
        out.parent.mkdir(parents=True, exist_ok=True)
        _pack(root, out)
    return ExportResult(out, len(entries), files, out.stat().st_size, len(gameday_entries))


def _pack(root: Path, out: Path) -> None:
    members = sorted(p for p in root.rglob("*") if p.is_file())
    if out.suffix == ".zip":
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for path in members:
                bundle.write(path, path.relative_to(root.parent).as_posix())
        return
    with tarfile.open(out, "w:gz") as bundle:
        for path in members:
            info = tarfile.TarInfo(path.relative_to(root.parent).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            bundle.addfile(info, io.BytesIO(data))
