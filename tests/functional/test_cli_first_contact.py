"""The CLI's first contact: where it runs (flags and environment), errors in one line, version, schema, browser, export."""

from __future__ import annotations

import json
import socket
from importlib import metadata
from pathlib import Path

import boto3
import pytest
import yaml
from jsonschema import Draft202012Validator
from moto import mock_aws
from typer.testing import CliRunner

from drillkit import cli, client
from drillkit.spec import scenario_json_schema

from ..conftest import ROOT


def _flat(text: str) -> str:
    return " ".join(text.split())


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_version_prints_the_installed_version():
    result = CliRunner().invoke(cli.app, ["--version"])

    assert result.exit_code == 0
    assert result.output.strip() == f"drillkit {metadata.version('drillkit')}"


@pytest.mark.parametrize(
    "command", [["report", "d-20260101T000000Z-0001"], ["follow", "d-20260101T000000Z-0001"], ["unlock", "env", "--reason", "x"]]
)
@pytest.mark.loopback  # a closed port on 127.0.0.1: a lab that is gone
def test_a_dead_lab_file_is_one_line_naming_the_file_and_lab_up_in_every_command(tmp_path, command):
    # Given a lab.json whose lab is gone (nothing listens on its endpoint)
    lab_file = tmp_path / "lab.json"
    lab_file.write_text(json.dumps({"endpoint_url": f"http://127.0.0.1:{_closed_port()}", "pid": 999999}))

    result = CliRunner().invoke(cli.app, [*command, "--lab-file", str(lab_file)])

    assert result.exit_code == 2
    assert f"{lab_file} is stale" in _flat(result.output) and "`drillkit lab up`" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_a_lab_file_that_is_not_json_is_named():
    with pytest.raises(Exception) as caught:
        path = Path("/nonexistent-dir/lab.json")
        client.live_lab(path)
    assert "does not exist" in str(caught.value) and "drillkit lab up" in str(caught.value)


def test_stack_and_region_come_from_the_environment_unless_a_lab_flag_is_given(monkeypatch, tmp_path):
    calls: list[tuple] = []
    monkeypatch.setattr(client, "from_stack", lambda name, region: calls.append(("stack", name, region)) or "stack")
    monkeypatch.setattr(client, "from_lab_file", lambda path, endpoint: calls.append(("lab", path, endpoint)) or "lab")
    monkeypatch.setenv("DRILLKIT_STACK", "drillkit-prod")

    assert cli._deployment(None, None, None, "eu-west-1") == "stack"
    assert cli._deployment(None, tmp_path / "lab.json", None, None) == "lab"
    assert cli._deployment("http://127.0.0.1:1", None, None, None) == "lab"
    monkeypatch.delenv("DRILLKIT_STACK")
    assert cli._deployment(None, None, None, None) == "lab"
    assert calls == [
        ("stack", "drillkit-prod", "eu-west-1"),
        ("lab", tmp_path / "lab.json", None),
        ("lab", cli.DEFAULT_LAB_FILE, "http://127.0.0.1:1"),
        ("lab", cli.DEFAULT_LAB_FILE, None),
    ]


def test_region_is_read_from_aws_region(monkeypatch):
    seen: list[str | None] = []
    monkeypatch.setattr(client, "from_stack", lambda name, region: seen.append(region) or client.Deployment("a", "b", "c", "r"))
    monkeypatch.setattr(
        client, "execution_of", lambda deployment, drill_id: (_ for _ in ()).throw(client.DrillNotFound("DRILL_ID: no drill"))
    )
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")

    result = CliRunner().invoke(cli.app, ["follow", "d-20260101T000000Z-0001", "--stack-name", "drillkit-prod"])

    assert seen == ["ap-southeast-2"]
    assert result.exit_code == 2 and "DRILL_ID: no drill" in result.output


