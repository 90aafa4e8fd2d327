"""Labs forked from a process that has imported the lab already, for a caller that starts many (the test suite).

Half of a lab's start goes before it serves anything: importing the lab, moto's backends and Step Functions
interpreter, and parsing the AWS API models of the services it serves (about 1.3 of 2.6 CPU s). `make test` starts
some twenty-five labs. A launcher does that work once, then forks each lab from itself: the lab runs `python -m
drillkit_lab` (its ``main``) with the caller's arguments, working directory, environment and output, as a new
process would. What the lab builds (its local cloud's state, its stack, its threads and ports) is made after the
fork, in the lab alone.

The caller (``LabLauncher``) and the launcher (``serve``) talk over a Unix socket pair, one message per request:
- ``start``: the lab's arguments, working directory and environment, with its stdout and stderr as file descriptors.
  The launcher forks and answers with the lab's pid and a pidfd for it (Linux 5.3+: a handle on that one process,
  which cannot come to name another once it has exited), through which the caller signals it and sees it exit.
- ``reap``: the exit status of a lab that has exited (the launcher is its parent: only it can wait for it).

Tethers (tether.py): a forked lab is attached to the launcher (``--parent-pid``) and stops when it exits; the
launcher exits when the caller's end of the socket closes, which the kernel does when the caller exits however it
exits. So a lab still never outlives its test.

The launcher stays single-threaded: fork copies only the thread that calls it, and a lock another thread held at
that moment would stay locked in the lab forever.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Annotated, Literal, TextIO

from pydantic import BaseModel, Field, TypeAdapter

MESSAGE_BYTES = 1 << 20  # a request carries the caller's environment: a few kilobytes
# The services a lab serves: moto's backends and server routes imported, and their API models parsed, once in the
# launcher (as botocore names the service, then moto's package for it). A service missing here still works in a
# forked lab, which imports it as a lab started anew does.
LAB_SERVICES = {
    "acm": "acm",
    "cloudwatch": "cloudwatch",
    "dynamodb": "dynamodb",
    "ec2": "ec2",
    "ecs": "ecs",
    "elb": "elb",
    "elbv2": "elbv2",
    "events": "events",
    "iam": "iam",
    "kms": "kms",
    "lambda": "awslambda",
    "logs": "logs",
    "rds": "rds",
    "route53": "route53",
    "s3": "s3",
    "scheduler": "scheduler",
    "secretsmanager": "secretsmanager",
    "sns": "sns",
    "sqs": "sqs",
    "stepfunctions": "stepfunctions",
    "sts": "sts",
}


class LauncherError(RuntimeError):
    """The launcher could not start a lab, or is gone."""


# -- what crosses the socket ---------------------------------------------------------------------------------------
class StartLab(BaseModel):
    """Fork a lab; its stdout and stderr travel with the message as file descriptors."""

    op: Literal["start"] = "start"
    arguments: list[str]  # python -m drillkit_lab's, but --parent-pid (the launcher's own)
    cwd: str
    env: dict[str, str]


class ReapLab(BaseModel):
    """The exit status of a lab that has exited."""

    op: Literal["reap"] = "reap"
    pid: int


REQUEST = TypeAdapter(Annotated[StartLab | ReapLab, Field(discriminator="op")])


class Answer(BaseModel):
    pid: int | None = None  # a started lab's (its pidfd travels with the message)
    code: int | None = None  # a reaped lab's exit status
    error: str | None = None


# == the caller's side ==========================================================================================
class LabLauncher:
    """A launcher process for this process's labs; ``spawn`` starts one (``drillkit.cli.LabProcess``'s ``spawn``)."""

    def __init__(self) -> None:
        self._channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.process = subprocess.Popen([sys.executable, "-m", "drillkit_lab.launcher"], stdin=theirs.fileno())
        self._lock = threading.Lock()  # one request and its answer at a time

    def spawn(self, arguments: list[str], output: TextIO | None) -> ForkedLab:
        """Start a lab with these arguments (``python -m drillkit_lab``'s) writing to ``output`` (None: this process's
        stdout and stderr), in this process's working directory and environment."""
        # None: this process's own stdout and stderr, as Popen(stdout=None) leaves them (sys.stdout may be captured)
        descriptors = [output.fileno(), output.fileno()] if output is not None else [1, 2]
        answer, received = self._ask(StartLab(arguments=arguments, cwd=os.getcwd(), env=dict(os.environ)), descriptors)
        if answer.pid is None:
            raise LauncherError(f"the lab launcher could not start a lab: {answer.error}")
        return ForkedLab(self, answer.pid, received[0])

    def reap(self, pid: int) -> int:
        answer, _ = self._ask(ReapLab(pid=pid))
        if answer.code is None:
            raise LauncherError(f"the lab launcher could not reap pid {pid}: {answer.error}")
        return answer.code

    def close(self, timeout: float = 10) -> None:
        """Hang up: the launcher exits (and any lab it still has stops, as its tether says)."""
        self._channel.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _ask(self, request: StartLab | ReapLab, descriptors: list[int] | None = None) -> tuple[Answer, list[int]]:
        with self._lock:
            try:
                socket.send_fds(self._channel, [request.model_dump_json().encode()], descriptors or [])
                data, received, _, _ = socket.recv_fds(self._channel, MESSAGE_BYTES, 1)
            except OSError as error:
                raise LauncherError(f"the lab launcher is gone ({error}); exit status {self.process.poll()}") from error
        if not data:
            raise LauncherError(f"the lab launcher exited (status {self.process.wait()}); its error is above")
        return Answer.model_validate_json(data), received


