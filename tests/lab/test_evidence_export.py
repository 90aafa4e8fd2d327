"""Three real drills in the lab, one export for the year, and verify: every byte of every file counts."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drillkit.cli import app
from drillkit.evidence import verify

from ..conftest import DEMO_SCENARIO
from ..reports import assert_valid_report

pytestmark = pytest.mark.lab


@dataclass
class Export:
    archive: Path
    root: Path  # the archive extracted once; tamper tests change it in place and put it back
    drill_ids: list[str]


@pytest.fixture(scope="module")
def exported(lab, tmp_path_factory) -> Export:
    reports = tmp_path_factory.mktemp("evidence-reports")
    lab_file = str(lab.work_dir / "lab.json")
    for _ in range(3):
        result = CliRunner().invoke(
            app, ["run", str(DEMO_SCENARIO), "--wait", "--lab-file", lab_file, "--reports-dir", str(reports)]
        )
        assert result.exit_code == 0, result.output
    drill_ids = sorted(p.name for p in reports.iterdir())
    year = time.gmtime().tm_year
    archive = tmp_path_factory.mktemp("export") / "evidence.tar.gz"
    result = CliRunner().invoke(
        app,
        ["evidence", "export", "--from", f"{year}-01-01", "--to", f"{year}-12-31", "--out", str(archive), "--lab-file", lab_file],
    )
    assert result.exit_code == 0, result.output
    root = verify.extract(archive, tmp_path_factory.mktemp("extracted"))
    return Export(archive, root, drill_ids)


def files_of(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_the_export_holds_every_drill_of_the_year_and_verifies(exported):
    result = CliRunner().invoke(app, ["evidence", "verify", str(exported.archive)])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: ")
    index = json.loads((exported.root / "index.json").read_text())
    exported_ids = [d["drill_id"] for d in index["drills"]]
    assert set(exported.drill_ids) <= set(exported_ids)
    assert [d["sequence"] for d in index["drills"]] == list(
        range(index["drills"][0]["sequence"], index["drills"][0]["sequence"] + len(exported_ids))
    )
    for drill_id in exported.drill_ids:
        folder = exported.root / "drills" / drill_id
        names = {p.name for p in folder.iterdir()}
        assert names == {
            "report.json",
            "report.html",
            "junit.xml",
            "summary.md",
            "samples.jsonl",
            "manifest.json",
            "manifest.sig",
        }
        assert_valid_report(json.loads((folder / "report.json").read_text()))
    assert len(list((exported.root / "keys").glob("*.pem"))) == 1
    summary = json.loads((exported.root / "summary.json").read_text())
    assert {c["framework"] for c in summary["clauses"]} == {"hipaa", "pci-dss", "soc2", "iso27001", "dora", "nist"}
    assert "| nist | CP-4(4)" in (exported.root / "summary.md").read_text()


def one_byte_changed(content: bytes) -> bytes:
    """Flip a bit in the middle; an empty file (samples of a drill that never sampled) gains one byte."""
    if not content:
        return b"\n"
    changed = bytearray(content)
    changed[len(changed) // 2] ^= 0x01
    return bytes(changed)


def test_changing_one_byte_of_any_file_fails_verify_naming_that_file(exported):
    files = files_of(exported.root)
    assert len(files) >= 3 * 7 + 4
    for relative in files:
        path = exported.root / relative
        original = path.read_bytes()
        path.write_bytes(one_byte_changed(original))
        try:
            result = verify.verify_directory(exported.root)
        finally:
            path.write_bytes(original)
        assert not result.ok, relative
        assert result.first.path == relative, f"changed {relative}, verify named {result.first}"
    assert verify.verify_directory(exported.root).ok


def test_the_cli_exits_1_and_names_the_changed_file(exported, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(exported.root, copy)
    target = copy / "drills" / exported.drill_ids[1] / "report.json"
    target.write_bytes(target.read_bytes().replace(b'"verdict": "PASS"', b'"verdict": "FAIL"', 1))

    result = CliRunner().invoke(app, ["evidence", "verify", str(copy)])

    assert result.exit_code == 1
    assert f"drills/{exported.drill_ids[1]}/report.json: SHA-256 does not match manifest.json" in result.output


def test_removing_a_report_from_the_chain_fails_verify_naming_it(exported, tmp_path):
    middle = exported.drill_ids[1]
    copy = tmp_path / "copy"
    shutil.copytree(exported.root, copy)
    shutil.rmtree(copy / "drills" / middle)

    result = verify.verify_directory(copy)
    assert not result.ok and result.first.path == f"drills/{middle}/manifest.json"
    assert "was removed" in result.first.message

    # A forger who also rewrites the index (and its digest) is caught by the signed chain links.
    index = json.loads((copy / "index.json").read_text())
    index["drills"] = [d for d in index["drills"] if d["drill_id"] != middle]
    verify.write_index(copy, {k: v for k, v in index.items() if k != "index_sha256"})
    result = verify.verify_directory(copy)
    assert not result.ok and result.first.path == f"drills/{middle}/manifest.json"
    assert "missing from the chain" in result.first.message


def test_drillkit_report_prints_one_drill_and_names_an_unknown_one(lab, exported, tmp_path):
    lab_file = str(lab.work_dir / "lab.json")
    drill_id = exported.drill_ids[0]

    shown = CliRunner().invoke(app, ["report", drill_id, "--lab-file", lab_file, "--reports-dir", str(tmp_path)])
    unknown = CliRunner().invoke(app, ["report", "no-such-drill-0000", "--lab-file", lab_file, "--reports-dir", str(tmp_path)])

    assert shown.exit_code == 0, shown.output
    assert f"Drill {drill_id}" in shown.output and "Verdict: PASS" in shown.output
    report = json.loads((tmp_path / drill_id / "report.json").read_text())
    assert f"ended {report['ended_at']}" in shown.output
    assert (tmp_path / drill_id / "manifest.sig").exists()
    assert unknown.exit_code == 2 and "no report for drill no-such-drill-0000" in unknown.output
