"""The `drillkit` command: run drills in the local lab or against a deployed stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import webbrowser
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TextIO

import typer
import yaml
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from drillkit import client, settings
from drillkit.errors import DrillError, DrillNotRunning, ScenarioInvalid
from drillkit.evidence.frameworks import FRAMEWORKS
from drillkit.milestones import LABELS
from drillkit.record import DrillStatus, Phase, status_of, summary_of
from drillkit.scaffold.write import InitFault
from drillkit.spec import Scenario, parse_scenario

EXIT_PASS, EXIT_MISSED, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C left the drill running (the shell's convention for SIGINT)
VERDICT_EXIT = {"PASS": EXIT_PASS, "FAIL": EXIT_MISSED, "ERROR": EXIT_ERROR, "ABORTED": EXIT_ERROR}
DEMO_SCENARIO = "region-failover-health-check.yaml"
PHASES = {
    Phase.PREFLIGHT: "preflight: request valid, targets resolved, lock taken",
    Phase.AWAITING_APPROVAL: "protected environment: waiting for `drillkit approve DRILL_ID` (or reject DRILL_ID --reason)",
    Phase.STEADY_STATE: "checking steady state",
    Phase.INJECT: "injecting the fault",
    Phase.OBSERVE: "observing",
    Phase.RESTORE: "restoring",
    Phase.VERIFY: "verifying the restore",
    Phase.REPORT: "writing the report",
    Phase.DONE: "report written",
}

# What each state of the drill machine does, shown as the drill enters it (the history names the states).
STATES = {
    "Preflight": "request valid, targets resolved, lock taken",
    "AwaitApproval": "protected environment: waiting for `drillkit approve DRILL_ID` (or reject DRILL_ID --reason)",
    "SteadyState": "checking steady state",
    "Inject": "injecting the fault",
    "Observe": "observing",
    "Restore": "restoring",
    "RestoreWait": "waiting for the restore to settle",
    "VerifyRestore": "verifying the restore",
    "Report": "writing the report",
}
console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


class _App(typer.Typer):
    """The `drillkit` command: an AWS or network error a command did not expect is one line and exit 2, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Ctrl-C is part of the interface (run --wait, follow): Python ignores SIGINT for good when it starts with
        # SIGINT ignored, as a shell leaves it for an asynchronous command (`cmd &`, a CI runner's job); take it back.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            return super().__call__(*args, **kwargs)
        except (BotoCoreError, ClientError) as error:
            errors.print(f"[bold red]error:[/] {error}", soft_wrap=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:  # Ctrl-C outside what a command handles (while it starts, or while it exits): no traceback
            sys.exit(EXIT_INTERRUPTED)


app = _App(help="DR drills for multi-region AWS stacks.", no_args_is_help=True, add_completion=True)
lab_app = typer.Typer(help="The local lab: a local cloud and a simulated two-region stack.", no_args_is_help=True)
app.add_typer(lab_app, name="lab")
evidence_app = typer.Typer(help="Signed drill evidence: export a period for an auditor, verify an export.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")


def _version(value: bool) -> None:
    if value:
        console.print(f"drillkit {metadata.version('drillkit')}")
        raise typer.Exit(EXIT_PASS)


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """DR drills for multi-region AWS stacks: in the local lab or against a deployed drillkit stack."""


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


# -- where drillkit runs: one flag set, the same meaning in every command --------------------------------
DEFAULT_LAB_FILE = Path(".drillkit/lab.json")
STACK_VARIABLE = settings.STACK_VARIABLE
EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint", help="Endpoint of a running lab; must be the one its lab file describes."),
]
LabFileOption = Annotated[
    Path | None,
    typer.Option("--lab-file", help=f"The lab description `drillkit lab up` writes (default {DEFAULT_LAB_FILE})."),
]
StackOption = Annotated[
    str | None,
    typer.Option(
        "--stack-name",
        help=f"Deployed drillkit stack (AWS); default ${STACK_VARIABLE}, then drillkit.toml, when no lab flag is given.",
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        envvar=["AWS_REGION", "AWS_DEFAULT_REGION"],
        help="AWS region of the stack (or $AWS_REGION, $AWS_DEFAULT_REGION, then drillkit.toml).",
    ),
]


