"""Logical ports (what AWS shows: 80, 443, 8080) mapped to free local ports.

Every address of the lab listens on the same real port for a given logical port, so an
endpoint is (loopback address, real port of its logical port), whichever region it is in.
"""

from __future__ import annotations

import socket
import threading


class PortMap:
    def __init__(self, addresses: list[str]):
        self.addresses = addresses
        self._ports: dict[int, int] = {}
        self._lock = threading.Lock()

    def real(self, logical: int) -> int:
        with self._lock:
            if logical not in self._ports:
                self._ports[logical] = common_free_port(self.addresses)
            return self._ports[logical]

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {str(k): v for k, v in sorted(self._ports.items())}


def common_free_port(addresses: list[str]) -> int:
    """A TCP port free on every address."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind((addresses[0], 0))
            port = int(first.getsockname()[1])
            try:
                for address in addresses[1:]:
                    with socket.socket() as other:
                        other.bind((address, port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no common free port on {addresses}")
