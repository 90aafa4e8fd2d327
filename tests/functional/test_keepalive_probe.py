"""The keep-alive probe against a real HTTP/1.1 server on loopback: what a held connection reports."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drillkit.model import FailoverEndpoint
from drillkit.probes import keepalive
from drillkit.spec import Network

from ..reports import drill_context

pytestmark = pytest.mark.loopback  # the probe holds a connection to a stand-in HTTP server on 127.0.0.1


class FrontDoor:
    """A front door that can stop taking new connections, stall requests, or close connections."""

    def __init__(self) -> None:
        self.stall = threading.Event()
        self.close_after_reply = False
        self.connections = 0
        door = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                door.connections += 1
                super().setup()

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if door.stall.is_set():
                    self.close_connection = True
                    door.released.wait(5)
                    return
                body = b'{"region": "us-east-1"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                if door.close_after_reply:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def refuse_new_connections(self) -> None:
        """What a security-group change does to a tracked connection: new ones fail, this one goes on."""
        self.server.shutdown()
        self.server.socket.close()

    def close(self) -> None:
        self.released.set()
        if not self.server.socket._closed:  # type: ignore[attr-defined]
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def door() -> Iterator[FrontDoor]:
    started = FrontDoor()
    yield started
    keepalive.release()
    started.close()


@pytest.fixture
def context(scenario_dict, door, monkeypatch):
    monkeypatch.setattr(keepalive, "REQUEST_TIMEOUT_SECONDS", 0.5)
    context = drill_context(scenario_dict)
    primary = FailoverEndpoint(side="primary", set_identifier="primary", values=("127.0.0.1",), health_check_id="hc-1")
    return context.model_copy(
        update={"network": Network(ports={80: door.port}), "target": context.target.model_copy(update={"primary": primary})}
    )


def test_no_reading_in_a_step_that_holds_no_connection(context):
    assert keepalive.read(context) is None


def test_the_held_connection_is_reused_and_served_by_the_primary(context, door):
    before = keepalive.hold(context)
    assert before is not None and before.served and before.region == "us-east-1"
    first, second = keepalive.read(context), keepalive.read(context)
    assert first.served and second.served and second.held_since == before.held_since
    assert door.connections == 1  # the same connection all along


def test_a_held_connection_still_served_while_new_connections_fail(context, door):
    keepalive.hold(context)
    door.refuse_new_connections()
    assert keepalive.read(context).served is True


def test_a_stalled_held_connection_is_cut_and_never_reopened(context, door):
    keepalive.hold(context)
    door.stall.set()
    cut = keepalive.read(context)
    assert cut.served is False and "timed out" in cut.error
    door.stall.clear()
    # The front door answers again, but a new connection would be a new client: the held one stays lost.
    later = keepalive.read(context)
    assert later.served is False and later.error.startswith("connection lost earlier: TimeoutError")
    assert door.connections == 1


def test_a_connection_the_server_closes_is_not_silently_reopened(context, door):
    keepalive.hold(context)
    door.close_after_reply = True
    closing = keepalive.read(context)
    assert closing.served is True  # this answer came, then the server closed the connection
    door.close_after_reply = False
    after = keepalive.read(context)
    assert after.served is False and "closed the connection" in after.error


def test_hold_gives_up_on_a_front_door_that_does_not_keep_connections_open(context, door):
    door.close_after_reply = True
    assert keepalive.hold(context) is None
    assert keepalive.read(context) is None
