"""Read-only probes. Each returns a small dict sample: {t, probe, ...}.

Probes never change anything; they get their clients from drillkit.aws only.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from drillkit import aws, canary
from drillkit.model import DrillContext
from drillkit.probes import alarms, dns_answer, dns_client, health_check, http_endpoint

# A probe returns None when the scenario gives it nothing to read (no alarms, no heartbeat).
Probe = Callable[[DrillContext], dict[str, Any] | None]

PROBES: dict[str, Probe] = {
    health_check.NAME: health_check.read,
    dns_answer.NAME: dns_answer.read,
    dns_client.NAME: dns_client.read,
    http_endpoint.NAME: http_endpoint.read,
    alarms.NAME: alarms.read,
    # Not a probe (it writes a canary row), but sampled with them so its instants line up.
    canary.NAME: canary.write,
}

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="probe")


def warm() -> None:
    """Create the clients before the first reading so its timestamp is not late by a client's setup."""
    aws.target_client("route53")
    health_check.route53_client()


def needs_seed(context: DrillContext) -> bool:
    """True when a fresh invocation should carry the probes' memory over from the stored samples."""
    return dns_client.needs_seed(context) or health_check.needs_seed(context)


def seed(context: DrillContext, samples: list[dict[str, Any]]) -> None:
    """The probes that remember across samples (the client's DNS cache, the last health reading) resume from them."""
    dns_client.seed(context, samples)
    health_check.seed(samples)


def sample_all(context: DrillContext) -> list[dict[str, Any]]:
    """Run every probe concurrently so one sample's readings share an instant."""
    futures = [_pool.submit(probe, context) for probe in PROBES.values()]
    return [reading for reading in (future.result() for future in futures) if reading is not None]


def steady(samples: list[dict[str, Any]]) -> tuple[bool, list[str]]:
    """Steady state: primary healthy, DNS on the primary, clients served by the primary."""
    problems = []
    for sample in samples:
        probe = sample["probe"]
        if probe == health_check.NAME and sample.get("healthy") is not True:
            problems.append(f"primary health check {sample.get('health_check_id')} is not healthy")
        elif probe == dns_answer.NAME and sample.get("side") != "primary":
            problems.append(f"DNS answers {sample.get('answer')} instead of the primary")
        elif probe == dns_client.NAME and sample.get("side") != "primary":
            problems.append(f"a caching resolver answers {sample.get('answer') or sample.get('error')} instead of the primary")
        elif probe == alarms.NAME and (sample.get("in_alarm") or sample.get("stop_in_alarm") or sample.get("error")):
            firing = [*sample.get("in_alarm", []), *sample.get("stop_in_alarm", [])] or [sample.get("error", "")]
            problems.append(f"alarms in ALARM before the fault: {', '.join(firing)}")
        elif probe == canary.NAME and not sample.get("ok"):
            problems.append(f"the heartbeat canary cannot write to the primary: {sample.get('error')}")
        elif probe == http_endpoint.NAME and not (sample.get("ok") and sample.get("side") == "primary"):
            problems.append(
                f"HTTP through the public name: {sample.get('error') or sample.get('status')} "
                f"served by {sample.get('side') or 'unknown'}"
            )
    return (not problems, problems)
