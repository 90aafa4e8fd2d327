"""The application: one HTTP server per target, on its own loopback address, saying which region it is.

It answers 200 on / and on its health path; the `healthy: false` knob makes it answer 500
everywhere (a standby whose targets never become healthy). With a dependency in the other region's
VPC (`peer_dependency`), both open a connection to it first: while the peering does not carry it, the
request waits for the app's connect timeout (callers with a shorter one time out first), then 503.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from drillkit_lab.physics.network import LabHTTPServer, PeerEndpoint, Serving

REGION_HEADER = "x-drillkit-region"


class RegionApp:
    def __init__(
        self,
        region: str,
        address: str,
        port: int,
        health_path: str = "/health",
        healthy: bool = True,
        database_ok: Any = None,
        peer: PeerEndpoint | None = None,
    ):
        self.peer = peer  # a dependency in the other region's VPC, reached over the VPC peering
        self.region = region
        self.database_ok = database_ok  # deep health: a callable that queries the region's database
        self.address = address
        self.health_path = health_path
        self.healthy = healthy
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if not app.healthy:
                    self._reply(500, {"error": "not ready", "region": app.region})
                elif self.path.split("?")[0] not in ("/", app.health_path):
                    self._reply(404, {"error": "not found", "region": app.region})
                elif app.peer is not None and not app.peer.answers():
                    self._reply(503, {"error": "dependency in the peer VPC unreachable", "region": app.region})
                elif self.path.split("?")[0] == app.health_path and app.database_ok and not app.database_ok():
                    self._reply(503, {"error": "database unavailable", "region": app.region})
                else:
                    self._reply(200, {"region": app.region, "status": "ok"})

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header(REGION_HEADER, app.region)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the lab logs its own events
                return

        self._handler = Handler
        self.server: LabHTTPServer | None = None
        self._serving: Serving | None = None
        self.port = port
        self._bind()

    def _bind(self) -> None:
        self.server = LabHTTPServer((self.address, self.port), self._handler)
        self.port = self.server.server_address[1]

    def start(self) -> None:
        """Serve; after a stop (an ECS task stopped) a start serves again on the same address and port."""
        if self.server is None:
            self._bind()
        assert self.server is not None
        self._serving = Serving(self.server, f"app-{self.region}")

    def stop(self) -> None:
        if self._serving is None:
            return
        self._serving.stop()
        self.server = self._serving = None