def _deployment(endpoint: str | None, lab_file: Path | None, stack_name: str | None, region: str | None) -> client.Deployment:
    """The lab (--endpoint, --lab-file) or a stack (--stack-name, else $DRILLKIT_STACK, else drillkit.toml, when no lab
    flag is given); the region from --region, $AWS_REGION, $AWS_DEFAULT_REGION, then drillkit.toml."""
    lab_asked = endpoint is not None or lab_file is not None
    if stack_name and lab_asked:
        raise _fail("give --stack-name, or --endpoint/--lab-file for a lab, not both")
    try:
        stack, region = settings.stack_and_region(stack_name, region, lab_asked)
    except DrillError as error:
        raise _fail(str(error)) from None
    if stack:
        return client.from_stack(stack, region)
    return client.from_lab_file(lab_file or DEFAULT_LAB_FILE, endpoint)


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; errors name the file and the field."""
    try:
        payload = yaml.safe_load(path.read_text())
    except OSError as error:
        raise _fail(f"cannot read scenario {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise _fail(f"{where}: not valid YAML: {problem}; nothing was started") from None
    try:
        return parse_scenario(payload)
    except ScenarioInvalid as error:
        lines = "\n".join(f"  {field}: {problem}" for field, problem in error.problems)
        raise _fail(f"scenario {path} is invalid; nothing was started:\n{lines}") from None


def _summary(report: dict[str, Any], report_dir: Path, out: Console = console) -> None:
    table = Table(title="Measurements against targets", title_justify="left")
    for column in ("Objective", "Measured", "Uncertainty", "Target", "Result"):
        table.add_column(column, justify="left" if column in ("Objective", "Result") else "right")
    for name, m in report.get("measurements", {}).items():
        not_applicable = m.get("kind") == "not_applicable"
        if not_applicable:
            result = "[dim]not applicable[/]"
        elif m.get("kind") == "configuration-applied":
            result = "[dim]configuration applied, not judged[/]"  # a setting read back, not an observation
        else:
            result = {None: "[dim]not judged[/]", True: "[green]met[/]", False: "[red]missed[/]"}[m["passed"]]
        table.add_row(
            LABELS.get(name, name),
            "-" if not_applicable else f"{m['seconds']:.2f} s" if m["seconds"] is not None else "not reached",
            f"± {m['uncertainty_seconds']:.2f} s",
            f"{m['target_seconds']:g} s" if m["target_seconds"] is not None else "-",
            result,
        )
    out.print(table)
    for finding in report.get("findings", []):
        out.print(f"  [red]{finding['severity']}[/] {finding['code']}: {finding['message']}")
    colour = "green" if report["verdict"] == "PASS" else "red"
    out.print(
        f"Verdict: [bold {colour}]{report['verdict']}[/]   "
        f"restore verified: {'yes' if report['restore_verified'] else '[red]NO[/]'}"
    )
    out.print(f"Report: {report_dir / 'report.html'}  (and report.json)", soft_wrap=True)


class Follower:
    """Prints a followed drill's progress: each state entered and exited (from the execution history), the injection and
    the milestones (from the drill record), with elapsed times and a spinner while a state runs."""

    def __init__(self, out: Console, started_at: float | None = None):
        self.out = out
        self.started_at = started_at
        self.entered: dict[str, float] = {}
        self.status: Any = None

    def _at(self, t: float) -> str:
        if self.started_at is None:
            self.started_at = t
        return f"[dim]+{t - self.started_at:7.1f}s[/]"

    def on_change(self, kind: str, value: Any) -> None:
        if kind == "state":
            self._state(value)
        elif kind == "injected":
            self.out.print(
                f"  {self._at(value)} [yellow]⚡[/] fault injected at {time.strftime('%H:%M:%S', time.gmtime(value))}Z"
            )
        elif kind == "milestone":
            name, seconds = value
            self.out.print(f"  {' ' * 9} [green]✓[/] {LABELS.get(name, name)} reached at +{seconds:.2f}s after injection")

    def _state(self, event: client.HistoryEvent) -> None:
        t = event.timestamp.timestamp()
        if event.ends_execution:
            status = event.type.removeprefix("Execution").upper().replace("TIMEDOUT", "TIMED_OUT")
            self.out.print(f"  {self._at(t)} [bold]■[/] execution {status}")
            return
        name = event.state or "?"
        quiet = event.kind in ("Choice", "Pass", "Succeed")
        if event.entered:
            self.entered[name] = t
            what = STATES.get(name, "")
            line = f"[dim]→ {name}[/]" if quiet else f"[cyan]▶[/] {name}" + (f": {what}" if what else "")
        else:
            took = t - self.entered.pop(name, t)
            line = f"[dim]← {name}[/]" if quiet else f"[green]■[/] {name} done in {took:.1f}s"
        self.out.print(f"  {self._at(t)} {line}", soft_wrap=True)

    def on_tick(self, progress: client.Progress) -> None:
        if self.status is None:
            return
        now = time.time()
        where = f"{progress.state} for {progress.in_state(now):.0f}s" if progress.state else "between states"
        self.status.update(f"{where} · drill running {_clock(progress.elapsed(now))}")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes // 60:d}:{minutes % 60:02d}:{rest:02d}"


def _follow(deployment: client.Deployment, drill_id: str, execution_arn: str, out: Console) -> dict[str, Any]:
    follower = Follower(out)
    with out.status("following the drill", spinner="dots") as status:
        follower.status = status
        return client.follow(deployment, drill_id, execution_arn, follower.on_change, on_tick=follower.on_tick)


def _conclude(
    deployment: client.Deployment, drill_id: str, execution: dict[str, Any], reports_dir: Path, out: Console, wait_seconds: float
) -> tuple[int, dict[str, Any] | None]:
    """After the execution ended: its report (the machine's, or the safety net's when it ended badly) and the exit code."""
    if execution["status"] != "SUCCEEDED":
        error, cause = client.execution_error(execution)
        errors.print(f"[bold red]drill {execution['status'].lower()}:[/] {error}: {cause}", soft_wrap=True)
        if client.ledger(deployment).load(drill_id) is None:
            return EXIT_ERROR, None  # preflight refused it: no record, nothing touched, nothing to report
        out.print("  the safety net restores and reports; waiting for its report")
        try:
            _wait_for_report(deployment, drill_id, out, wait_seconds)
        except TimeoutError as timeout:
            errors.print(f"[bold red]error:[/] {timeout}", soft_wrap=True)
            return EXIT_ERROR, None
    report_dir = client.download_report(deployment, drill_id, reports_dir)
    if not (report_dir / "report.json").exists():
        errors.print(f"[bold red]error:[/] no report for drill {drill_id} in the evidence bucket", soft_wrap=True)
        return EXIT_ERROR, None
    document = json.loads((report_dir / "report.json").read_text())
    _summary(document, report_dir, out)
    return VERDICT_EXIT[document["verdict"]], {"report_dir": str(report_dir), "report": document}


def _wait_for_report(deployment: client.Deployment, drill_id: str, out: Console, wait_seconds: float) -> client.RestoreOutcome:
    with out.status("waiting for the safety net: restore, verify, report", spinner="dots") as status:
        return client.wait_until_reported(
            deployment,
            drill_id,
            wait_seconds,
            on_tick=lambda waited: status.update(f"safety net: restore, verify, report · waited {_clock(waited)}"),
        )


def _print_restore(outcome: client.RestoreOutcome, out: Console) -> None:
    for record in outcome.records:
        colour = "green" if record.status == "restored" else "red"
        out.print(f"  undo {record.seq}: {record.resource_id} [{colour}]{record.status}[/]", soft_wrap=True)
    if not outcome.records:
        out.print("  nothing had been injected: nothing to restore")
    verified = {True: "[green]yes[/]", False: "[red]NO[/]", None: "[red]unknown (no report)[/]"}[outcome.restore_verified]
    out.print(f"Restore verified: {verified}   verdict: [bold]{outcome.verdict}[/]", soft_wrap=True)


def _stop_and_restore(
    deployment: client.Deployment, drill_id: str, by: str, reason: str, out: Console, wait_seconds: float
) -> int:
    """Stop the execution, wait for the safety net's report, print the restore's outcome. 0 only when verified restored."""
    stopped = client.stop(deployment, drill_id, by, reason)
    if not stopped["recorded"]:
        out.print(f"Stopped drill [bold]{drill_id}[/] ({stopped['cause']}) in preflight: nothing was touched", soft_wrap=True)
        return EXIT_PASS
    out.print(f"Stopped drill [bold]{drill_id}[/] ({stopped['cause']}); the safety net restores", soft_wrap=True)
    try:
        outcome = _wait_for_report(deployment, drill_id, out, wait_seconds)
    except TimeoutError as timeout:
        raise _fail(str(timeout)) from None
    ended = client.execution_of(deployment, drill_id)["status"]
    if ended != "ABORTED":
        out.print(f"  the drill's execution ended {ended} before the stop took effect: its own report stands", soft_wrap=True)
    _print_restore(outcome, out)
    return EXIT_PASS if outcome.restore_verified else EXIT_ERROR


def _interrupted(deployment: client.Deployment, drill_id: str, stop_on_interrupt: bool, wait_seconds: float) -> int:
    """Ctrl-C while following: ask nothing. The drill goes on, or (--stop-on-interrupt) is stopped and restored."""
    if not stop_on_interrupt:
        errors.print(
            f"\\nInterrupted: drill {drill_id} goes on (nothing was stopped; the lock is its own until it ends).\\n"
            f"  follow it:  drillkit follow {drill_id}\\n"
            f"  stop it:    drillkit stop {drill_id} --reason '...'   (the safety net restores)",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
        return EXIT_INTERRUPTED
    errors.print(f"\\nInterrupted: stopping drill {drill_id} (--stop-on-interrupt); the safety net restores", soft_wrap=True)
    try:
        code = _stop_and_restore(
            deployment, drill_id, _who(), "interrupted (Ctrl-C) during `drillkit run --wait`", errors, wait_seconds
        )
    except DrillNotRunning:
        errors.print(f"drill {drill_id} had already ended: `drillkit report {drill_id}`", soft_wrap=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        errors.print(
            f"\\nInterrupted again: the stop was sent and the safety net restores on its own; `drillkit follow {drill_id}`",
            soft_wrap=True,
            markup=False,
        )
        return EXIT_INTERRUPTED
    return EXIT_ERROR if code == EXIT_PASS else code  # stopped: the drill ended ABORTED, never a pass


def _who() -> str:
    return os.environ.get("USER", "unknown")


def run_drill(
    deployment: client.Deployment,
    scenario: Scenario,
    requested_by: str,
    wait: bool,
    reports_dir: Path,
    as_json: bool = False,
    stop_on_interrupt: bool = False,
    wait_seconds: float = 900,
) -> int:
    out = errors if as_json else console  # --json: the document on stdout, the progress on stderr
    request = client.drill_request(deployment, scenario, requested_by)
    drill_id = request["drill_id"]
    execution_arn = client.start(deployment, request)
    result: dict[str, Any] = {"drill_id": drill_id, "execution_arn": execution_arn, "deployment": deployment.label}
    # From here the drill runs: Ctrl-C at any moment, even while its first line is being printed (a user who sees
    # the drill's id may press it then), says what happens to the drill rather than escaping as a bare interrupt.
    try:
        out.print(f"Drill [bold]{drill_id}[/]: {scenario.name} v{scenario.version} on {deployment.label}", soft_wrap=True)
        if not wait:
            out.print(f"Started {execution_arn}; `drillkit follow {drill_id}` shows its progress", soft_wrap=True)
            if as_json:
                print(json.dumps({**result, "status": "RUNNING"}))
            return EXIT_PASS
        execution = _follow(deployment, drill_id, execution_arn, out)
    except KeyboardInterrupt:
        return _interrupted(deployment, drill_id, stop_on_interrupt, wait_seconds)
    code, concluded = _conclude(deployment, drill_id, execution, reports_dir, out, wait_seconds)
    if as_json:
        document = (concluded or {}).get("report") or {}
        print(
            json.dumps(
                {
                    **result,
                    "status": execution["status"],
                    "verdict": document.get("verdict"),
                    "restore_verified": document.get("restore_verified"),
                    "measurements": {k: m.get("seconds") for k, m in document.get("measurements", {}).items()},
                    "report_dir": (concluded or {}).get("report_dir"),
                    "exit_code": code,
                }
            )
        )
    return code


def print_plan(deployment: client.Deployment, scenario: Scenario, requested_by: str) -> int:
    """The dry run, with this workstation's credentials: reads the stack as Preflight would, changes nothing."""
    from drillkit import drill

    planned = client.with_aws_of(deployment, lambda: drill.plan(client.drill_request(deployment, scenario, requested_by)))
    console.print(
        f"Dry run of [bold]{scenario.name}[/] v{scenario.version} on {deployment.label}: nothing is changed", soft_wrap=True
    )
    target = planned["target"]
    standby = target["standby"]["values"] if target.get("standby") else ["(none)"]
    console.print(f"  target: {target['record_name']} {target['record_type']} in zone {target['hosted_zone_id']}", soft_wrap=True)
    console.print(f"    PRIMARY {', '.join(target['primary']['values'])}  SECONDARY {', '.join(standby)}", soft_wrap=True)
    console.print(f"  would change: {planned['change']}", soft_wrap=True)
    for resource in planned["resources"]:
        console.print(f"    {resource['type']} {resource['id']} ({resource['role']})", soft_wrap=True)
    console.print(f"  would measure: {', '.join(LABELS.get(m, m) for m in planned['measures'])}", soft_wrap=True)
    for finding in planned["readiness"]:
        mark = "[bold red]blocks the drill[/]" if finding["blocking"] else finding["severity"]
        console.print(f"  readiness {finding['code']} ({mark}): {finding['message']}", soft_wrap=True)
    if planned["blocked"]:
        console.print("Plan: the drill would end FAIL before injecting (see readiness above).")
        return EXIT_MISSED
    if planned["approval_required"]:
        console.print("Plan: ready to drill; the environment is protected, so the drill waits for `drillkit approve` first.")
        return EXIT_PASS
    console.print("Plan: ready to drill.")
    return EXIT_PASS


