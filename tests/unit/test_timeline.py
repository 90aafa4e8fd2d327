"""The report's timeline is typed (drillkit/timeline.py) and keeps the JSON that reports have always had."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from drillkit import timeline

# The timeline of a report.json written before the events were typed (schema 1.4, a lab drill that passed), as it was
# stored, byte for byte; then the kinds that drill did not have, in the shape the same code wrote them.
STORED = json.loads("""[
 {"t": 1796223477.5381677, "event": "drill_started", "requested_by": "demo", "at": "2026-12-02T14:57:57.538Z"},
 {"t": 1796223483.6333292, "event": "steady_state_reached", "at": "2026-12-02T14:58:03.633Z"},
 {"t": 1796223485.0238216, "event": "inject_requested", "fault": "health-check-inversion",
  "resource_id": "37656eda-0470-4fd7-bf6a-4678d4b2b7e0", "at": "2026-12-02T14:58:05.023Z"},
 {"t": 1796223485.034907, "event": "fault_injected", "fault": "health-check-inversion",
  "resource_id": "37656eda-0470-4fd7-bf6a-4678d4b2b7e0", "at": "2026-12-02T14:58:05.034Z"},
 {"t": 1796223485.0356421, "event": "detection", "seconds": 0.001, "at": "2026-12-02T14:58:05.035Z"},
 {"t": 1796223485.0373995, "event": "dns_cutover", "seconds": 0.002, "at": "2026-12-02T14:58:05.037Z"},
 {"t": 1796223485.0390584, "event": "client_cutover", "seconds": 0.004, "at": "2026-12-02T14:58:05.039Z"},
 {"t": 1796223485.042958, "event": "recovery", "seconds": 0.008, "at": "2026-12-02T14:58:05.042Z"},
 {"t": 1796223485.952865, "event": "alarm", "alarm": "us-east-1/primary-health-check-failed", "at": "2026-12-02T14:58:05.952Z"},
 {"t": 1796223485.952865, "event": "alerting", "seconds": 0.918, "at": "2026-12-02T14:58:05.952Z"},
 {"t": 1796223498.2256026, "event": "restore", "resource_id": "37656eda-0470-4fd7-bf6a-4678d4b2b7e0", "status": "restored",
  "at": "2026-12-02T14:58:18.225Z"},
 {"t": 1796223502.1083336, "event": "restore_verified", "at": "2026-12-02T14:58:22.108Z"},
 {"t": 1796223503.7796113, "event": "drill_ended", "at": "2026-12-02T14:58:23.779Z"}
]""")
OTHER_KINDS = [
    {"t": 1796223470.25, "event": "approval_granted", "by": "alice", "at": "2026-12-02T14:57:50.250Z"},
    {"t": 1796223499.5, "event": "rpo_read", "store": "ledger-table", "seconds": 0.5, "at": "2026-12-02T14:58:19.500Z"},
    {"t": 1796223499.5, "event": "rpo_read", "at": "2026-12-02T14:58:19.500Z"},
    {"t": 1796223499.5, "event": "restore_not_verified", "at": "2026-12-02T14:58:19.500Z"},
    {"t": 1796223503.7796113, "event": "execution_ended", "status": "FAILED", "phase": "observe",
     "at": "2026-12-02T14:58:23.779Z"},
    {"t": 1796223503.7796113, "event": "approval_declined", "reason": "not today", "at": "2026-12-02T14:58:23.779Z"},
    {"t": 1796223503.7796113, "event": "error", "stage": "restore_error", "error": "RestoreFailed", "message": "gone",
     "at": "2026-12-02T14:58:23.779Z"},
]  # fmt: skip


def test_a_stored_timeline_reads_back_typed_and_writes_out_as_it_was_stored():
    # Given the timeline of a report written before the events were typed
    # When it is read and written out again
    events = timeline.read(STORED + OTHER_KINDS)

    # Then every event has its kind's type, and its JSON is the stored JSON, key order included
    assert isinstance(events[4], timeline.MilestoneReached) and events[4].seconds == 0.001
    assert isinstance(events[10], timeline.Restored) and events[10].status == "restored"
    assert isinstance(events[-1], timeline.ErrorCaught) and events[-1].stage == "restore_error"
    written = [event.report() for event in events]
    assert json.dumps(written) == json.dumps(STORED + OTHER_KINDS)


def test_the_report_s_timeline_leaves_out_what_never_happened_and_is_in_time_order():
    # Given events in the order a report builds them, one at an instant never reached
    built = [
        timeline.happened(20.0, timeline.DrillEnded),
        timeline.happened(None, timeline.SteadyStateReached),
        timeline.happened(10.0, timeline.FaultInjected, fault="stop-cluster", resource_id=None),
        timeline.happened(10.0, timeline.MilestoneReached, event="detection", seconds=None),
    ]

    # When they become the report's timeline
    section = timeline.report(built)

    # Then the unknown instant is left out, the others are in time order (ties keep theirs), and unknowns are not written
    assert section == [
        {"t": 10.0, "event": "fault_injected", "fault": "stop-cluster", "at": "1970-01-01T00:00:10.000Z"},
        {"t": 10.0, "event": "detection", "at": "1970-01-01T00:00:10.000Z"},
        {"t": 20.0, "event": "drill_ended", "at": "1970-01-01T00:00:20.000Z"},
    ]
    assert timeline.first(timeline.read(section), "fault_injected") == 10.0


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"t": 1.0, "event": "restore", "resource_id": "r"}, "status"),
        ({"event": "drill_ended"}, "t"),
        ({"t": 1.0, "event": "fault_injected", "fault": "x", "colour": "red"}, "colour"),
        ({"t": 1.0, "event": "detected_somehow", "seconds": 1.0}, "detected_somehow"),
        ({"t": 1.0, "event": "error", "stage": 7}, "stage"),
    ],
)
def test_a_malformed_timeline_event_is_refused_naming_what_is_wrong(entry, field):
    with pytest.raises(ValidationError) as refused:
        timeline.read([entry])
    assert field in str(refused.value)
