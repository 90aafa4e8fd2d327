"""Probe: the standby region answers the probe's request itself, straight at its endpoint.

Route 53 sends clients to the standby only when the primary fails, so nothing else in steady state shows
that the standby could serve them. This probe makes the scenario's request (same scheme, port, path, Host
and SNI as the public name) to the address the SECONDARY record points at, bypassing the failover answer.
Read-only: one GET, as a client would make it.
"""

from __future__ import annotations

import http.client

import dns.exception

from drillkit import clock
from drillkit.model import DrillContext, FailoverEndpoint
from drillkit.probes import http_endpoint, sides
from drillkit.readings import STANDBY, StandbyAnswer, StandbyReading
from drillkit.spec import Network, Target

NAME = STANDBY


def addresses_of(endpoint: FailoverEndpoint, network: Network, timeout: float) -> list[str]:
    """The addresses a record's values stand for (an alias or CNAME target resolved, as a client would)."""
    found: list[str] = []
    for value in endpoint.values:
        if sides.is_address(value):
            found.append(value)
        else:
            found += [a for a in sides.resolve(value, "A", network, timeout) if a not in found]
    return found


def request(endpoint: FailoverEndpoint, record_name: str, target: Target, network: Network, timeout: float) -> StandbyAnswer:
    """The scenario's GET against one failover endpoint: ok, status, reason, address, url, error."""
    name = record_name.rstrip(".")
    logical_port = target.url_port or (443 if target.url_scheme == "https" else 80)
    port = network.ports.get(logical_port, logical_port)
    url = f"{target.url_scheme}://{name}:{logical_port}{target.url_path}"
    answer = StandbyAnswer(url=url)
    try:
        addresses = addresses_of(endpoint, network, timeout)
    except (dns.exception.DNSException, OSError) as error:
        answer.error = f"resolve {', '.join(endpoint.values)}: {type(error).__name__}: {error}"
        return answer
    if not addresses:
        answer.error = f"resolve {', '.join(endpoint.values)}: no address"
        return answer
    answer.address = addresses[0]
    try:
        status, reason = http_endpoint.get(addresses[0], port, target.url_scheme, name, target.url_path, timeout, network.ca_pem)
    except (OSError, http.client.HTTPException) as error:
        answer.error = f"GET {url} at {addresses[0]}: {type(error).__name__}: {error}"
        return answer
    answer.status, answer.reason, answer.ok = status, reason, 200 <= status < 400
    return answer


def read(context: DrillContext) -> StandbyReading | None:
    endpoint = context.target.standby
    if endpoint is None:
        return None
    t = clock.now()
    answer = request(
        endpoint,
        context.target.record_name,
        context.scenario.target,
        context.network,
        context.scenario.sampling.probe_timeout_seconds,
    )
    return StandbyReading(t=t, set_identifier=endpoint.set_identifier, **answer.model_dump(), latency=round(clock.now() - t, 4))