def test_a_stack_and_a_lab_flag_together_are_refused_in_every_command():
    for command in (["report", "x"], ["stop", "x", "--reason", "r"], ["unlock", "e", "--reason", "r"], ["approve", "x"]):
        result = CliRunner().invoke(cli.app, [*command, "--stack-name", "s", "--lab-file", "lab.json"])
        assert result.exit_code == 2, command
        assert "not both" in result.output


def test_a_yaml_error_names_the_file_and_the_line(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: demo\ntarget:\n  hosted_zone: example.com\n   record_name: bad-indent\n")

    result = CliRunner().invoke(cli.app, ["run", str(broken), "--lab-file", str(tmp_path / "lab.json")])

    assert result.exit_code == 2
    assert f"{broken}:4:" in _flat(result.output)
    assert "not valid YAML" in result.output and "nothing was started" in result.output


def test_report_open_without_a_browser_says_where_the_file_is_and_exits_2(monkeypatch, tmp_path):
    page = tmp_path / "report.html"
    page.write_text("<html></html>")
    monkeypatch.setattr(cli.webbrowser, "open", lambda uri: False)

    assert cli.open_in_browser(page) == 2

    monkeypatch.setattr(cli.webbrowser, "open", lambda uri: True)
    assert cli.open_in_browser(page) == 0


def test_report_open_names_the_file_on_stderr(monkeypatch, tmp_path, capsys):
    page = tmp_path / "report.html"
    page.write_text("<html></html>")
    monkeypatch.setattr(cli.webbrowser, "open", lambda uri: False)

    cli.open_in_browser(page)

    assert str(page.resolve()) in _flat(capsys.readouterr().err)


def test_the_committed_scenario_schema_is_current_and_every_shipped_scenario_matches_it():
    import yaml

    committed = json.loads((ROOT / "docs" / "scenario.schema.json").read_text())
    assert committed == scenario_json_schema(), (
        "docs/scenario.schema.json is stale: run `drillkit scenario-schema --out docs/scenario.schema.json`"
    )
    validator = Draft202012Validator(committed)
    scenarios = sorted((ROOT / "scenarios").rglob("*.yaml"))
    assert scenarios
    for path in scenarios:
        problems = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not problems, f"{path}: {problems}"
    assert list(validator.iter_errors({"name": "x", "target": {}, "fault": {"type": "no-such-fault"}}))


@mock_aws
def test_an_export_of_an_empty_period_is_refused_unless_allowed(monkeypatch, tmp_path):
    # Given an evidence bucket with no drill in it
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="evidence")
    deployment = client.Deployment("arn:aws:states:us-east-1:123456789012:stateMachine:drill", "ledger", "evidence", "us-east-1")
    monkeypatch.setattr(cli, "_deployment", lambda *args: deployment)
    out = tmp_path / "e.tar.gz"
    args = ["evidence", "export", "--from", "2026-01-01", "--to", "2026-01-31", "--out", str(out)]

    refused = CliRunner().invoke(cli.app, args)
    allowed = CliRunner().invoke(cli.app, [*args, "--allow-empty"])

    # Then without --allow-empty: exit 2, said why, nothing written; with it: a warning and the archive
    assert refused.exit_code == 2
    assert "no sealed drill between 2026-01-01 and 2026-01-31" in _flat(refused.output)
    assert allowed.exit_code == 0, allowed.output
    assert "warning" in allowed.output and out.exists()


