"""`make build` says in one line that it needs the Lambda runtime's interpreter, before installing anything."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT

CHECK = ROOT / "scripts" / "check_build_python.py"


def fake_interpreter(folder: Path, name: str, prints: str) -> None:
    """An executable that answers the version query like a Python would."""
    path = folder / name
    path.write_text(f"#!/bin/sh\necho {prints}\n")
    path.chmod(0o755)


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK)], env={"PATH": str(path)}, capture_output=True, text=True, check=False)


def test_make_build_without_the_runtime_interpreter_stops_at_once_naming_it_and_the_fix(tmp_path):
    # Given a PATH without python3.13 (make and the shell are found by absolute path)
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is needed to build drillkit")
    # When make build runs
    built = subprocess.run(
        [make, "-C", str(ROOT), "build", f"PYTHON={sys.executable}", f"SAM_VENV={tmp_path / 'sam'}"],
        env={"PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then it fails before installing SAM or building, with one line that names the need and the fix
    assert built.returncode != 0
    assert not (tmp_path / "sam").exists()
    [line] = [line for line in built.stderr.splitlines() if line.startswith("make build:")]
    assert "python3.13" in line and "no python3.13 on PATH" in line and "install" in line
    assert "3.11+" in line


def test_the_check_passes_with_a_python313_on_path(tmp_path):
    fake_interpreter(tmp_path, "python3.13", "3.13")
    checked = run_check(tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == ""


def test_a_python313_that_is_not_one_is_refused(tmp_path):
    fake_interpreter(tmp_path, "python3.13", "3.12")
    checked = run_check(tmp_path)
    assert checked.returncode == 1
    assert "is not a working Python 3.13 (it says: 3.12)" in checked.stderr


def test_the_check_reads_the_runtime_from_the_template():
    spec = importlib.util.spec_from_file_location("check_build_python", CHECK)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.lambda_runtime() == "python3.13"
