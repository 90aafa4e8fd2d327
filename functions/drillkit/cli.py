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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from drillkit import client
from drillkit.errors import DrillError, ScenarioInvalid
from drillkit.evidence.frameworks import FRAMEWORKS
from drillkit.spec import Scenario, parse_scenario

EXIT_PASS, EXIT_MISSED, EXIT_ERROR = 0, 1, 2
VERDICT_EXIT = {"PASS": EXIT_PASS, "FAIL": EXIT_MISSED, "ERROR": EXIT_ERROR, "ABORTED": EXIT_ERROR}
DEMO_SCENARIO = "region-failover-health-check.yaml"
LABELS = {
    "detection": "Detection",
    "alerting": "Alerting",
    "dns_cutover": "DNS cutover",
    "client_cutover": "Client DNS cutover",
    "recovery": "Recovery (RTO)",
    "rpo": "Data loss (RPO)",
}
PHASES = {
    "preflight": "preflight: request valid, targets resolved, lock taken",
    "awaiting_approval": "protected environment: waiting for `drillkit approve DRILL_ID` (or reject DRILL_ID --reason)",
    "steady_state": "checking steady state",
    "inject": "injecting the fault",
    "observe": "observing",
    "restore": "restoring",
    "verify": "verifying the restore",
    "report": "writing the report",
    "done": "report written",
}