def test_run_json_prints_one_document_on_stdout_and_the_progress_on_stderr(monkeypatch, tmp_path):
    # Given a deployment whose drill runs to a PASS (the AWS calls stand in: this is the CLI's plumbing)
    deployment = client.Deployment("arn:aws:states:us-east-1:123456789012:stateMachine:drill", "ledger", "evidence", "us-east-1")
    monkeypatch.setattr(cli, "_deployment", lambda *args: deployment)
    monkeypatch.setattr(client, "start", lambda deployment, request: "arn:execution")
    monkeypatch.setattr(cli, "_follow", lambda deployment, drill_id, arn, out: {"status": "SUCCEEDED"})

    def download(deployment, drill_id, destination):
        folder = destination / drill_id
        folder.mkdir(parents=True)
        measurement = {"seconds": 4.0, "uncertainty_seconds": 0.5, "target_seconds": 30, "passed": True, "kind": "measured"}
        document = {"verdict": "PASS", "restore_verified": True, "measurements": {"recovery": measurement}, "findings": []}
        (folder / "report.json").write_text(json.dumps(document))
        return folder

    monkeypatch.setattr(client, "download_report", download)

    result = CliRunner().invoke(
        cli.app,
        [
            "run",
            str(ROOT / "scenarios" / "region-failover-health-check.yaml"),
            "--wait",
            "--json",
            "--reports-dir",
            str(tmp_path),
        ],
    )

    # Then stdout is exactly one JSON document with the verdict, and the exit code follows the verdict
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["verdict"] == "PASS" and document["status"] == "SUCCEEDED" and document["exit_code"] == 0
    assert document["measurements"] == {"recovery": 4.0}
    assert document["drill_id"].startswith("region-failover-health-check-")
    assert "Verdict: PASS" in result.stderr


@pytest.mark.loopback  # a closed port on 127.0.0.1: an endpoint that stopped answering
def test_an_aws_error_no_command_expected_is_one_line_and_exit_2_not_a_traceback(monkeypatch, capsys):
    # Given a deployment whose endpoint stops answering (the lab went away after its lab file was read)
    dead = client.Deployment(
        "arn:aws:states:us-east-1:123456789012:stateMachine:drill",
        "ledger",
        "evidence",
        "us-east-1",
        endpoint_url=f"http://127.0.0.1:{_closed_port()}",
    )
    monkeypatch.setattr(cli, "_deployment", lambda *args: dead)

    # When a command calls AWS through it, as the installed `drillkit` script runs (not through CliRunner)
    with pytest.raises(SystemExit) as exited:
        cli.app(["report", "d-20260101T000000Z-0001"], prog_name="drillkit")

    # Then one error line and exit 2
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err and "127.0.0.1" in err


def test_ctrl_c_reaches_the_cli_even_when_it_was_started_with_sigint_ignored():
    # Given a drillkit started as a shell starts an asynchronous command (`drillkit run --wait ... &`, a CI job):
    # SIGINT ignored, which Python would otherwise keep ignoring for the whole run
    import signal

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # When it runs any command
        with pytest.raises(SystemExit):
            cli.app(["--version"])

        # Then Ctrl-C raises KeyboardInterrupt again, which `run --wait` and `follow` turn into their answer
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_while_the_started_drill_is_announced_says_the_drill_goes_on(monkeypatch, capsys):
    # Given `run --wait` whose drill has started, and Ctrl-C arriving while its first line is being printed (a user
    # who sees the drill's id may press it then; a test that waits for that line does)
    from drillkit.spec import parse_scenario

    from ..conftest import DEMO_SCENARIO

    monkeypatch.setattr(client, "drill_request", lambda *_, **__: {"drill_id": "drill-1"})
    monkeypatch.setattr(client, "start", lambda *_: "arn:aws:states:us-east-1:123456789012:execution:drill:drill-1")
    announced = []

    def print_then_interrupt(*args, **kwargs):
        announced.append(args[0])
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.console, "print", print_then_interrupt)
    deployment = type("Deployment", (), {"label": "test deployment"})()

    # When the interrupt lands
    scenario = parse_scenario(yaml.safe_load(DEMO_SCENARIO.read_text()))
    try:
        code = cli.run_drill(deployment, scenario, "test", wait=True, reports_dir=Path("unused"))
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C while the drill was announced escaped `run --wait` (as a bare interrupt: no word of the drill)")

    # Then it exits 130 and says the drill goes on and how to follow or stop it, as for Ctrl-C while following
    said = " ".join(capsys.readouterr().err.split())
    assert code == 130 and announced[0].startswith("Drill [bold]drill-1[/]")
    assert "drill drill-1 goes on" in said and "drillkit follow drill-1" in said and "drillkit stop drill-1 --reason" in said
