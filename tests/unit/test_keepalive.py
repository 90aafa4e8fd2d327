"""The keep-alive probe's judgement, without sockets: when Inject stops following, what the report says."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from drillkit.evidence import report, summary
from drillkit.model import Side
from drillkit.probes import keepalive
from drillkit.readings import HttpReading, KeepAliveReading, Reading

from ..reports import T0, T_INJECT, UNDO, assert_valid_report, drill_context, finished_state, record_of, samples_after_injection


def reading(t: float, served: bool, error: str | None = None) -> KeepAliveReading:
    return KeepAliveReading(
        t=t, held_since=T_INJECT - 1, address="127.10.0.1", served=served, status=200 if served else None, error=error
    )


def new_client(t: float, ok: bool, side: Side = "primary") -> HttpReading:
    """The HTTP probe's reading of the same sample: a new client through the public name."""
    return HttpReading(t=t, ok=ok, side=side)


@pytest.fixture
def context(scenario_dict):
    scenario_dict["sampling"].update(interval_seconds=0.1, hold_samples=2)
    return drill_context(scenario_dict)


def follow_with(context, first: list[Reading], then: list[list[Reading]]) -> tuple[list[Reading], int]:
    calls = {"n": 0}

    def sample_all() -> list[Reading]:
        calls["n"] += 1
        return then[min(calls["n"], len(then)) - 1]

    return keepalive.follow(context, keepalive.clock.now(), first, sample_all), calls["n"]


def test_follow_stops_at_once_when_no_connection_is_held_or_the_held_one_is_cut(context):
    assert follow_with(context, [HttpReading(t=1.0)], [[]]) == ([], 0)
    assert follow_with(context, [reading(1.0, served=False)], [[]]) == ([], 0)


def test_follow_goes_on_while_the_held_connections_first_reading_is_still_in_flight(context, monkeypatch):
    # Given a connection held before the fault whose reading has not come back by the first tick (the fault stalls it)
    monkeypatch.setattr(keepalive, "_held", SimpleNamespace(connection=SimpleNamespace(close=lambda: None)))
    spared = [reading(2.0, served=True), new_client(2.0, ok=False)]
    # When Inject follows it, Then it does not stop for want of a reading: the next ticks bring it
    collected, calls = follow_with(context, [new_client(1.0, ok=False)], [spared])
    assert calls == 2 and collected == spared * 2


def test_follow_stops_once_the_held_connection_was_served_while_new_clients_failed_hold_samples_times(context):
    spared = [reading(2.0, served=True), new_client(2.0, ok=False)]
    collected, calls = follow_with(context, [reading(1.0, served=True), new_client(1.0, ok=True)], [spared])
    assert calls == 2 and collected == spared * 2


def test_new_clients_served_by_the_standby_are_not_new_clients_refused(context, monkeypatch, frozen_clock):
    # Given a 0.45 s window sampled every 0.1 s, and new clients failing only because the standby serves them
    monkeypatch.setattr(keepalive, "FOLLOW_SECONDS", 0.45)
    on_standby = [reading(2.0, served=True), new_client(2.0, ok=False, side="standby")]
    # When Inject follows the held connection
    _, calls = follow_with(context, [reading(1.0, served=True)], [on_standby])
    # Then it is followed to the end of the window: readings at +0.1, +0.2, +0.3 and +0.4 s
    assert calls == 4


def test_follow_ends_with_the_window_when_nothing_changes(context, monkeypatch, frozen_clock):
    # Given a 0.45 s window sampled every 0.1 s, and a held connection that stays served
    monkeypatch.setattr(keepalive, "FOLLOW_SECONDS", 0.45)
    started = keepalive.clock.now()
    # When Inject follows it
    collected, calls = follow_with(context, [reading(1.0, served=True)], [[reading(2.0, served=True)]])
    # Then the last reading is the last one that fits in the window, and following ends there
    assert calls == 4 and collected == [reading(2.0, served=True)] * 4
    assert keepalive.clock.now() - started == pytest.approx(0.4)


def test_existing_clients_cut_names_when_and_why():
    samples = [
        reading(T_INJECT - 1, True),
        reading(T_INJECT + 0.5, True),
        reading(T_INJECT + 1.5, False, "TimeoutError: timed out"),
    ]
    found = keepalive.existing_clients(samples, T_INJECT)
    assert found["cut"] is True and found["cut_at"] == T_INJECT + 1.5 and found["served_before_fault"] is True
    assert found["summary"] == (
        "existing clients were cut: a connection opened before the fault failed 1.5s after it (TimeoutError: timed out)"
    )


def test_existing_clients_spared_while_new_clients_failed():
    samples = [
        reading(T_INJECT - 1, True),
        reading(T_INJECT + 0.2, True),
        new_client(T_INJECT + 0.2, ok=True),
        reading(T_INJECT + 1.2, True),
        new_client(T_INJECT + 1.2, ok=False),
    ]
    found = keepalive.existing_clients(samples, T_INJECT)
    assert found["cut"] is False and found["new_connections_failed_at"] == T_INJECT + 1.2
    assert found["summary"] == (
        "existing clients were not cut: a connection opened before the fault was still served 1.2s after it, "
        "while new clients of the primary failed"
    )


def test_no_held_connection_means_nothing_to_report():
    assert keepalive.existing_clients([HttpReading(t=T_INJECT)], T_INJECT) is None
    assert keepalive.existing_clients([reading(T_INJECT - 1, True)], None) is None


def test_the_report_shows_whether_existing_clients_were_cut(scenario_dict):
    context = drill_context(scenario_dict)
    samples = [*samples_after_injection(3, 5, 6), reading(T_INJECT - 1, True), reading(T_INJECT + 1, True)]
    document = report.build(record_of(context, finished_state(context)), samples, UNDO, ended_at=T0 + 60)
    assert_valid_report(document)
    assert document["results"]["existing_clients"]["cut"] is False
    assert "**Clients connected before the fault:** existing clients were not cut" in summary.render(document).decode()
    assert "Clients connected before the fault: existing clients were not cut" in report.render_html(document, samples)


def test_follow_ends_once_the_observation_is_over_though_the_window_is_not(context, monkeypatch, frozen_clock):
    # Given a 10 s window, a held connection that stays served, new clients of the primary served too (a fault
    # that never touches the primary's data path), and an observation that is over after the second sample
    monkeypatch.setattr(keepalive, "FOLLOW_SECONDS", 10.0)
    batches: list[list[Reading]] = []

    def observed(readings: list[Reading]) -> bool:
        batches.append(readings)
        return len(batches) == 3  # the readings so far ([] first), then two samples

    served = [reading(2.0, served=True), new_client(2.0, ok=True)]
    started = keepalive.clock.now()
    # When Inject follows the held connection
    collected = keepalive.follow(context, started, [reading(1.0, served=True)], lambda: served, list, observed)
    # Then it stops with the observation (the fault is restored next), two intervals in, not at the window's end
    assert collected == served * 2 and batches == [[], served, served]
    assert keepalive.clock.now() - started == pytest.approx(0.2)


def test_follow_reports_a_cut_in_the_sample_that_also_ends_the_observation(context, frozen_clock):
    cut = [reading(2.0, served=False, error="TimeoutError: timed out")]
    collected = keepalive.follow(
        context, keepalive.clock.now(), [reading(1.0, served=True)], lambda: cut, list, lambda readings: bool(readings)
    )
    assert collected == cut
    assert keepalive.existing_clients([reading(T_INJECT - 1, True), *collected], 1.5)["cut"] is True