WaitOption = Annotated[
    float, typer.Option("--wait-seconds", help="How long to wait for the safety net's report after a stop.", min=1)
]


@app.command()
def run(
    scenario_file: Path = typer.Argument(..., help="Scenario YAML, e.g. scenarios/region-failover-health-check.yaml"),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    wait: bool = typer.Option(False, "--wait/--no-wait", help="Follow the drill to its verdict."),
    stop_on_interrupt: bool = typer.Option(
        False, "--stop-on-interrupt", help="With --wait: Ctrl-C stops the drill and waits for its restore (default: it goes on)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout (progress goes to stderr)."),
    requested_by: str = typer.Option(os.environ.get("USER", "unknown"), help="Recorded in the report."),
    reports_dir: Path = typer.Option(Path("drillkit-reports"), help="Where reports are copied."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Resolve the targets, run the readiness checks and print the plan; change nothing."
    ),
    wait_seconds: WaitOption = 900,
) -> None:
    """Run a drill. Exit 0 when it passed, 1 when objectives were missed, 2 on error, 130 when Ctrl-C left it running."""
    scenario = load_scenario(scenario_file)
    try:
        deployment = _deployment(endpoint, lab_file, stack_name, region)
        if dry_run:
            raise typer.Exit(print_plan(deployment, scenario, requested_by))
        code = run_drill(deployment, scenario, requested_by, wait, reports_dir, as_json, stop_on_interrupt, wait_seconds)
    except DrillError as error:
        raise _fail(str(error)) from None
    raise typer.Exit(code)


