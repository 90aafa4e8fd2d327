"""Stack and region from drillkit.toml (and the samconfig.toml environment it names); shell completion."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drillkit import cli, client

from ..conftest import ROOT

DRILLKIT = str(Path(sys.executable).parent / "drillkit")


@pytest.fixture
def where(monkeypatch, tmp_path):
    """A project directory without environment overrides; returns the deployments the CLI asked for."""
    for name in ("DRILLKIT_STACK", "DRILLKIT_CONFIG", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    calls: list[tuple] = []
    monkeypatch.setattr(client, "from_stack", lambda name, region: calls.append(("stack", name, region)) or "stack")
    monkeypatch.setattr(client, "from_lab_file", lambda path, endpoint: calls.append(("lab", str(path))) or "lab")
    return calls


def test_drillkit_toml_gives_stack_and_region_when_no_flag_or_variable_does(where, monkeypatch, tmp_path):
    (tmp_path / "drillkit.toml").write_text('stack_name = "drillkit-staging"\nregion = "eu-west-1"\n')

    cli._deployment(None, None, None, None)  # the file
    monkeypatch.setenv("DRILLKIT_STACK", "drillkit-other")
    cli._deployment(None, None, None, None)  # the variable beats the file, the file still gives the region
    cli._deployment(None, None, "drillkit-flag", "ap-south-1")  # flags beat both
    cli._deployment(None, tmp_path / "lab.json", None, None)  # a lab flag: the lab, whatever the file says

    assert where == [
        ("stack", "drillkit-staging", "eu-west-1"),
        ("stack", "drillkit-other", "eu-west-1"),
        ("stack", "drillkit-flag", "ap-south-1"),
        ("lab", str(tmp_path / "lab.json")),
    ]


def test_the_region_variable_beats_the_file_through_the_command_line(where, monkeypatch, tmp_path):
    (tmp_path / "drillkit.toml").write_text('stack_name = "drillkit-staging"\nregion = "eu-west-1"\n')
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setattr(cli, "status_of", lambda record: (_ for _ in ()).throw(SystemExit(0)))

    CliRunner().invoke(cli.app, ["status", "d-20260101T000000Z-0001"])

    assert where == [("stack", "drillkit-staging", "eu-central-1")]


def test_samconfig_env_named_in_drillkit_toml_gives_the_deployed_stack(where, tmp_path):
    shutil.copy(ROOT / "samconfig.toml", tmp_path / "samconfig.toml")
    (tmp_path / "drillkit.toml").write_text('samconfig_env = "prod"\n')

    cli._deployment(None, None, None, None)

    assert where == [("stack", "drillkit-prod", "us-east-1")]


def test_samconfig_toml_alone_is_not_read_and_the_lab_stays_the_default(where, tmp_path):
    shutil.copy(ROOT / "samconfig.toml", tmp_path / "samconfig.toml")

    cli._deployment(None, None, None, None)

    assert where == [("lab", str(cli.DEFAULT_LAB_FILE))]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('stack = "drillkit-staging"\n', "drillkit.toml is invalid: stack: unknown field"),
        ('region = "europe"\n', "drillkit.toml is invalid: region: String should match pattern"),
        ('stack_name = "drillkit\n', "drillkit.toml: not valid TOML"),
        ('samconfig_env = "qa"\n', "drillkit.toml: samconfig_env 'qa': cannot read samconfig.toml"),
    ],
)
def test_a_bad_drillkit_toml_is_one_line_naming_the_file_and_the_key(where, tmp_path, content, expected):
    (tmp_path / "drillkit.toml").write_text(content)

    result = CliRunner().invoke(cli.app, ["list"])

    assert result.exit_code == 2
    assert expected in " ".join(result.output.split()) and "Traceback" not in result.output
    assert where == []


def test_a_config_variable_naming_a_missing_file_is_refused(where, monkeypatch, tmp_path):
    monkeypatch.setenv("DRILLKIT_CONFIG", str(tmp_path / "nope.toml"))

    result = CliRunner().invoke(cli.app, ["list"])

    assert result.exit_code == 2 and "DRILLKIT_CONFIG names" in " ".join(result.output.split())


def test_bash_completion_is_shown_and_completes_commands_and_choices(tmp_path):
    env = {**os.environ, "SHELL": "/bin/bash", "HOME": str(tmp_path)}

    def in_bash(option: str) -> subprocess.CompletedProcess[str]:
        # Typed at a bash prompt: typer finds the shell among the process's ancestors, not in $SHELL, so bash must be
        # the nearest (under `make`, /bin/sh would be). The `; exit` keeps bash from exec'ing drillkit in its place.
        line = f'"{DRILLKIT}" {option}; exit $?'
        return subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, timeout=60)

    shown = in_bash("--show-completion")
    assert shown.returncode == 0 and "complete -o default -F _drillkit_completion drillkit" in shown.stdout

    def complete(words: str) -> list[str]:
        asked = {**env, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
        done = subprocess.run([DRILLKIT], capture_output=True, text=True, env={**asked, "_DRILLKIT_COMPLETE": "complete_bash"})
        return done.stdout.split()

    assert complete("drillkit ini") == ["init"]
    assert complete("drillkit lab ") == ["up", "down"]
    assert complete("drillkit init --fault ") == ["health-check-inversion", "fail-targets", "block-primary-alb", "stop-cluster"]

    installed = in_bash("--install-completion")
    assert installed.returncode == 0
    assert (tmp_path / ".bash_completions" / "drillkit.sh").read_text().strip() == shown.stdout.strip()