@dataclass
class ForkedLab:
    """A lab the launcher forked, as subprocess.Popen would show it: pid, poll, wait, send_signal, kill."""

    launcher: LabLauncher
    pid: int
    pidfd: int
    returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and _exited(self.pidfd, 0):
            self.returncode = self.launcher.reap(self.pid)
            os.close(self.pidfd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not _exited(self.pidfd, timeout):
            raise subprocess.TimeoutExpired(f"drillkit_lab (pid {self.pid})", timeout or 0)
        code = self.poll()
        assert code is not None
        return code

    def send_signal(self, number: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # exited, not yet reaped
                signal.pidfd_send_signal(self.pidfd, number)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _exited(pidfd: int, timeout: float | None) -> bool:
    """A pidfd reads as ready once its process has exited."""
    return bool(select.select([pidfd], [], [], timeout)[0])


# == the launcher ===============================================================================================
def warm() -> None:
    """Import and parse, once, what every lab's start would: the lab, moto's backends and routes, the API models."""
    import importlib

    import botocore.session
    import moto.core.utils
    import moto.moto_server.werkzeug_app  # noqa: F401 the local cloud's server

    import drillkit_lab.__main__  # noqa: F401
    import drillkit_lab.lab  # noqa: F401
    from drillkit_lab.extensions import share_botocore_loader

    # No moto backend is made here (a lab makes its own, after its patches, in its own environment), so no setting
    # of moto's that is read when a backend is made (extensions.skip_public_amis) matters in the launcher.
    share_botocore_loader()
    loader, moto_loader = botocore.session.create_loader(), moto.core.utils.create_loader()
    for service, package in LAB_SERVICES.items():
        importlib.import_module(f"moto.{package}.urls")  # its responses and models
        loader.load_service_model(service, "service-2")
        loader.load_service_model(service, "endpoint-rule-set-1")
        moto_loader.load_service_model(service, "service-2")
    for data in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        loader.load_data(data)
    importlib.import_module("moto.stepfunctions.parser.models")  # the interpreter that runs executions


def _start(channel: socket.socket, request: StartLab, descriptors: list[int]) -> Answer:
    if threading.active_count() != 1:  # see the module's docstring
        return Answer(error=f"the launcher has {threading.active_count()} threads; it forks only single-threaded")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            channel.close()
            code = _run_lab(request, descriptors)
        except BaseException:  # noqa: BLE001 whatever happens, the lab's process ends here, never back in the loop
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    return Answer(pid=pid)


def _run_lab(request: StartLab, descriptors: list[int]) -> int:
    """In the forked child: become ``python -m drillkit_lab`` as the caller would have started it."""
    stdout, stderr = descriptors
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    for descriptor in {stdout, stderr} - {1, 2}:
        os.close(descriptor)
    null = os.open(os.devnull, os.O_RDONLY)  # fd 0 itself once the channel is closed
    if null != 0:
        os.dup2(null, 0)
        os.close(null)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request.cwd)
    os.environ.clear()
    os.environ.update(request.env)
    time.tzset()
    # moto draws its ids (VPCs, instances, executions) from a Random of its own, which fork copies with its state:
    # every lab would draw the same ids. (random's own generator is reseeded at fork by Python.)
    from moto.moto_api._internal import mock_random

    mock_random.seed()
    from drillkit_lab.__main__ import main

    # Attached to the launcher, its parent: it stops when the launcher exits (module docstring).
    return main([*request.arguments, "--parent-pid", str(os.getppid())])


def serve(channel: socket.socket) -> None:
    """Answer requests until the caller hangs up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the caller and the labs; the launcher exits with them
    gc.disable()  # as the lab's main does while it imports (drillkit_lab.__main__)
    warm()
    gc.freeze()
    while True:
        data, descriptors, _, _ = socket.recv_fds(channel, MESSAGE_BYTES, 2)
        if not data:
            return
        request = REQUEST.validate_json(data)
        pidfds: list[int] = []
        if isinstance(request, StartLab):
            answer = _start(channel, request, descriptors)
            if answer.pid is not None:
                pidfds = [os.pidfd_open(answer.pid)]
        else:
            try:
                _, status = os.waitpid(request.pid, 0)
                answer = Answer(code=os.waitstatus_to_exitcode(status))
            except ChildProcessError:
                answer = Answer(error=f"pid {request.pid} is not a lab of this launcher")
        for descriptor in descriptors:  # the lab has its own copies
            os.close(descriptor)
        socket.send_fds(channel, [answer.model_dump_json().encode()], pidfds)
        for pidfd in pidfds:
            os.close(pidfd)


if __name__ == "__main__":
    serve(socket.socket(fileno=0))
    os._exit(0)  # as the lab does: the interpreter's teardown of what warm() built frees nothing the kernel would not
