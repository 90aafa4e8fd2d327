"""Probe: an HTTP GET through the public name, as a client would make it.

The name is resolved as a client resolves it, through a cache that honours the TTL (the
dns_client probe's view: the system resolver in AWS, the probe's own cache in the lab), so
recovery is what clients see, never earlier than their cached answers allow. The region that
served the request comes from the response header named by the scenario (or a JSON body key
``region``); the side comes from the address the name resolved to, matched against the
failover records.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl

import dns.exception

from drillkit import clock
from drillkit.model import DrillContext
from drillkit.probes import dns_client, sides
from drillkit.readings import HTTP, HttpReading

NAME = HTTP


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a resolved address while SNI and certificate checks use the public name."""

    def __init__(self, address: str, server_name: str, port: int, timeout: float, ca_pem: str | None = None):
        context = ssl.create_default_context()
        if ca_pem:
            context.load_verify_locations(cadata=ca_pem)
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_name = server_name

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self._server_name)  # type: ignore[attr-defined]


def get(
    address: str, port: int, scheme: str, server_name: str, path: str, timeout: float, ca_pem: str | None = None
) -> tuple[int, str]:
    """One GET as the probe makes it (Host and SNI the public name, the certificate checked): (status, reason).

    Raises OSError or http.client.HTTPException when no answer comes.
    """
    if scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPSConnection(address, server_name, port, timeout, ca_pem)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": server_name, "User-Agent": "drillkit-probe"})
        response = connection.getresponse()
        response.read(65536)
        return response.status, response.reason
    finally:
        connection.close()


def _region_of(response: http.client.HTTPResponse, body: bytes, header: str) -> str | None:
    value = response.getheader(header)
    if value:
        return value.strip()
    try:
        parsed = json.loads(body[:4096])
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed.get("region") if isinstance(parsed, dict) else None


def read(context: DrillContext) -> HttpReading:
    target = context.scenario.target
    # A cross-region HTTPS request takes a few round trips: the timeout is the scenario's, not a share of the interval.
    timeout = context.scenario.sampling.probe_timeout_seconds
    name = context.target.record_name.rstrip(".")
    logical_port = target.url_port or (443 if target.url_scheme == "https" else 80)
    port = context.network.ports.get(logical_port, logical_port)
    t = clock.now()
    sample = HttpReading(t=t, resolved_via=dns_client.SOURCE)
    try:
        addresses = dns_client.addresses(context, timeout)
    except (dns.exception.DNSException, OSError) as error:
        sample.error = f"resolve {name}: {type(error).__name__}: {error}"
        sample.latency = round(clock.now() - t, 4)
        return sample
    address = addresses[0] if addresses else None
    sample.address = address
    if address is None:
        sample.error = f"resolve {name}: no address"
        sample.latency = round(clock.now() - t, 4)
        return sample
    sample.side = sides.side_of(context, addresses, timeout)
    if target.url_scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPSConnection(address, name, port, timeout, context.network.ca_pem)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", target.url_path, headers={"Host": name, "User-Agent": "drillkit-probe"})
        response = connection.getresponse()
        body = response.read(65536)
    except (OSError, http.client.HTTPException) as error:
        sample.error = f"GET {target.url_path} on {address}:{port}: {type(error).__name__}: {error}"
        sample.latency = round(clock.now() - t, 4)
        return sample
    finally:
        connection.close()
    sample.status = response.status
    sample.ok = 200 <= response.status < 400
    sample.region = _region_of(response, body, target.region_header)
    sample.latency = round(clock.now() - t, 4)
    return sample
