"""The evidence commands refuse bad input by name before touching anything."""

from __future__ import annotations

import tarfile

from typer.testing import CliRunner

from drillkit.cli import app


def test_export_names_an_unknown_framework_and_a_bad_date(tmp_path):
    lab_file = str(tmp_path / "lab.json")
    framework = CliRunner().invoke(
        app,
        [
            "evidence",
            "export",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--framework",
            "sox",
            "--out",
            "e.tar.gz",
            "--lab-file",
            lab_file,
        ],
    )
    date = CliRunner().invoke(
        app, ["evidence", "export", "--from", "2026-13-01", "--to", "2026-12-31", "--out", "e.tar.gz", "--lab-file", lab_file]
    )

    assert (
        framework.exit_code == 2
        and "--framework 'sox' is not one of hipaa, pci-dss, soc2, iso27001, dora, nist" in framework.output
    )
    assert date.exit_code == 2 and "--from '2026-13-01' is not a date" in date.output
    assert not (tmp_path / "e.tar.gz").exists()


def test_verify_says_what_is_wrong_with_something_that_is_not_an_export(tmp_path):
    not_an_export = tmp_path / "photos.tar.gz"
    with tarfile.open(not_an_export, "w:gz") as bundle:
        bundle.add(__file__, arcname="photo.jpg")

    missing = CliRunner().invoke(app, ["evidence", "verify", str(tmp_path / "nothing.tar.gz")])
    wrong = CliRunner().invoke(app, ["evidence", "verify", str(not_an_export)])

    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert wrong.exit_code == 1 and "holds no index.json: not a drillkit evidence export" in wrong.output
