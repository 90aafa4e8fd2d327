"""An API Gateway regional endpoint with a Lambda proxy integration, on its own loopback address.

It serves HTTPS with the lab's certificate on the real port behind 443. Every request invokes the
region's function: reserved concurrency 0 throttles it and the API answers 500 "Internal server
error"; a path the API does not define gets API Gateway's 403 "Missing Authentication Token".
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from drillkit_lab.physics.apps import REGION_HEADER
from drillkit_lab.physics.network import LabHTTPServer, NetworkLatency, Serving
from drillkit_lab.ports import PortMap


@dataclass
class ApiPhysics:
    name: str
    address: str
    region: str
    function_name: str
    health_path: str
    awslambda: Any
    ports: PortMap
    tls: ssl.SSLContext
    # HTTPS: the TLS handshake costs a round trip more than TCP's.
    latency: NetworkLatency = NetworkLatency(handshake_round_trips=2)
    _serving: Serving | None = None

    def _throttled(self) -> bool:
        try:
            function = self.awslambda.get_function(self.function_name)
        except Exception:  # noqa: BLE001 moto raises its own not-found error
            return True
        return str(function.reserved_concurrency) == "0"

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                api.latency.before_response(self)
                path = self.path.split("?")[0]
                if path not in ("/", api.health_path):
                    self._reply(403, {"message": "Missing Authentication Token"})
                elif api._throttled():
                    self._reply(500, {"message": "Internal server error"})
                else:
                    self._reply(200, {"region": api.region, "status": "ok"}, {REGION_HEADER: api.region})

            def _reply(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **(extra or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = LabHTTPServer((self.address, self.ports.real(443)), Handler)
        self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self._serving = Serving(self.server, f"api-{self.name}")

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
