"""Read-only probes. Each returns a typed reading (drillkit.readings), told apart by its ``probe``.

Probes never change anything; they get their clients from drillkit.aws only.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, Future, ThreadPoolExecutor, wait

from drillkit import aws, canary, clock, stores
from drillkit.model import DrillContext
from drillkit.probes import alarms, dns_answer, dns_client, health_check, http_endpoint, keepalive, standby
from drillkit.readings import (
    AlarmsReading,
    DnsClientReading,
    DnsReading,
    HealthCheckReading,
    HeartbeatReading,
    HttpReading,
    Reading,
    StandbyReading,
    StoresSample,
)

# A probe returns None when the scenario gives it nothing to read (no alarms, no heartbeat).
Probe = Callable[[DrillContext], Reading | None]

PROBES: dict[str, Probe] = {
    health_check.NAME: health_check.read,
    dns_answer.NAME: dns_answer.read,
    dns_client.NAME: dns_client.read,
    http_endpoint.NAME: http_endpoint.read,
    # The standby's own endpoint, straight (not through the failover answer): steady state covers both regions.
    standby.NAME: standby.read,
    alarms.NAME: alarms.read,
    # Reads only in the Inject step, which holds a connection opened before the fault (see keepalive.py).
    keepalive.NAME: keepalive.read,
    # Not a probe (it writes a canary row), but sampled with them so its instants line up.
    canary.NAME: canary.write,
    # Likewise: the heartbeats of the other replicated stores (drillkit.stores), written and read back each sample.
    stores.NAME: stores.sample,
}

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="probe")


def warm() -> None:
    """Create the clients before the first reading so its timestamp is not late by a client's setup."""
    aws.target_client("route53")
    health_check.route53_client()


def needs_seed(context: DrillContext) -> bool:
    """True when a fresh invocation should carry the probes' memory over from the stored samples."""
    return dns_client.needs_seed(context) or health_check.needs_seed(context)


def seed(context: DrillContext, samples: list[Reading]) -> None:
    """The probes that remember across samples (the client's DNS cache, the last health reading) resume from them."""
    dns_client.seed(context, samples)
    health_check.seed(samples)


class Sampler:
    """Starts every probe once per tick without letting a slow reading hold up the cadence.

    A probe timeout is a few seconds (a cross-region request), often longer than the interval.
    A probe still running from an earlier tick is not started again, so each probe has at most
    one reading in flight and its readings stay in order; the reading joins the tick in which it
    finishes, stamped with the instant it started.
    """

    def __init__(self, context: DrillContext):
        self._context = context
        self._in_flight: dict[str, Future[Reading | None]] = {}

    def tick(self, until: float) -> list[Reading]:
        """Start the probes that are idle; return every reading finished by ``until`` (all, if sooner)."""
        for name, probe in PROBES.items():
            if name not in self._in_flight:
                self._in_flight[name] = _pool.submit(probe, self._context)
        wait(list(self._in_flight.values()), timeout=max(0.0, until - clock.now()), return_when=ALL_COMPLETED)
        return self._finished()

    def drain(self, keep_cadence: bool = False) -> list[Reading]:
        """The readings still in flight, once they finish: none is lost when a loop ends.

        With ``keep_cadence``, each idle probe starts again every sampling interval until the readings in flight at
        the loop's end are in: right after the fault, a probe the fault holds up until its time-out (a blocked front
        door) must not leave DNS and the health check unread that long. A loop that ended at its deadline or with its
        answer does not want more readings, so that is not the default.
        """
        sampling = self._context.scenario.sampling
        deadline = clock.now() + sampling.probe_timeout_seconds + 1.0
        collected: list[Reading] = []
        if keep_cadence:
            held_up = list(self._in_flight.values())
            while not all(future.done() for future in held_up) and clock.now() < deadline:
                collected += self.tick(min(deadline, clock.now() + sampling.interval_seconds))
        wait(list(self._in_flight.values()), timeout=max(0.0, deadline - clock.now()))
        return collected + self._finished()

    def _finished(self) -> list[Reading]:
        done = [name for name, future in self._in_flight.items() if future.done()]
        readings = [self._in_flight.pop(name).result() for name in done]
        return [reading for reading in readings if reading is not None]


def expected(context: DrillContext) -> set[str]:
    """The probes that have something to read for this scenario (the others return None)."""
    names = {health_check.NAME, dns_answer.NAME, dns_client.NAME, http_endpoint.NAME}
    if context.target.standby is not None:
        names.add(standby.NAME)
    if context.scenario.alarms or context.scenario.stop_conditions:
        names.add(alarms.NAME)
    if context.scenario.data.heartbeat is not None:
        names.add(canary.NAME)
    if context.scenario.data.stores:
        names.add(stores.NAME)
    return names


def steady(samples: list[Reading]) -> tuple[bool, list[str]]:
    """Steady state: primary healthy, DNS on the primary, clients served by the primary, the standby able to serve."""
    problems: list[str] = []
    for sample in samples:
        if isinstance(sample, StoresSample):
            problems += stores.steady_problems(sample)
        elif (problem := _not_steady(sample)) is not None:
            problems.append(problem)
    return (not problems, problems)


def _not_steady(sample: Reading) -> str | None:
    """Why one reading is not steady, or None."""
    if isinstance(sample, HealthCheckReading) and sample.healthy is not True:
        return health_check.why_not_healthy(sample)
    if isinstance(sample, DnsReading) and sample.side != "primary":
        return f"DNS answers {sample.answer} instead of the primary"
    if isinstance(sample, DnsClientReading) and sample.side != "primary":
        return f"a caching resolver answers {sample.answer or sample.error} instead of the primary"
    if isinstance(sample, AlarmsReading) and (sample.in_alarm or sample.stop_in_alarm or sample.error):
        firing = [*sample.in_alarm, *sample.stop_in_alarm] or [sample.error or ""]
        return f"alarms in ALARM before the fault: {', '.join(firing)}"
    if isinstance(sample, HeartbeatReading) and not sample.ok:
        return f"the heartbeat canary cannot write to the primary: {sample.error}"
    if isinstance(sample, HttpReading) and not (sample.ok and sample.side == "primary"):
        return f"HTTP through the public name: {sample.error or sample.status} served by {sample.side or 'unknown'}"
    if isinstance(sample, StandbyReading) and not sample.ok:
        answered = sample.error or f"HTTP {sample.status} {sample.reason or ''}".rstrip()
        return f"the standby {sample.set_identifier} ({sample.address or 'unresolved'}) cannot serve GET {sample.url}: {answered}"
    return None
