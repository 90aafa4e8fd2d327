"""The lab's ALB answers for its instance targets as the ALB guide words its own errors: 504 for a target that
sends nothing for the idle timeout, 502 for one that refuses the connection, the target's answer otherwise."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drillkit_lab.physics.alb import forward_to_target

pytestmark = pytest.mark.loopback


@pytest.fixture
def silent_target() -> Iterator[int]:
    """Accepts connections and never answers (a hung process behind a live socket)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_a_target_silent_for_the_idle_timeout_gets_504_not_502(silent_target):
    started = time.monotonic()
    status, body, headers = forward_to_target("127.0.0.1", silent_target, "/", {}, idle_timeout=0.3)
    assert (status, headers["Server"]) == (504, "awselb/2.0") and b"504" in body
    assert 0.25 <= time.monotonic() - started < 5  # it waited out the idle timeout, not the connection timeout


def test_a_target_that_refuses_the_connection_gets_502():
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    assert forward_to_target("127.0.0.1", port, "/", {}, idle_timeout=1)[0] == 502


def test_a_targets_answer_passes_through_without_its_hop_by_hop_headers():
    class Target(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(418)
            self.send_header("X-Served-By", self.headers["X-Forwarded-For"])
            self.send_header("Connection", "close")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        status, body, headers = forward_to_target(
            "127.0.0.1", server.server_address[1], "/x", {"X-Forwarded-For": "203.0.113.9"}, idle_timeout=2
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (status, body, headers["X-Served-By"]) == (418, b"ok", "203.0.113.9")
    assert "Connection" not in headers and "Content-Length" not in headers