@app.command()
def follow(
    drill_id: str = typer.Argument(..., help="The drill id (drillkit run prints it)."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    reports_dir: Path = typer.Option(Path("drillkit-reports"), help="Where the report is copied."),
    wait_seconds: WaitOption = 900,
) -> None:
    """Re-attach to a drill: every state so far and live, to its verdict. Exit codes as `run`; Ctrl-C leaves it running."""
    try:
        deployment = _deployment(endpoint, lab_file, stack_name, region)
        execution = client.execution_of(deployment, drill_id)
        try:
            console.print(f"Drill [bold]{drill_id}[/] on {deployment.label}: {execution['status']}", soft_wrap=True)
            ended = _follow(deployment, drill_id, execution["executionArn"], console)
        except KeyboardInterrupt:
            raise typer.Exit(_interrupted(deployment, drill_id, False, wait_seconds)) from None
        code, _ = _conclude(deployment, drill_id, ended, reports_dir, console, wait_seconds)
    except DrillError as error:
        raise _fail(str(error)) from None
    raise typer.Exit(code)


@app.command()
def stop(
    drill_id: str = typer.Argument(..., help="The running drill to stop (drillkit run prints it)."),
    reason: str = typer.Option(..., help="Why, for the record and the report."),
    by: str | None = typer.Option(None, help="Who stops it, for the record (default: your AWS identity's ARN)."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    wait_seconds: WaitOption = 900,
) -> None:
    """Stop a running drill. The safety net restores, verifies and reports ABORTED; this prints the restore's outcome.

    Exit 0 when the restore was verified, 2 otherwise (not running, restore not verified, no report in time).
    """
    try:
        deployment = _deployment(endpoint, lab_file, stack_name, region)
        who = by or client.caller(deployment) or _who()
        code = _stop_and_restore(deployment, drill_id, who, reason, console, wait_seconds)
    except DrillError as error:
        raise _fail(str(error)) from None
    raise typer.Exit(code)


@app.command()
def unlock(
    environment: str = typer.Argument(..., help="The locked environment, as the lock error names it (route53/ZONE/NAME)."),
    reason: str = typer.Option(..., help="Why, for the audit record."),
    by: str | None = typer.Option(None, help="Who releases it, for the record (default: your AWS identity's ARN)."),
    force: bool = typer.Option(
        False, "--force", help="Release it even though its drill ended unreported (its safety net failed): check the stack first."
    ),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
) -> None:
    """Release a stale environment lock, recorded in the ledger. Refused while the drill holding it runs.

    Refused too while the drill's safety net may still be restoring it (ended, not reported), unless --force.
    """
    try:
        deployment = _deployment(endpoint, lab_file, stack_name, region)
        who = by or client.caller(deployment) or _who()
        released = client.unlock(deployment, environment, who, reason, force)
    except DrillError as error:
        raise _fail(str(error)) from None
    console.print(
        f"Released the lock on {environment} held by drill {released['drill_id']} ({released['why_stale']}); "
        f"recorded as released by {released['released_by']}: {released['reason']}",
        soft_wrap=True,
    )
    if released["unrestored"]:
        errors.print(
            f"[bold yellow]warning:[/] drill {released['drill_id']} left changes not restored: "
            f"{', '.join(released['unrestored'])}; put them back (its undo records hold the prior state) before the next drill",
            soft_wrap=True,
        )


# -- drillkit check: the readiness catalogue without a drill ------------------------------------
def print_readiness(deployment: client.Deployment, scenario: Scenario, requested_by: str, as_json: bool) -> int:
    """Every readiness finding, read with this workstation's credentials as Preflight reads them; changes nothing."""
    from drillkit import drill

    planned = client.with_aws_of(deployment, lambda: drill.plan(client.drill_request(deployment, scenario, requested_by)))
    findings = planned["readiness"]
    if as_json:
        console.print_json(json.dumps({"scenario": scenario.name, "blocked": planned["blocked"], "findings": findings}))
        return EXIT_MISSED if planned["blocked"] else EXIT_PASS
    target = planned["target"]
    console.print(
        f"Readiness of [bold]{scenario.name}[/] on {deployment.label}: {target['record_name']} {target['record_type']} "
        f"in zone {target['hosted_zone_id']} (read-only)",
        soft_wrap=True,
    )
    for finding in findings:
        mark = "[bold red]BLOCKS[/]" if finding["blocking"] else finding["severity"]
        evidence = finding["evidence"]
        console.print(f"  {finding['code']} [{finding['area']}] ({mark}): {finding['message']}", soft_wrap=True)
        console.print(f"      evidence: {evidence['call']} {evidence['resource']}", soft_wrap=True)
        console.print(f"      remedy: {finding['remedy']}", soft_wrap=True)
    if not findings:
        console.print("  no findings")
    if planned["blocked"]:
        console.print("Readiness: a drill would end FAIL before injecting (blocking findings above).")
        return EXIT_MISSED
    console.print(f"Readiness: ready to drill ({len(findings)} advisory finding(s)).")
    return EXIT_PASS


@app.command()
def check(
    scenario_file: Path = typer.Argument(..., help="Scenario YAML, e.g. scenarios/fail-targets-deregister.yaml"),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    requested_by: str = typer.Option(os.environ.get("USER", "unknown"), help="Who asked (as in `run`)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Run the readiness checks (docs/readiness.md) without a drill. Exit 0 when ready, 1 when a finding blocks, 2 on error."""
    scenario = load_scenario(scenario_file)
    try:
        deployment = _deployment(endpoint, lab_file, stack_name, region)
        code = print_readiness(deployment, scenario, requested_by, as_json)
    except DrillError as error:
        raise _fail(str(error)) from None
    raise typer.Exit(code)


LAB_LOG_VARIABLE = "DRILLKIT_LAB_LOG"  # "debug": the lab's component logs on the terminal, as --verbose


def lab_verbose(flag: bool) -> bool:
    return flag or os.environ.get(LAB_LOG_VARIABLE, "").strip().lower() == "debug"


# How often `drillkit lab up` and the demo look for lab.json: a stat a poll, so often enough to add little to the
# lab's start (half a poll on average).
LAB_FILE_POLL_SECONDS = 0.02


class LabChild(Protocol):
    """A lab's process as its starter sees it: subprocess.Popen's, or a lab forked by the test suite's launcher."""

    pid: int

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, number: int) -> None: ...
    def kill(self) -> None: ...


# Starts a lab: `python -m drillkit_lab`'s arguments, and where its output goes (None: this process's).
Spawn = Callable[[list[str], TextIO | None], LabChild]


def lab_command(arguments: list[str]) -> list[str]:
    # Attached: the lab stops when this process exits, even killed (a lab must not outlive its demo or test).
    return [sys.executable, "-m", "drillkit_lab", *arguments, "--parent-pid", str(os.getpid())]


def start_lab_process(arguments: list[str], output: TextIO | None) -> subprocess.Popen[str]:
    return subprocess.Popen(lab_command(arguments), stdout=output, stderr=output, text=True)


class LabProcess:
    """The lab in a child process (drillkit never imports drillkit_lab).

    Its components' logs (local cloud, Lambda functions, physics) go to WORK_DIR/lab.log unless ``verbose``.
    ``spawn``: how the process is started (a new interpreter; the test suite forks its labs from a launcher).
    """

    def __init__(self, work_dir: Path, stack: Path | None = None, verbose: bool = False, spawn: Spawn = start_lab_process):
        self.work_dir = work_dir
        self.stack = stack
        self.verbose = verbose
        self.spawn = spawn
        self.lab_file = work_dir / "lab.json"
        self.log_file = work_dir / "lab.log"
        self.process: LabChild | None = None

    def arguments(self, log_file: bool = False) -> list[str]:
        arguments = ["--work-dir", str(self.work_dir)]
        arguments += ["--log-file", str(self.log_file)] if log_file and not self.verbose else []
        return arguments + (["--stack", str(self.stack)] if self.stack else [])

    def start(self, timeout: float = 60) -> client.Deployment:
        self.lab_file.unlink(missing_ok=True)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log = None if self.verbose else open(self.log_file, "w")  # noqa: SIM115 the child's, closed with it
        self.process = self.spawn(self.arguments(), log)
        deadline = time.monotonic() + timeout
        while not self.lab_file.exists():
            if self.process.poll() is not None:
                tail = "(its output is above)" if self.verbose else self.log_file.read_text()[-2000:]
                raise DrillError(f"the lab failed to start:\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise DrillError(f"the lab was not ready after {timeout:g}s; see {self.log_file}")
            time.sleep(LAB_FILE_POLL_SECONDS)
        return client.from_lab_file(self.lab_file)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help=f"Show the lab's component logs here (or {LAB_LOG_VARIABLE}=debug).")
]


@app.command()
def demo(
    scenario_file: Path | None = typer.Option(None, help="Scenario to run (default: the region failover demo)."),
    work_dir: Path = typer.Option(Path(".drillkit/demo"), help="Lab state, logs and ground truth."),
    reports_dir: Path = typer.Option(Path("drillkit-reports"), help="Where the report is copied."),
    verbose: VerboseOption = False,
) -> None:
    """Start the local lab, run a real drill in it, print the verdict and the report path."""
    scenario = load_scenario(scenario_file or project_root() / "scenarios" / DEMO_SCENARIO)
    started = time.monotonic()
    console.print("[bold]drillkit demo[/]: a real drill in the local lab")
    lab = LabProcess(work_dir.resolve(), verbose=lab_verbose(verbose))
    try:
        deployment = lab.start()
        console.print(f"  [cyan]•[/] lab ready in {time.monotonic() - started:.1f}s ({deployment.endpoint_url})")
        if not lab.verbose:
            console.print(
                f"  [cyan]•[/] lab log: {lab.log_file}  (--verbose or {LAB_LOG_VARIABLE}=debug shows it here)", soft_wrap=True
            )
        code = run_drill(deployment, scenario, os.environ.get("USER", "demo"), True, reports_dir, stop_on_interrupt=True)
    except DrillError as error:
        raise _fail(str(error)) from None
    finally:
        lab.stop()
    console.print(f"[dim]demo finished in {time.monotonic() - started:.1f}s[/]")
    raise typer.Exit(code)


def open_in_browser(path: Path) -> int:
    """Open a report in the browser; without one, say where the file is and exit 2."""
    try:
        opened = webbrowser.open(path.resolve().as_uri())
    except webbrowser.Error:
        opened = False
    if not opened:
        errors.print(f"[bold red]error:[/] no browser could open the report; it is at {path.resolve()}", soft_wrap=True)
        return EXIT_ERROR
    console.print(f"opened {path}", soft_wrap=True)
    return EXIT_PASS


@app.command()
def report(
    drill_id: str = typer.Argument(..., help="The drill id (drillkit run prints it)."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    reports_dir: Path = typer.Option(Path("drillkit-reports"), help="Where the report is copied."),
    open_report: bool = typer.Option(False, "--open", help="Open report.html in the browser instead of printing."),
) -> None:
    """Download one drill's report and print its summary (or open report.html; exit 2 when no browser can)."""
    try:
        report_dir = client.download_report(_deployment(endpoint, lab_file, stack_name, region), drill_id, reports_dir)
    except DrillError as error:
        raise _fail(str(error)) from None
    if not (report_dir / "report.json").exists():
        raise _fail(f"no report for drill {drill_id} in the evidence bucket")
    if open_report:
        raise typer.Exit(open_in_browser(report_dir / "report.html"))
    document = json.loads((report_dir / "report.json").read_text())
    console.print(f"Drill [bold]{drill_id}[/]: {document['scenario']['name']} v{document['scenario']['version']}", soft_wrap=True)
    console.print(
        f"  started {document['started_at']}, injected {document['injected_at'] or 'never'}, ended {document['ended_at']}",
        soft_wrap=True,
    )
    _summary(document, report_dir)


@app.command("list")
def list_drills(
    limit: int = typer.Option(20, min=1, max=1000, help="How many drills, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per drill) instead of a table."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
) -> None:
    """Recent and running drills, newest first: id, scenario, environment, phase, verdict, start."""
    try:
        drills = [summary_of(record) for record in _deployment(endpoint, lab_file, stack_name, region).ledger().recent(limit)]
    except DrillError as error:
        raise _fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps([drill.model_dump(mode="json") for drill in drills], indent=2))
        return
    if not drills:
        console.print("No drills yet.")
        return
    table = Table(title_justify="left")
    for column in ("Drill", "Scenario", "Environment", "Phase", "Verdict", "Started"):
        table.add_column(column, overflow="fold")
    for drill in drills:
        verdict = drill.verdict or ("[dim]running[/]" if drill.phase != Phase.DONE else "-")
        table.add_row(drill.drill_id, drill.scenario, drill.environment, drill.phase.value, verdict, drill.started_at or "-")
    console.print(table)


@app.command()
def status(
    drill_id: str = typer.Argument(..., help="The drill id (drillkit run and drillkit list print it)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
) -> None:
    """One drill's phase, milestones so far, verdict, report and how it ended. Exit 2 for an unknown id."""
    try:
        drill = status_of(_deployment(endpoint, lab_file, stack_name, region).ledger().require(drill_id))
    except DrillError as error:
        raise _fail(str(error)) from None
    if as_json:
        typer.echo(drill.model_dump_json(indent=2))
        return
    _print_status(drill)


def _print_status(drill: DrillStatus) -> None:
    console.print(f"Drill [bold]{drill.drill_id}[/]: {drill.scenario} on {drill.environment}", soft_wrap=True)
    console.print(f"  phase: {PHASES.get(drill.phase, drill.phase.value)}")
    console.print(f"  started {drill.started_at}, injected {drill.injected_at or 'not (yet)'}")
    for name, seconds in drill.milestones.items():
        console.print(f"  [green]✓[/] {LABELS.get(name, name)} reached at +{seconds:.2f}s")
    for where, caught in drill.caught:
        if caught is not None:
            console.print(f"  [red]caught[/] {caught.error} ({where}): {caught.cause or ''}", soft_wrap=True)
    if drill.ended is not None:
        console.print(
            f"  [red]execution ended {drill.ended.status}[/] during {drill.ended.phase or 'an unknown phase'}; "
            "the safety net restored and reported",
            soft_wrap=True,
        )
    if drill.verdict is not None:
        console.print(f"Verdict: [bold]{drill.verdict}[/]   report: {drill.report_key}", soft_wrap=True)
    else:
        console.print("Verdict: [dim]not yet[/]")


def _answer(drill_id: str, approve: bool, by: str | None, reason: str, deployment: client.Deployment) -> None:
    try:
        who = by or client.caller(deployment) or _who()
        answered = client.answer_approval(deployment, drill_id, approve, who, reason)
    except DrillError as error:
        raise _fail(str(error)) from None
    verb = "approved: the drill goes on" if approve else "rejected: the drill ends ABORTED, nothing injected"
    console.print(f"Drill [bold]{drill_id}[/] {verb} (by {answered['by']})", soft_wrap=True)


@app.command()
def approve(
    drill_id: str = typer.Argument(..., help="The drill waiting on a protected environment (drillkit run prints it)."),
    by: str | None = typer.Option(None, help="Who approves, for the record (default: your AWS identity's ARN)."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
) -> None:
    """Approve a drill on a protected environment: it goes on to steady state and injection."""
    try:
        deployment = _deployment(endpoint, lab_file, stack_name, region)
    except DrillError as error:
        raise _fail(str(error)) from None
    _answer(drill_id, True, by, "", deployment)


@app.command()
def reject(
    drill_id: str = typer.Argument(..., help="The drill waiting on a protected environment."),
    reason: str = typer.Option(..., help="Why, for the report."),
    by: str | None = typer.Option(None, help="Who rejects, for the record (default: your AWS identity's ARN)."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
) -> None:
    """Reject a drill on a protected environment: it ends ABORTED with nothing injected, and the report says why."""
    try:
        deployment = _deployment(endpoint, lab_file, stack_name, region)
    except DrillError as error:
        raise _fail(str(error)) from None
    _answer(drill_id, False, by, reason, deployment)


@evidence_app.command("export")
def evidence_export(
    from_date: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD, UTC) or ISO 8601 time."),
    to_date: str = typer.Option(..., "--to", help="Last day, inclusive (YYYY-MM-DD, UTC) or ISO 8601 time."),
    framework: str | None = typer.Option(None, help="hipaa, pci-dss, soc2, iso27001, dora or nist (default: all)."),
    out: Path = typer.Option(..., help="The archive to write: .tar.gz, .tgz or .zip."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help="Write the archive (exit 0) even if the period has no drill."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
) -> None:
    """Write one archive with every sealed drill and game-day of the period, the public key and a clause summary.

    A period with no sealed drill is refused (exit 2, nothing written) unless --allow-empty.
    """
    from drillkit.evidence import export

    started = time.monotonic()
    if framework is not None and framework not in FRAMEWORKS:
        raise _fail(f"--framework {framework!r} is not one of {', '.join(FRAMEWORKS)}")
    try:
        period = export.Period.parse(from_date, to_date)
        deployment = _deployment(endpoint, lab_file, stack_name, region)
        result = export.export(
            deployment.client("s3"), deployment.client("kms"), deployment.evidence_bucket, period, framework, out
        )
    except DrillError as error:
        raise _fail(str(error)) from None
    if result.drills == 0:
        where = f"no sealed drill between {from_date} and {to_date} in {deployment.label}"
        if not allow_empty:
            result.path.unlink(missing_ok=True)
            raise _fail(f"{where}: nothing exported, {out} not written (--allow-empty writes an empty archive)")
        errors.print(f"[bold yellow]warning:[/] {where}: the archive holds no evidence", soft_wrap=True)
    console.print(
        f"Exported {result.drills} drill(s)"
        + (f" and {result.gamedays} game-day(s)" if result.gamedays else "")
        + f", {result.files} files, {result.bytes} bytes in {time.monotonic() - started:.1f}s: "
        f"{result.path}",
        soft_wrap=True,
    )


@evidence_app.command("verify")
def evidence_verify(
    archive: Path = typer.Argument(..., help="An export (.tar.gz, .zip) or the directory it was extracted to."),
) -> None:
    """Check every hash, signature and chain link offline. Exit 0 when all match, 1 naming the first that does not."""
    from drillkit.evidence import verify

    if not archive.exists():
        raise _fail(f"{archive} does not exist")
    try:
        result = verify.verify(archive)
    except (ValueError, OSError, tarfile.TarError) as error:
        raise _fail(f"{archive}: cannot read the export: {error}", EXIT_MISSED) from None
    if result.ok:
        start = result.chain_start or {}
        anchor = (start.get("previous") or {}).get("manifest_sha256")
        console.print(
            f"OK: {result.drills} drill(s)"
            + (f", {result.gamedays} game-day(s)" if result.gamedays else "")
            + f", {result.files} files hashed, {result.signatures} signatures and "
            f"{result.links} chain links verified"
            + (f"; the chain starts at position {start.get('sequence')}" if start else "")
            + (f" after manifest {anchor}" if anchor else ""),
            soft_wrap=True,
        )
        return
    errors.print(f"[bold red]MISMATCH:[/] {result.first}", soft_wrap=True)
    for problem in result.problems[1:]:
        errors.print(f"  also: {problem}", soft_wrap=True)
    raise typer.Exit(EXIT_MISSED)


def _lab_answers(lab_file: Path) -> dict[str, Any] | None:
    """The lab a lab file describes, when it is alive and answering; None otherwise."""
    try:
        return client.live_lab(lab_file)
    except DrillError:
        return None


@lab_app.command("up")
def lab_up(
    work_dir: Path = typer.Option(Path(".drillkit"), help="Where lab.json, logs and the ground truth go."),
    stack: Path | None = typer.Option(None, help="Lab stack spec, e.g. lab/stacks/ec2-asg.yaml (default: the default stack)."),
    verbose: VerboseOption = False,
) -> None:
    """Run the lab in the foreground until Ctrl-C or `drillkit lab down`. Refused while a lab of WORK_DIR is running."""
    if stack is not None and not stack.exists():
        raise _fail(f"--stack {stack}: no such file")
    running = _lab_answers(work_dir / "lab.json")
    if running is not None:
        raise _fail(
            f"a lab is already running for {work_dir} (pid {running.get('pid')}, {running['endpoint_url']}): use it, "
            f"stop it with `drillkit lab down --lab-file {work_dir / 'lab.json'}`, or give another --work-dir"
        )
    lab = LabProcess(work_dir, stack, verbose=lab_verbose(verbose))
    if not lab.verbose:
        console.print(f"lab log: {lab.log_file}  (--verbose or {LAB_LOG_VARIABLE}=debug shows it here)", soft_wrap=True)
    raise typer.Exit(subprocess.call(lab_command(lab.arguments(log_file=True))))


@lab_app.command("down")
def lab_down(lab_file: LabFileOption = None) -> None:
    """Stop the lab that wrote the lab file."""
    lab_file = lab_file or DEFAULT_LAB_FILE
    if not lab_file.exists():
        raise _fail(f"no lab is running ({lab_file} does not exist)")
    try:
        pid = int(json.loads(lab_file.read_text())["pid"])
    except (ValueError, KeyError, TypeError) as error:
        raise _fail(f"{lab_file} is not a lab description ({error}); remove it") from None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        lab_file.unlink(missing_ok=True)
        raise _fail(f"the lab (pid {pid}) is not running; removed the stale {lab_file}") from None
    console.print(f"stopping the lab (pid {pid})")


@app.command()
def init(
    hosted_zone: str = typer.Argument(..., help="The public hosted zone, e.g. example.com."),
    record_name: str = typer.Argument(..., help="The failover record clients resolve, e.g. app.example.com."),
    out: Path = typer.Option(Path("scenario.yaml"), "--out", "-o", help="Where to write the scenario."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT if it exists."),
    fault: InitFault = typer.Option("health-check-inversion", help="The fault the scenario injects."),
    name: str | None = typer.Option(None, help="The scenario's name (default: from the record and the fault)."),
    record_type: Literal["A", "AAAA", "CNAME"] = typer.Option("A", help="The failover records' type."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    region: RegionOption = None,
) -> None:
    """Write a scenario for the stack behind a failover record, found read-only, with AWS-sized timings and comments.

    Reads the account with this workstation's credentials (or the lab given by --endpoint/--lab-file).
    """
    from drillkit.scaffold import discover, write

    if out.exists() and not force:
        raise _fail(f"{out} exists; give --force to overwrite it, or another --out")
    scenario_name = name or _scenario_name(record_name, fault)
    try:
        if endpoint is not None or lab_file is not None:
            lab = client.from_lab_file(lab_file or DEFAULT_LAB_FILE, endpoint)
            where, url = lab.region, lab.endpoint_url
        else:
            where, url = region or settings.load().region or _default_region(), None
        stack = client.with_aws_in(where, url, lambda: discover.discover(hosted_zone, record_name, record_type))
        text = write.render(stack, fault, scenario_name)
    except ScenarioInvalid as error:
        lines = "\n".join(f"  {field}: {problem}" for field, problem in error.problems)
        raise _fail(f"nothing was written:\n{lines}") from None
    except DrillError as error:
        raise _fail(f"{error}; nothing was written") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    cluster = f", global cluster {stack.global_cluster.identifier}" if stack.global_cluster else ""
    found = f"{len(stack.alarms)} alarm(s){cluster}"
    console.print(f"wrote {out}: {fault} on {stack.record_name} ({found})", soft_wrap=True)
    console.print(f"next: `drillkit run {out} --dry-run`", soft_wrap=True)


def _scenario_name(record_name: str, fault: str) -> str:
    label = "".join(c if c.isalnum() else "-" for c in record_name.strip(".").split(".")[0].lower()).strip("-") or "app"
    return f"{label}-{fault}"[:63]


def _default_region() -> str:
    import boto3

    return boto3.session.Session().region_name or "us-east-1"


@app.command("scenario-schema")
def scenario_schema(
    out: Path | None = typer.Option(None, help="Write it here (default: print it)."),
) -> None:
    """The JSON Schema of scenario files, generated from the models (docs/scenario.schema.json is this)."""
    from drillkit.spec import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text)
    console.print(f"wrote {out}", soft_wrap=True)


# -- game-days (issue 13) ----------------------------------------------------------------------------------------
gameday_app = typer.Typer(
    help="Game-days: a plan of drills run in order (or fanned out) by the game-day machine.", no_args_is_help=True
)
app.add_typer(gameday_app, name="gameday")
GAMEDAY_VERDICT_EXIT = {"PASS": EXIT_PASS, "FAIL": EXIT_MISSED, "ERROR": EXIT_ERROR}


def load_gameday_plan(path: Path) -> Any:
    """Read, validate and resolve a game-day plan; every bad field named, nothing started."""
    from drillkit.errors import GameDayInvalid
    from drillkit.gameday.client import load_plan

    try:
        return load_plan(path)
    except GameDayInvalid as error:
        lines = "\n".join(f"  {field}: {problem}" for field, problem in error.problems)
        raise _fail(f"game-day plan {path} is invalid; nothing was started:\n{lines}") from None


def _print_gameday_plan(plan: Any) -> None:
    console.print(f"Game-day [bold]{plan.name}[/]: {len(plan.drills)} drill(s)", soft_wrap=True)
    parallel = "in order" if plan.max_concurrency == 1 else f"up to {plan.max_concurrency} at once"
    tolerated = f", tolerating {plan.tolerated_failure_percentage:g}% failed" if plan.tolerated_failure_percentage else ""
    console.print(
        f"  {parallel}, {plan.pause_seconds} s between drills, a failed drill: {plan.failure_policy}{tolerated}", soft_wrap=True
    )
    if plan.change_calendar:
        console.print(f"  change calendar: {plan.change_calendar} (refuses to start while CLOSED)", soft_wrap=True)
    for index in range(len(plan.drills)):
        scenario = plan.scenario_of(index)
        console.print(f"  {index:02d} {scenario.name} v{scenario.version} on {plan.environment_label(index)}", soft_wrap=True)


def _gameday_dry_run(deployment: client.Deployment, plan: Any, requested_by: str) -> int:
    from drillkit import change_calendar

    _print_gameday_plan(plan)
    worst = EXIT_PASS
    if plan.change_calendar:
        try:
            state = client.with_aws_of(deployment, lambda: change_calendar.calendar_state(plan.change_calendar))
        except DrillError as error:
            console.print(f"  change calendar {plan.change_calendar}: [red]cannot be read[/]: {error}", soft_wrap=True)
            worst = EXIT_ERROR
        else:
            colour = "red" if state.state == "CLOSED" else "green"
            console.print(f"  change calendar {plan.change_calendar}: [{colour}]{state.state}[/] now", soft_wrap=True)
            worst = EXIT_MISSED if state.state == "CLOSED" else worst
    for index in range(len(plan.drills)):
        console.print(f"\n[bold]Drill {index:02d}[/] on {plan.environment_label(index)}")
        worst = max(worst, print_plan(deployment, plan.scenario_of(index), requested_by))
    console.print(f"\nGame-day plan: {'ready' if worst == EXIT_PASS else 'NOT ready (see above)'}; nothing was changed.")
    return worst


@gameday_app.command("run")
def gameday_run_command(
    plan_file: Path = typer.Argument(..., help="Game-day plan YAML (docs: README, Game-days)."),
    wait: bool = typer.Option(False, "--wait/--no-wait", help="Follow the game-day live, drill by drill, to its verdict."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    requested_by: str = typer.Option(os.environ.get("USER", "unknown"), help="Recorded in every report."),
    reports_dir: Path = typer.Option(Path("drillkit-reports"), help="Where the game-day report is copied."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and every drill's dry run; change nothing."),
) -> None:
    """Run a game-day. Exit 0 when every drill passed, 1 when one failed or never started, 2 on error."""
    from drillkit.gameday import client as gameday_client

    plan = load_gameday_plan(plan_file)
    try:
        deployment = _deployment(endpoint, lab_file, stack_name, region)
        if dry_run:
            raise typer.Exit(_gameday_dry_run(deployment, plan, requested_by))
        machine = deployment.gameday_machine()
        request = gameday_client.gameday_request(deployment, plan, requested_by)
        execution_arn = gameday_client.start(deployment, machine, request)
        _print_gameday_plan(plan)
        console.print(f"Started game-day [bold]{request.gameday_id}[/] on {deployment.label}", soft_wrap=True)
        if not wait:
            console.print(f"  {execution_arn}", soft_wrap=True)
            raise typer.Exit(EXIT_PASS)

        def on_change(kind: str, item: Any, value: str) -> None:
            if kind == "started":
                console.print(f"  [cyan]•[/] {item.index:02d} {item.scenario} on {item.environment}: started ({item.drill_id})")
            else:
                colour = "green" if value == "PASS" else "red"
                console.print(f"  [{colour}]■[/] {item.index:02d} {item.scenario} on {item.environment}: [{colour}]{value}[/]")

        execution = gameday_client.follow(deployment, request, execution_arn, on_change)
        if execution["status"] != "SUCCEEDED":
            error, cause = client.execution_error(execution)
            raise _fail(f"game-day {execution['status'].lower()}: {error}: {cause}")
        folder = gameday_client.download_report(deployment, str(request.gameday_id), reports_dir)
    except DrillError as error:
        raise _fail(str(error)) from None
    document = json.loads((folder / "gameday.json").read_text())
    table = Table(title=f"Game-day {document['name']}", title_justify="left")
    for column in ("#", "Scenario", "Environment", "Verdict", "Restore verified"):
        table.add_column(column)
    for drill in document["drills"]:
        restored = {None: "-", True: "yes", False: "[red]NO[/]"}[drill["restore_verified"]]
        table.add_row(f"{drill['index']:02d}", drill["scenario"], drill["environment"], drill["verdict"], restored)
    console.print(table)
    if document["stop_reason"]:
        console.print(f"  {document['stop_reason']}", soft_wrap=True)
    colour = "green" if document["verdict"] == "PASS" else "red"
    console.print(f"Verdict: [bold {colour}]{document['verdict']}[/]", soft_wrap=True)
    console.print(f"Report: {folder / 'gameday.html'}  (and gameday.json, junit.xml)", soft_wrap=True)
    raise typer.Exit(GAMEDAY_VERDICT_EXIT[document["verdict"]])


@gameday_app.command("schedule")
def gameday_schedule_command(
    plan_file: Path = typer.Argument(..., help="Game-day plan YAML."),
    cron: str = typer.Option(
        ..., "--cron", help='EventBridge Scheduler expression: "cron(0 10 ? * SAT *)", rate(...) or at(...).'
    ),
    name: str | None = typer.Option(None, help="The schedule's name (default: the plan's name); an existing one is updated."),
    timezone: str = typer.Option("UTC", help="IANA time zone of the expression, e.g. Europe/Berlin."),
    disabled: bool = typer.Option(False, "--disabled", help="Create or update it paused."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
) -> None:
    """Create or update a schedule that starts the game-day machine with this plan."""
    from drillkit.gameday import schedule as gameday_schedule
    from drillkit.spec import Network

    plan = load_gameday_plan(plan_file)
    schedule_name = name or plan.name
    try:
        deployment = _deployment(endpoint, lab_file, stack_name, region)
        machine = deployment.gameday_machine()
        role = deployment.scheduler_role()
        network = Network.model_validate(deployment.network) if deployment.network else None
        document = gameday_schedule.schedule_input(plan, schedule_name, network)
        done = gameday_schedule.put(
            deployment.client("scheduler"), schedule_name, cron, timezone, machine, role, document, enabled=not disabled
        )
        upcoming = gameday_schedule.next_of(deployment.client("scheduler"), schedule_name, datetime.now(UTC))
    except DrillError as error:
        raise _fail(str(error)) from None
    state = "paused" if disabled else f"next run {upcoming:%Y-%m-%d %H:%M:%S} UTC" if upcoming else "no run to come"
    console.print(f"Schedule [bold]{schedule_name}[/] {done}: {plan.name}, {cron} ({timezone}); {state}", soft_wrap=True)


@gameday_app.command("schedules")
def gameday_schedules_command(
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
) -> None:
    """List the schedules that start game-days, with their next run."""
    from drillkit.gameday import schedule as gameday_schedule

    try:
        deployment = _deployment(endpoint, lab_file, stack_name, region)
        machine = deployment.gameday_machine()
        found = gameday_schedule.listed(deployment.client("scheduler"), machine, datetime.now(UTC))
    except DrillError as error:
        raise _fail(str(error)) from None
    table = Table(title="Game-day schedules", title_justify="left")
    for column in ("Name", "State", "Expression", "Plan", "Next run (UTC)"):
        table.add_column(column)
    for item in found:
        upcoming = f"{item['next_run']:%Y-%m-%d %H:%M}" if item["next_run"] else "-"
        plan = f"{item['plan']} ({item['drills']} drills)"
        table.add_row(item["name"], item["state"], f"{item['expression']} {item['timezone']}", plan, upcoming)
    console.print(table)


@gameday_app.command("pause")
def gameday_pause_command(
    name: str = typer.Argument(..., help="The schedule's name (drillkit gameday schedules lists them)."),
    resume: bool = typer.Option(False, "--resume", help="Enable it again instead."),
    endpoint: EndpointOption = None,
    lab_file: LabFileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
) -> None:
    """Pause a game-day schedule (or --resume it): nothing else about it changes."""
    from drillkit.gameday import schedule as gameday_schedule

    try:
        gameday_schedule.set_state(_deployment(endpoint, lab_file, stack_name, region).client("scheduler"), name, enabled=resume)
    except DrillError as error:
        raise _fail(str(error)) from None
    console.print(f"Schedule [bold]{name}[/] {'resumed' if resume else 'paused'}", soft_wrap=True)


if __name__ == "__main__":
    app()
