"""The HTTP probe against a real listener: its timeout is the scenario's, and every reading has its latency."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from drillkit.model import DrillContext
from drillkit.probes import http_endpoint

pytestmark = pytest.mark.loopback  # the probe times out against a slow stand-in HTTP server on 127.0.0.1

INTERVAL = 0.1  # 0.8 x this used to be the probe's timeout (with a 0.2 s floor)


class _SlowHandler(BaseHTTPRequestHandler):
    delay = 0.0

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        time.sleep(self.delay)
        try:
            self.send_response(200)
            self.send_header("x-drillkit-region", "us-west-2")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass  # the probe gave up first (the time-out test)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def slow_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _context(port: int, probe_timeout: float) -> DrillContext:
    return DrillContext.model_validate(
        {
            "drill_id": "probe-timeouts-1",
            "environment_key": "Z1#localhost.",
            "requested_by": "test",
            "started_at": time.time(),
            "scenario": {
                "name": "probe-timeouts",
                "target": {"hosted_zone": "localhost.", "record_name": "localhost.", "url_scheme": "http", "url_port": 80},
                "fault": {"type": "health-check-inversion"},
                "sampling": {"interval_seconds": INTERVAL, "probe_timeout_seconds": probe_timeout},
            },
            "network": {"ports": {80: port}},
            "target": {
                "hosted_zone_id": "Z1",
                "record_name": "localhost.",
                "record_type": "A",
                "primary": {"side": "primary", "set_identifier": "p", "values": ["127.0.0.1"]},
                "standby": {"side": "standby", "set_identifier": "s", "values": ["127.0.0.2"]},
            },
        }
    )


def test_a_response_slower_than_the_interval_is_read_within_the_probe_timeout(slow_server):
    _SlowHandler.delay = 0.4
    reading = http_endpoint.read(_context(slow_server.server_address[1], probe_timeout=2.0))
    assert reading.ok is True and reading.status == 200 and reading.region == "us-west-2"
    assert reading.latency >= 0.4


def test_a_reading_that_times_out_says_so_and_how_long_it_waited(slow_server):
    _SlowHandler.delay = 1.5
    reading = http_endpoint.read(_context(slow_server.server_address[1], probe_timeout=0.5))
    assert reading.ok is False and "timed out" in reading.error
    assert 0.5 <= reading.latency < 1.5


def test_a_refused_connection_carries_its_latency_too():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    reading = http_endpoint.read(_context(port, probe_timeout=1.0))
    assert reading.ok is False and "ConnectionRefusedError" in reading.error
    assert 0 <= reading.latency < 1.0