app = typer.Typer(help="DR drills for multi-region AWS stacks.", no_args_is_help=True, add_completion=False)
lab_app = typer.Typer(help="The local lab: a local cloud and a simulated two-region stack.", no_args_is_help=True)
app.add_typer(lab_app, name="lab")
evidence_app = typer.Typer(help="Signed drill evidence: export a period for an auditor, verify an export.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; errors name the file and the field."""
    try:
        payload = yaml.safe_load(path.read_text())
    except OSError as error:
        raise _fail(f"cannot read scenario {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise _fail(f"{path} is not valid YAML: {error}") from None
    try:
        return parse_scenario(payload)
    except ScenarioInvalid as error:
        lines = "\n".join(f"  {field}: {problem}" for field, problem in error.problems)
        raise _fail(f"scenario {path} is invalid; nothing was started:\n{lines}") from None


def _print_event(kind: str, value: Any) -> None:
    if kind == "phase":
        console.print(f"  [cyan]•[/] {PHASES.get(value, value)}")
    elif kind == "injected":
        console.print(f"  [yellow]⚡[/] fault injected at {time.strftime('%H:%M:%S', time.gmtime(value))}Z")
    elif kind == "milestone":
        name, seconds = value
        console.print(f"  [green]✓[/] {LABELS.get(name, name)} reached at +{seconds:.2f}s")


def _summary(report: dict[str, Any], report_dir: Path) -> None:
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
    console.print(table)
    for finding in report.get("findings", []):
        console.print(f"  [red]{finding['severity']}[/] {finding['code']}: {finding['message']}")
    colour = "green" if report["verdict"] == "PASS" else "red"
    console.print(
        f"Verdict: [bold {colour}]{report['verdict']}[/]   "
        f"restore verified: {'yes' if report['restore_verified'] else '[red]NO[/]'}"
    )
    console.print(f"Report: {report_dir / 'report.html'}  (and report.json)", soft_wrap=True)


def run_drill(deployment: client.Deployment, scenario: Scenario, requested_by: str, wait: bool, reports_dir: Path) -> int:
    request = client.drill_request(deployment, scenario, requested_by)
    drill_id = request["drill_id"]
    execution_arn = client.start(deployment, request)
    console.print(f"Drill [bold]{drill_id}[/]: {scenario.name} v{scenario.version} on {deployment.label}", soft_wrap=True)
    if not wait:
        console.print(f"Started {execution_arn}", soft_wrap=True)
        return EXIT_PASS
    execution = client.follow(deployment, drill_id, execution_arn, _print_event)
    if execution["status"] != "SUCCEEDED":
        error, cause = client.execution_error(execution)
        errors.print(f"[bold red]drill {execution['status'].lower()}:[/] {error}: {cause}")
        return EXIT_ERROR
    report_dir = client.download_report(deployment, drill_id, reports_dir)
    report = json.loads((report_dir / "report.json").read_text())
    _summary(report, report_dir)
    return VERDICT_EXIT[report["verdict"]]


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


@app.command()
def run(
    scenario_file: Path = typer.Argument(..., help="Scenario YAML, e.g. scenarios/region-failover-health-check.yaml"),
    endpoint: str | None = typer.Option(None, help="Local cloud endpoint (a running lab; reads its lab.json)."),
    stack_name: str | None = typer.Option(None, help="Deployed drillkit stack to run in (AWS)."),
    region: str | None = typer.Option(None, help="AWS region of the stack (default: your AWS config)."),
    wait: bool = typer.Option(False, "--wait/--no-wait", help="Follow the drill to its verdict."),
    lab_file: Path = typer.Option(Path(".drillkit/lab.json"), help="The lab description `drillkit lab up` writes."),
    requested_by: str = typer.Option(os.environ.get("USER", "unknown"), help="Recorded in the report."),
    reports_dir: Path = typer.Option(Path("drillkit-reports"), help="Where reports are copied."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Resolve the targets, run the readiness checks and print the plan; change nothing."
    ),
) -> None:
    """Run a drill. Exit 0 when it passed, 1 when objectives were missed, 2 on error."""
    if endpoint and stack_name:
        raise _fail("give --endpoint or --stack-name, not both")
    scenario = load_scenario(scenario_file)
    try:
        deployment = client.from_stack(stack_name, region) if stack_name else client.from_lab_file(lab_file, endpoint)
        if dry_run:
            raise typer.Exit(print_plan(deployment, scenario, requested_by))
        code = run_drill(deployment, scenario, requested_by, wait, reports_dir)
    except DrillError as error:
        raise _fail(str(error)) from None
    raise typer.Exit(code)


class LabProcess:
    """The lab in a child process (drillkit never imports drillkit_lab)."""

    def __init__(self, work_dir: Path, stack: Path | None = None):
        self.work_dir = work_dir
        self.stack = stack
        self.lab_file = work_dir / "lab.json"
        self.process: subprocess.Popen[str] | None = None

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "drillkit_lab", "--work-dir", str(self.work_dir)]
        return command + (["--stack", str(self.stack)] if self.stack else [])

    def start(self, timeout: float = 60) -> client.Deployment:
        self.lab_file.unlink(missing_ok=True)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.work_dir / "lab.log", "w")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, text=True)
        deadline = time.monotonic() + timeout
        while not self.lab_file.exists():
            if self.process.poll() is not None:
                tail = (self.work_dir / "lab.log").read_text()[-2000:]
                raise DrillError(f"the lab failed to start:\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise DrillError(f"the lab was not ready after {timeout:g}s; see {self.work_dir / 'lab.log'}")
            time.sleep(0.1)
        return client.from_lab_file(self.lab_file)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@app.command()
def demo(
    scenario_file: Path | None = typer.Option(None, help="Scenario to run (default: the region failover demo)."),
    work_dir: Path = typer.Option(Path(".drillkit/demo"), help="Lab state, logs and ground truth."),
    reports_dir: Path = typer.Option(Path("drillkit-reports"), help="Where the report is copied."),
) -> None:
    """Start the local lab, run a real drill in it, print the verdict and the report path."""
    scenario = load_scenario(scenario_file or project_root() / "scenarios" / DEMO_SCENARIO)
    started = time.monotonic()
    console.print("[bold]drillkit demo[/]: a real drill in the local lab")
    lab = LabProcess(work_dir.resolve())
    try:
        deployment = lab.start()
        console.print(f"  [cyan]•[/] lab ready in {time.monotonic() - started:.1f}s ({deployment.endpoint_url})")
        code = run_drill(deployment, scenario, os.environ.get("USER", "demo"), True, reports_dir)
    except DrillError as error:
        raise _fail(str(error)) from None
    finally:
        lab.stop()
    console.print(f"[dim]demo finished in {time.monotonic() - started:.1f}s[/]")
    raise typer.Exit(code)


def _deployment(stack_name: str | None, region: str | None, lab_file: Path) -> client.Deployment:
    return client.from_stack(stack_name, region) if stack_name else client.from_lab_file(lab_file)


@app.command()
def report(
    drill_id: str = typer.Argument(..., help="The drill id (drillkit run prints it)."),
    stack_name: str | None = typer.Option(None, help="Deployed drillkit stack (AWS)."),
    region: str | None = typer.Option(None, help="AWS region of the stack."),
    lab_file: Path = typer.Option(Path(".drillkit/lab.json"), help="The lab description `drillkit lab up` writes."),
    reports_dir: Path = typer.Option(Path("drillkit-reports"), help="Where the report is copied."),
    open_report: bool = typer.Option(False, "--open", help="Open report.html in the browser instead of printing."),
) -> None:
    """Download one drill's report and print its summary (or open report.html)."""
    try:
        report_dir = client.download_report(_deployment(stack_name, region, lab_file), drill_id, reports_dir)
    except DrillError as error:
        raise _fail(str(error)) from None
    if not (report_dir / "report.json").exists():
        raise _fail(f"no report for drill {drill_id} in the evidence bucket")
    if open_report:
        webbrowser.open((report_dir / "report.html").resolve().as_uri())
        console.print(f"opened {report_dir / 'report.html'}", soft_wrap=True)
        return
    document = json.loads((report_dir / "report.json").read_text())
    console.print(f"Drill [bold]{drill_id}[/]: {document['scenario']['name']} v{document['scenario']['version']}", soft_wrap=True)
    console.print(
        f"  started {document['started_at']}, injected {document['injected_at'] or 'never'}, ended {document['ended_at']}",
        soft_wrap=True,
    )
    _summary(document, report_dir)


def _answer(
    drill_id: str, approve: bool, by: str | None, reason: str, stack_name: str | None, region: str | None, lab_file: Path
) -> None:
    try:
        deployment = _deployment(stack_name, region, lab_file)
        who = by or client.caller(deployment) or os.environ.get("USER", "unknown")
        answered = client.answer_approval(deployment, drill_id, approve, who, reason)
    except DrillError as error:
        raise _fail(str(error)) from None
    verb = "approved: the drill goes on" if approve else "rejected: the drill ends ABORTED, nothing injected"
    console.print(f"Drill [bold]{drill_id}[/] {verb} (by {answered['by']})", soft_wrap=True)


@app.command()
def approve(
    drill_id: str = typer.Argument(..., help="The drill waiting on a protected environment (drillkit run prints it)."),
    by: str | None = typer.Option(None, help="Who approves, for the record (default: your AWS identity's ARN)."),
    stack_name: str | None = typer.Option(None, help="Deployed drillkit stack (AWS)."),
    region: str | None = typer.Option(None, help="AWS region of the stack."),
    lab_file: Path = typer.Option(Path(".drillkit/lab.json"), help="The lab description `drillkit lab up` writes."),
) -> None:
    """Approve a drill on a protected environment: it goes on to steady state and injection."""
    _answer(drill_id, True, by, "", stack_name, region, lab_file)


@app.command()
def reject(
    drill_id: str = typer.Argument(..., help="The drill waiting on a protected environment."),
    reason: str = typer.Option(..., help="Why, for the report."),
    by: str | None = typer.Option(None, help="Who rejects, for the record (default: your AWS identity's ARN)."),
    stack_name: str | None = typer.Option(None, help="Deployed drillkit stack (AWS)."),
    region: str | None = typer.Option(None, help="AWS region of the stack."),
    lab_file: Path = typer.Option(Path(".drillkit/lab.json"), help="The lab description `drillkit lab up` writes."),
) -> None:
    """Reject a drill on a protected environment: it ends ABORTED with nothing injected, and the report says why."""
    _answer(drill_id, False, by, reason, stack_name, region, lab_file)


@evidence_app.command("export")
def evidence_export(
    from_date: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD, UTC) or ISO 8601 time."),
    to_date: str = typer.Option(..., "--to", help="Last day, inclusive (YYYY-MM-DD, UTC) or ISO 8601 time."),
    framework: str | None = typer.Option(None, help="hipaa, pci-dss, soc2, iso27001, dora or nist (default: all)."),
    out: Path = typer.Option(..., help="The archive to write: .tar.gz, .tgz or .zip."),
    stack_name: str | None = typer.Option(None, help="Deployed drillkit stack (AWS)."),
    region: str | None = typer.Option(None, help="AWS region of the stack."),
    lab_file: Path = typer.Option(Path(".drillkit/lab.json"), help="The lab description `drillkit lab up` writes."),
) -> None:
    """Write one archive with every sealed drill of the period, the public key and a clause summary."""
    from drillkit.evidence import export

    started = time.monotonic()
    if framework is not None and framework not in FRAMEWORKS:
        raise _fail(f"--framework {framework!r} is not one of {', '.join(FRAMEWORKS)}")
    try:
        period = export.Period.parse(from_date, to_date)
        deployment = _deployment(stack_name, region, lab_file)
        result = export.export(
            deployment.client("s3"), deployment.client("kms"), deployment.evidence_bucket, period, framework, out
        )
    except DrillError as error:
        raise _fail(str(error)) from None
    console.print(
        f"Exported {result.drills} drill(s), {result.files} files, {result.bytes} bytes in {time.monotonic() - started:.1f}s: "
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
            f"OK: {result.drills} drill(s), {result.files} files hashed, {result.signatures} signatures and "
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


@lab_app.command("up")
def lab_up(
    work_dir: Path = typer.Option(Path(".drillkit"), help="Where lab.json, logs and the ground truth go."),
    stack: Path | None = typer.Option(None, help="Lab stack spec, e.g. lab/stacks/ec2-asg.yaml (default: the default stack)."),
) -> None:
    """Run the lab in the foreground until Ctrl-C or `drillkit lab down`."""
    if stack is not None and not stack.exists():
        raise _fail(f"--stack {stack}: no such file")
    raise typer.Exit(subprocess.call(LabProcess(work_dir, stack).command()))


@lab_app.command("down")
def lab_down(lab_file: Path = typer.Option(Path(".drillkit/lab.json"))) -> None:
    """Stop the lab that wrote LAB_FILE."""
    if not lab_file.exists():
        raise _fail(f"no lab is running ({lab_file} does not exist)")
    pid = json.loads(lab_file.read_text())["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        lab_file.unlink(missing_ok=True)
        raise _fail(f"the lab (pid {pid}) is not running; removed the stale {lab_file}") from None
    console.print(f"stopping the lab (pid {pid})")


# -- game-days (issue 13) ----------------------------------------------------------------------------------------
gameday_app = typer.Typer(
    help="Game-days: a plan of drills run in order (or fanned out) by the game-day machine.", no_args_is_help=True
)
app.add_typer(gameday_app, name="gameday")
GAMEDAY_VERDICT_EXIT = {"PASS": EXIT_PASS, "FAIL": EXIT_MISSED, "ERROR": EXIT_ERROR}


def load_gameday_plan(path: Path) -> Any:
    """Read, validate and resolve a game-day plan; every bad field named, nothing started."""
    from drillkit.gameday.client import load_plan
    from drillkit.gameday.plan import GameDayInvalid

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
    from drillkit.gameday import run as gameday_run

    _print_gameday_plan(plan)
    worst = EXIT_PASS
    if plan.change_calendar:
        try:
            state = client.with_aws_of(deployment, lambda: gameday_run.calendar_state(plan.change_calendar))
        except DrillError as error:
            console.print(f"  change calendar {plan.change_calendar}: [red]cannot be read[/]: {error}", soft_wrap=True)
            worst = EXIT_ERROR
        else:
            colour = "red" if state["state"] == "CLOSED" else "green"
            console.print(f"  change calendar {plan.change_calendar}: [{colour}]{state['state']}[/] now", soft_wrap=True)
            worst = EXIT_MISSED if state["state"] == "CLOSED" else worst
    for index in range(len(plan.drills)):
        console.print(f"\n[bold]Drill {index:02d}[/] on {plan.environment_label(index)}")
        worst = max(worst, print_plan(deployment, plan.scenario_of(index), requested_by))
    console.print(f"\nGame-day plan: {'ready' if worst == EXIT_PASS else 'NOT ready (see above)'}; nothing was changed.")
    return worst


@gameday_app.command("run")
def gameday_run_command(
    plan_file: Path = typer.Argument(..., help="Game-day plan YAML (docs: README, Game-days)."),
    stack_name: str | None = typer.Option(None, help="Deployed drillkit stack to run in (AWS)."),
    region: str | None = typer.Option(None, help="AWS region of the stack (default: your AWS config)."),
    wait: bool = typer.Option(False, "--wait/--no-wait", help="Follow the game-day live, drill by drill, to its verdict."),
    lab_file: Path = typer.Option(Path(".drillkit/lab.json"), help="The lab description `drillkit lab up` writes."),
    requested_by: str = typer.Option(os.environ.get("USER", "unknown"), help="Recorded in every report."),
    reports_dir: Path = typer.Option(Path("drillkit-reports"), help="Where the game-day report is copied."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and every drill's dry run; change nothing."),
) -> None:
    """Run a game-day. Exit 0 when every drill passed, 1 when one failed or never started, 2 on error."""
    from drillkit.gameday import client as gameday_client

    plan = load_gameday_plan(plan_file)
    try:
        deployment = _deployment(stack_name, region, lab_file)
        if dry_run:
            raise typer.Exit(_gameday_dry_run(deployment, plan, requested_by))
        machine = gameday_client.machine_arn(stack_name, region, lab_file)
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
    stack_name: str | None = typer.Option(None, help="Deployed drillkit stack (AWS)."),
    region: str | None = typer.Option(None, help="AWS region of the stack."),
    lab_file: Path = typer.Option(Path(".drillkit/lab.json"), help="The lab description `drillkit lab up` writes."),
) -> None:
    """Create or update a schedule that starts the game-day machine with this plan."""
    from drillkit.gameday import client as gameday_client
    from drillkit.gameday import schedule as gameday_schedule
    from drillkit.spec import Network

    plan = load_gameday_plan(plan_file)
    schedule_name = name or plan.name
    try:
        deployment = _deployment(stack_name, region, lab_file)
        machine = gameday_client.machine_arn(stack_name, region, lab_file)
        role = gameday_client.scheduler_role_arn(stack_name, region, lab_file)
        network = Network.model_validate(deployment.network) if deployment.network else None
        document = gameday_schedule.schedule_input(plan, schedule_name, network)
        done = gameday_schedule.put(
            deployment.client("scheduler"), schedule_name, cron, timezone, machine, role, document, enabled=not disabled
        )
        upcoming = gameday_schedule.next_run(cron, timezone, datetime.now(UTC)) if not disabled else None
    except DrillError as error:
        raise _fail(str(error)) from None
    state = "paused" if disabled else f"next run {upcoming:%Y-%m-%d %H:%M} UTC" if upcoming else "next run not computed"
    console.print(f"Schedule [bold]{schedule_name}[/] {done}: {plan.name}, {cron} ({timezone}); {state}", soft_wrap=True)


@gameday_app.command("schedules")
def gameday_schedules_command(
    stack_name: str | None = typer.Option(None, help="Deployed drillkit stack (AWS)."),
    region: str | None = typer.Option(None, help="AWS region of the stack."),
    lab_file: Path = typer.Option(Path(".drillkit/lab.json"), help="The lab description `drillkit lab up` writes."),
) -> None:
    """List the schedules that start game-days, with their next run."""
    from drillkit.gameday import client as gameday_client
    from drillkit.gameday import schedule as gameday_schedule

    try:
        deployment = _deployment(stack_name, region, lab_file)
        machine = gameday_client.machine_arn(stack_name, region, lab_file)
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
    stack_name: str | None = typer.Option(None, help="Deployed drillkit stack (AWS)."),
    region: str | None = typer.Option(None, help="AWS region of the stack."),
    lab_file: Path = typer.Option(Path(".drillkit/lab.json"), help="The lab description `drillkit lab up` writes."),
) -> None:
    """Pause a game-day schedule (or --resume it): nothing else about it changes."""
    from drillkit.gameday import schedule as gameday_schedule

    try:
        gameday_schedule.set_state(_deployment(stack_name, region, lab_file).client("scheduler"), name, enabled=resume)
    except DrillError as error:
        raise _fail(str(error)) from None
    console.print(f"Schedule [bold]{name}[/] {'resumed' if resume else 'paused'}", soft_wrap=True)


if __name__ == "__main__":
    app()
