"""Helpers for the unit tests of the lab's parts on loopback: an endpoint that answers 200, and a bounded wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any


class Answers200(BaseHTTPRequestHandler):
    """GET answers 200 "ok"; when is noted in the server's ``requests`` list, if it has one."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        requests = getattr(self.server, "requests", None)
        if requests is not None:
            requests.append(time.monotonic())
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return


def eventually(condition: Callable[[], Any], timeout: float) -> bool:
    """Whether the condition holds within the timeout (looked at every 10 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())
