"""The lab's listeners sleep until a connection, a change or the stop comes (no poll), and still stop at once."""

from __future__ import annotations

import http.client
import selectors
import threading
import time
from typing import Any

import pytest

from drillkit_lab.physics import network
from drillkit_lab.physics.network import LabHTTPServer, Serving

from ..loopback import Answers200

pytestmark = pytest.mark.loopback


@pytest.fixture
def selects(monkeypatch) -> list[float]:
    """When the select of a thread named test-app returned (the serving thread awake), from now on."""
    returned: list[float] = []

    class Counting(selectors.DefaultSelector):
        def select(self, timeout: float | None = None) -> list[Any]:
            ready = super().select(timeout)
            if threading.current_thread().name == "test-app":
                returned.append(time.monotonic())
            return ready

    monkeypatch.setattr(network.selectors, "DefaultSelector", Counting)
    return returned


def get(server: LabHTTPServer, timeout: float = 2.0) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=timeout)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status
    finally:
        connection.close()


def answered_within(server: LabHTTPServer, seconds: float) -> bool:
    """A client that gives up after half a second and tries again until answered."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return get(server, timeout=0.5) == 200
        except OSError:
            time.sleep(0.05)
    return False


def test_an_idle_listener_sleeps_serves_when_asked_and_stops_at_once(selects):
    server = LabHTTPServer(("127.0.0.1", 0), Answers200)
    serving = Serving(server, "test-app")
    time.sleep(0.5)
    assert selects == []  # serve_forever(0.05) woke ten times meanwhile
    assert get(server) == 200
    started = time.monotonic()
    serving.stop()
    assert not any(t.name == "test-app" for t in threading.enumerate())
    assert time.monotonic() - started < 1.0  # no poll to wait out (a 3 s join otherwise)


def test_a_closed_listener_opens_when_told_to_look_again():
    server = LabHTTPServer(("127.0.0.1", 0), Answers200)
    is_open = threading.Event()
    serving = Serving(server, "test-alb", is_open.is_set)  # no recheck: nobody polls whether the path opened
    try:
        time.sleep(0.1)
        is_open.set()
        serving.look_again()  # what the ALB's watch does when it records the listener reachable
        assert answered_within(server, 5.0)
    finally:
        serving.stop()
    assert not any(t.name == "test-alb" for t in threading.enumerate())


def test_a_client_that_connected_while_the_path_was_closed_is_answered_when_it_opens_not_reset():
    server = LabHTTPServer(("127.0.0.1", 0), Answers200)
    is_open = threading.Event()
    serving = Serving(server, "test-alb", is_open.is_set)
    try:
        time.sleep(0.1)
        # The kernel still queues a connection or so while the path is closed; its request gets no answer
        waiting = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        waiting.request("GET", "/")
        with pytest.raises(TimeoutError):
            http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=0.3).request("GET", "/")
        # When the path opens while its client still waits, the client is answered, as its retransmitted SYN would be
        is_open.set()
        serving.look_again()
        assert waiting.getresponse().status == 200
        waiting.close()
    finally:
        serving.stop()
