"""The lab's Route 53 checkers: staggered over the interval, settled at once at the lab's start, woken to stop;
and the listeners they connect to queue as many connections as a real endpoint does."""

from __future__ import annotations

import socket
import threading
import time
from types import SimpleNamespace

import pytest

from drillkit_lab.physics.network import LabHTTPServer
from drillkit_lab.physics.route53 import CHECKER_REGIONS, HealthCheckFleet

from ..loopback import Answers200, eventually

pytestmark = pytest.mark.loopback

INTERVAL = 30.0  # Route 53's standard interval: a checker's turn comes every 3.75 s in a fleet of eight


@pytest.fixture
def endpoint():
    server = LabHTTPServer(("127.0.0.1", 0), Answers200)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def health_check() -> SimpleNamespace:
    """The fields of moto's health check that the checkers read."""
    return SimpleNamespace(
        type_="HTTP", ip_address="127.0.0.1", fqdn=None, port=80, resource_path="/health", request_interval=INTERVAL,
        failure_threshold=3, search_string=None, disabled=False, inverted=False,
    )  # fmt: skip


@pytest.fixture
def fleet(endpoint):
    backend = SimpleNamespace(health_checks={"hc-1": health_check()})
    stop = threading.Event()
    fleet = HealthCheckFleet(backend, "hc-1", stop, lambda _config: ("127.0.0.1", endpoint.server_address[1]))
    fleet.start()
    yield fleet
    stop.set()
    fleet.wake()


def test_checkers_take_turns_over_the_interval(fleet, endpoint):
    assert eventually(lambda: len(endpoint.requests) >= 1, 2)
    time.sleep(0.5)
    # The first checker checks at once; the next one's turn is an eighth of the interval later.
    assert len(endpoint.requests) == 1
    assert sum(c.healthy is not None for c in fleet.checkers) == 1


def test_settling_has_every_checker_check_at_once_and_keep_its_turn(fleet, endpoint):
    assert eventually(lambda: len(endpoint.requests) >= 1, 2)
    fleet.settle()
    assert eventually(fleet.settled, 2), "each checker checks when settled, not when its turn comes"
    assert fleet.healthy() is True
    assert len(endpoint.requests) == 1 + len(CHECKER_REGIONS)
    time.sleep(0.5)
    assert len(endpoint.requests) == 1 + len(CHECKER_REGIONS), "the extra check does not move the checkers' turns"


def test_a_stopped_fleet_stops_at_once(endpoint):
    stop = threading.Event()
    backend = SimpleNamespace(health_checks={"hc-2": health_check()})
    fleet = HealthCheckFleet(backend, "hc-2", stop, lambda _config: ("127.0.0.1", endpoint.server_address[1]))
    fleet.start()
    stop.set()
    fleet.wake()
    assert eventually(lambda: not any(t.name.startswith("hc-hc-2") for t in threading.enumerate()), 2)


def test_a_listener_queues_more_connections_than_a_fleet_makes_at_once():
    # socketserver's own queue of 5 made the kernel drop the sixth and later SYNs of eight checkers connecting at once.
    server = LabHTTPServer(("127.0.0.1", 0), Answers200)  # listening, not yet accepting
    clients = []
    try:
        for _ in range(3 * len(CHECKER_REGIONS)):
            clients.append(socket.create_connection(server.server_address, timeout=0.5))  # type: ignore[arg-type]
    finally:
        for client in clients:
            client.close()
        server.server_close()
    assert len(clients) == 3 * len(CHECKER_REGIONS)
