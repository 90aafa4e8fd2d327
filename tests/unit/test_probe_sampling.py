"""Probe timeouts are the scenario's, not a share of the interval; a slow probe does not slow the others."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

import pytest

from drillkit import probes
from drillkit.errors import ScenarioInvalid
from drillkit.readings import DnsReading, HttpReading, Reading
from drillkit.spec import PROBE_TIMEOUT_SECONDS, parse_scenario


def test_the_probe_timeout_defaults_to_seconds_whatever_the_interval(scenario_dict):
    scenario_dict["sampling"]["interval_seconds"] = 0.1
    assert parse_scenario(scenario_dict).sampling.probe_timeout_seconds == PROBE_TIMEOUT_SECONDS == 5.0


@pytest.mark.parametrize(
    ("sampling", "problem"),
    [
        ({"probe_timeout_seconds": 0.2}, "greater than or equal to 0.5"),
        ({"probe_timeout_seconds": 31}, "less than or equal to 30"),
        ({"probe_timeout_seconds": 10, "steady_state_timeout_seconds": 10}, "shorter than steady_state_timeout_seconds"),
        ({"probe_timeout_seconds": 20, "observe_timeout_seconds": 15}, "shorter than observe_timeout_seconds"),
    ],
)
def test_a_probe_timeout_that_cannot_work_is_refused_naming_the_field(scenario_dict, sampling, problem):
    scenario_dict["sampling"].update(sampling)
    with pytest.raises(ScenarioInvalid) as refused:
        parse_scenario(scenario_dict)
    assert any(field.startswith("sampling") and problem in message for field, message in refused.value.problems)


def test_the_content_hash_changes_only_when_the_probe_timeout_is_not_the_default(scenario_dict):
    default = parse_scenario(scenario_dict).content_hash()
    explicit = copy.deepcopy(scenario_dict)
    explicit["sampling"]["probe_timeout_seconds"] = PROBE_TIMEOUT_SECONDS
    assert parse_scenario(explicit).content_hash() == default
    explicit["sampling"]["probe_timeout_seconds"] = 2
    assert parse_scenario(explicit).content_hash() != default


class _Context:
    """What the sampler reads of a drill context."""

    class scenario:  # noqa: N801 (mirrors the attribute path)
        class sampling:  # noqa: N801
            probe_timeout_seconds = 2.0
            interval_seconds = 0.1


def _probe(reading: type[HttpReading | DnsReading], seconds: float, started: list[str]) -> Any:
    def read(_: Any) -> Reading:
        t = time.time()
        started.append(reading.__name__)
        time.sleep(seconds)
        return reading(t=t)

    return read


def _held_probe(reading: type[DnsReading], release: threading.Event, started: list[str], released: list[bool]) -> Any:
    """A probe whose reading stays in flight until the test releases it (or 10 s pass: then it was held up)."""

    def read(_: Any) -> Reading:
        t = time.time()
        started.append(reading.__name__)
        released.append(release.wait(10))
        return reading(t=t)

    return read


def test_a_probe_slower_than_the_interval_does_not_hold_up_the_others(monkeypatch):
    # Given a fast probe and one whose reading stays in flight until the test lets it finish
    interval, started, release, released = 0.1, [], threading.Event(), []
    fast, slow = _probe(HttpReading, 0.0, started), _held_probe(DnsReading, release, started, released)
    monkeypatch.setattr(probes, "PROBES", {"fast": fast, "slow": slow})
    sampler = probes.Sampler(_Context())  # type: ignore[arg-type]
    # When the sampler ticks once per interval, three times with the slow reading held, then twice more after it
    ticks, next_tick = [], time.time()
    for n in range(5):
        if n == 3:
            slow_started_while_held = started.count("DnsReading")
            release.set()
        next_tick += interval
        ticks.append(sampler.tick(until=next_tick))
        time.sleep(max(0.0, next_tick - time.time()))
    late = sampler.drain()
    # Then the ticks came and went while the slow reading was in flight: the test released it (had a tick waited for
    # it, it would have run out its 10 s), and every tick has the fast reading
    assert released[0] is True
    assert [sum(isinstance(r, HttpReading) for r in tick) for tick in ticks] == [1, 1, 1, 1, 1]
    # the slow probe ran one at a time: no second reading started while the first was in flight
    assert slow_started_while_held == 1
    # and no slow reading was lost: each came in a tick after its release, or from the drain
    assert not any(isinstance(r, DnsReading) for tick in ticks[:3] for r in tick)
    slow_readings = [r for tick in [*ticks, late] for r in tick if isinstance(r, DnsReading)]
    assert len(slow_readings) == started.count("DnsReading") >= 1


def test_a_probe_that_answers_nothing_has_nothing_in_flight_afterwards(monkeypatch):
    monkeypatch.setattr(probes, "PROBES", {"nothing": lambda _: None})
    sampler = probes.Sampler(_Context())  # type: ignore[arg-type]
    assert sampler.tick(until=time.time() + 0.5) == []
    assert sampler.drain() == []


def test_draining_at_the_cadence_keeps_sampling_the_others_until_the_held_up_reading_is_in(monkeypatch):
    # Given a probe held up when a loop ends (a blocked front door waiting out its time-out), released only once the
    # fast probe has been read five more times
    started, release, released, fast_reads = [], threading.Event(), [], []

    def fast(_: Any) -> Reading:
        fast_reads.append(time.time())
        if len(fast_reads) >= 6:
            release.set()
        return HttpReading(t=fast_reads[-1])

    monkeypatch.setattr(probes, "PROBES", {"fast": fast, "slow": _held_probe(DnsReading, release, started, released)})
    sampler = probes.Sampler(_Context())  # type: ignore[arg-type]
    first = sampler.tick(until=time.time() + _Context.scenario.sampling.interval_seconds)
    # When the sampler drains keeping its cadence
    drained = sampler.drain(keep_cadence=True)
    # Then the fast probe kept being read meanwhile (its reads released the held-up one, which a drain that only waited
    # would have left to its time-out), and the held-up reading is not lost
    assert released == [True]
    assert sum(isinstance(r, HttpReading) for r in [*first, *drained]) >= 6
    assert sum(isinstance(r, DnsReading) for r in drained) == 1 and started.count("DnsReading") == 1
