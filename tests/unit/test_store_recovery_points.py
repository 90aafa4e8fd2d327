"""Each replicated store's recovery point, judged at the DNS cutover; data that never arrives is "not replicated"."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from drillkit import canary, outcome, replication
from drillkit.errors import AwsCallFailed, ScenarioInvalid
from drillkit.evidence import report
from drillkit.outcome import DrillSteps
from drillkit.spec import parse_scenario

from ..reports import (
    BUCKET_STORE as BUCKET,
)
from ..reports import (
    T0,
    T_INJECT,
    UNDO,
    assert_valid_report,
    drill_context,
    finished_state,
    record_of,
    samples_after_injection,
    with_stores,
)
from ..reports import (
    TABLE_STORE as TABLE,
)

ENDED_AT = T0 + 60
DNS_AT = 3  # samples_after_injection: the DNS answer is the standby's from T_INJECT + 3 s


def store_samples(
    store: str, kind: str, lag: float | None, status: str | None = None, pause: tuple[float, float] | None = None
) -> list[dict[str, Any]]:
    """A heartbeat every 0.5 s (the scenario's interval) from T0, acknowledged and followed by a standby read 0.05 s later.

    The standby shows the newest heartbeat written at least ``lag`` seconds before the read (None: never any);
    nothing is written or read from ``pause[0]`` until ``pause[1]``.
    """
    samples = []
    paused = (lambda t: pause[0] <= t < pause[1]) if pause else (lambda t: False)
    for i in range(100):
        t = T0 + i * 0.5
        if paused(t):
            continue
        read_at = t + 0.05
        written = [T0 + j * 0.5 for j in range(i + 1) if not paused(T0 + j * 0.5)]
        visible = None if lag is None else max((w for w in written if w <= read_at - lag), default=None)
        reading = {
            "store": store,
            "kind": kind,
            "seq": int(t * 1000),
            "written_at": t,
            "acked_at": t + 0.01,
            "replication_status": status,
            "read_at": read_at,
            "visible_seq": None if visible is None else int(visible * 1000),
            "visible_written_at": visible,
        }
        samples.append(replication.StoresSample(t=t, readings=[replication.StoreReading.model_validate(reading)]))
    return samples


def stores_drill(scenario_dict, *stores_given: dict, rpo_seconds: float | None = 2):
    return drill_context(with_stores(scenario_dict, *stores_given, rpo_seconds=rpo_seconds))


def judge(context, samples):
    return outcome.judge(context, DrillSteps.from_state(finished_state(context)), samples, ENDED_AT)


def test_the_recovery_point_at_the_cutover_is_the_replication_lag_within_one_interval(scenario_dict):
    # Given a table whose standby replica shows each write 1.5 s later, and a cutover at T_INJECT + 3 s
    context = stores_drill(scenario_dict, TABLE)
    samples = samples_after_injection(2, DNS_AT, 4) + store_samples("payments", "dynamodb-global-table", lag=1.5)

    judged = judge(context, samples)

    # Then the store's recovery point is taken at the cutover and is the lag, within the sampling interval
    [point] = judged.data_stores
    assert point.judged and point.at == T_INJECT + DNS_AT and point.store == "payments"
    assert point.seconds is not None and abs(point.seconds - 1.5) <= point.uncertainty_seconds == 0.5
    assert point.passed is True and point.not_replicated is False
    assert point.replication_lag_max_seconds is not None and 1.5 <= point.replication_lag_max_seconds <= 2.0
    rpo = judged.measurements["rpo"]
    assert (rpo.kind, rpo.store, rpo.passed, rpo.seconds) == ("measured", "payments", True, point.seconds)
    assert judged.verdict == "PASS"


def test_objects_that_never_reach_the_destination_are_data_not_replicated_naming_the_store_and_fail_the_rpo(scenario_dict):
    # Given a healthy table and a bucket whose objects FAIL to replicate
    context = stores_drill(scenario_dict, TABLE, BUCKET, rpo_seconds=None)
    samples = (
        samples_after_injection(2, DNS_AT, 4)
        + store_samples("payments", "dynamodb-global-table", lag=0.5)
        + store_samples("records", "s3-replication", lag=None, status="FAILED")
    )

    judged = judge(context, samples)

    # Then the bucket is "data not replicated", named with its buckets and the status S3 reported; never "not measured"
    assert "RPO_NOT_MEASURED" not in [f.code for f in judged.findings]
    [finding] = [f for f in judged.findings if f.code == "DATA_NOT_REPLICATED"]
    assert finding.severity == "critical" and finding.evidence == "data_stores.records"
    assert finding.message.startswith("data not replicated: store records, bucket lab-records -> lab-records-replica")
    assert "(source ReplicationStatus: FAILED 100)" in finding.message
    records = next(p for p in judged.data_stores if p.store == "records")
    assert records.not_replicated and records.passed is False and records.heartbeats_seen_in_standby == 0
    # And the worst store decides the RPO objective, even without a target
    rpo = judged.measurements["rpo"]
    assert (rpo.store, rpo.passed) == ("records", False)
    assert judged.objectives["rpo"] == "FAIL" and judged.verdict == "FAIL"


def test_each_store_is_judged_against_its_own_objective_and_the_worst_decides(scenario_dict):
    context = stores_drill(scenario_dict, {**TABLE, "rpo_seconds": 1}, {**BUCKET, "rpo_seconds": 10}, rpo_seconds=5)
    samples = (
        samples_after_injection(2, DNS_AT, 4)
        + store_samples("payments", "dynamodb-global-table", lag=3.0)
        + store_samples("records", "s3-replication", lag=4.0, status="COMPLETED")
    )

    judged = judge(context, samples)

    payments, records = judged.data_stores
    assert (payments.target_seconds, payments.passed) == (1, False)
    assert (records.target_seconds, records.passed) == (10, True)
    assert records.replication_status == {"COMPLETED": 100}
    [missed] = [f for f in judged.findings if f.code == "OBJECTIVE_MISSED"]
    assert missed.message.startswith("Data loss (achieved RPO) of store payments was ") and missed.message.endswith("target 1s")
    assert (judged.measurements["rpo"].store, judged.measurements["rpo"].passed) == ("payments", False)


def test_without_a_cutover_the_store_shows_its_observed_lag_and_the_rpo_is_not_applicable(scenario_dict):
    # Given a drill whose DNS never moved to the standby
    context = stores_drill(scenario_dict, TABLE)
    samples = samples_after_injection(2, 99, 99) + store_samples("payments", "dynamodb-global-table", lag=1.5)

    judged = judge(context, samples)

    [point] = judged.data_stores
    assert not point.judged and point.passed is None and point.at_reason == "last standby read (no DNS cutover)"
    assert point.seconds is not None and abs(point.seconds - 1.5) <= point.uncertainty_seconds
    rpo = judged.measurements["rpo"]
    assert rpo.kind == "not_applicable" and "no DNS cutover" in (rpo.reason or "")


def test_the_report_lists_each_store_in_every_format_and_matches_its_schema(scenario_dict):
    context = stores_drill(scenario_dict, TABLE, BUCKET)
    samples = (
        samples_after_injection(2, DNS_AT, 4)
        + store_samples("payments", "dynamodb-global-table", lag=0.5)
        + store_samples("records", "s3-replication", lag=None, status="FAILED")
    )
    record = record_of(context, finished_state(context))

    document = report.build(record, samples, UNDO, ended_at=ENDED_AT)
    artifacts = report.render_artifacts(document, samples)

    assert_valid_report(document)
    assert [p["store"] for p in document["results"]["data_stores"]] == ["payments", "records"]
    assert document["measurements"]["rpo"]["store"] == "records"
    summary, html, junit = (artifacts[name].decode() for name in ("summary.md", "report.html", "junit.xml"))
    assert "| payments | dynamodb-global-table |" in summary and "data not replicated" in summary
    assert "<td>records</td><td>s3-replication</td>" in html
    assert 'name="data store: records (s3-replication)"' in junit and 'type="DataNotReplicated"' in junit


def test_an_aurora_standby_without_the_canary_table_is_no_rows_not_a_read_error(monkeypatch, scenario_dict):
    # Given a standby cluster where the canary's table never arrived (the engine answers "no such table")
    changed = copy.deepcopy(scenario_dict)
    writer = "arn:aws:rds:us-east-1:123456789012:cluster:app-primary"
    standby = "arn:aws:rds:us-west-2:123456789012:cluster:app-standby"
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:heartbeat"
    changed["data"] = {"heartbeat": {"primary_cluster_arn": writer, "standby_cluster_arn": standby, "secret_arn": secret}}
    context = drill_context(changed)
    monkeypatch.setattr(canary, "serving_store", lambda _: (standby, "standby cluster"))

    def refuse(*_: Any, **__: Any) -> dict[str, Any]:
        raise AwsCallFailed("ExecuteStatement", standby, "BadRequestException", "no such table: drillkit_heartbeat")

    monkeypatch.setattr(canary, "_execute", refuse)

    read = canary.newest_surviving(context)

    # Then the read says no heartbeat of the drill is there (judged "data not replicated"), not an error
    assert read is not None and read.written_at is None and read.error is None


@pytest.mark.parametrize(
    ("stores_given", "field", "words"),
    [
        ([TABLE, TABLE], "data.stores", "store names must be unique (payments twice)"),
        ([{**TABLE, "standby_region": "us-east-1"}], "data.stores.0", "standby_region must differ from primary_region"),
        ([{**BUCKET, "destination_bucket": "lab-records"}], "data.stores.0", "destination_bucket must differ from bucket"),
        ([{**TABLE, "kind": "redis"}], "data.stores.0", "does not match any of the expected tags"),
        ([{**TABLE, "tabel": "x"}], "data.stores.0.tabel", "unknown field"),
    ],
)
def test_a_bad_store_is_refused_naming_its_field(scenario_dict, stores_given, field, words):
    with pytest.raises(ScenarioInvalid) as refused:
        parse_scenario(with_stores(scenario_dict, *stores_given))

    assert any(where == field and words in problem for where, problem in refused.value.problems), refused.value.problems


def test_an_rpo_objective_needs_a_store_or_the_heartbeat(scenario_dict):
    changed = copy.deepcopy(scenario_dict)
    changed["objectives"]["rpo_seconds"] = 5

    with pytest.raises(ScenarioInvalid, match="objectives.rpo_seconds needs data.heartbeat or data.stores"):
        parse_scenario(changed)
    changed["data"] = {"stores": [TABLE]}
    assert parse_scenario(changed).data.stores[0].label == "payments"


def test_a_cutover_inside_a_sampling_pause_is_read_by_the_nearest_read_with_the_pause_in_its_uncertainty():
    # Given heartbeats every 0.5 s with a 1 s lag, a 4 s pause in sampling (the state machine moving on), and the
    # cutover in the pause, 2 s before sampling resumes
    samples = store_samples("payments", "dynamodb-global-table", lag=1.0, pause=(T0 + 10, T0 + 14))
    cut = T0 + 12

    [point] = [
        replication.recovery_point("payments", "dynamodb-global-table", readings, cut, 2, 0.5)
        for readings in replication.readings_of(samples).values()
    ]

    # Then what the standby held is read by the first read after the pause (nearer than the last one before it),
    # the uncertainty says how far that read is, and the pause does not pass for replication lag
    assert point.at == cut and point.newest_visible_at == T0 + 9.5  # what the read at T0 + 14.05 saw
    assert point.last_acknowledged_at == T0 + 9.5
    # and the standby having caught up during the pause does not pass for "nothing at risk": a writer that never
    # pauses would lose the lag at the cutover, read from the first heartbeat after it (written T0 + 14, seen by the
    # read at T0 + 15.05)
    assert point.seconds == pytest.approx(1.05) and "replication lag of the heartbeat nearest" in point.at_reason
    assert point.uncertainty_seconds == pytest.approx(2.05)  # the nearest read is 2.05 s after the cutover, not 0.5
    assert point.replication_lag_max_seconds is not None and point.replication_lag_max_seconds <= 1.55


def test_a_heartbeat_the_last_removal_could_not_delete_is_named_in_a_finding(scenario_dict):
    context = stores_drill(scenario_dict, BUCKET)
    state = finished_state(context)
    left = "DeleteObjects on s3://lab-records-replica/records/drillkit-heartbeat/x failed: AccessDenied: denied"
    state["restore"]["heartbeats_left"] = ["an earlier problem, since removed"]
    state["verification"]["heartbeats_left"] = [left]

    judged = outcome.judge(context, DrillSteps.from_state(state), samples_after_injection(2, DNS_AT, 4), ENDED_AT)

    [finding] = [f for f in judged.findings if f.code == "HEARTBEATS_LEFT"]
    assert finding.message == f"heartbeats left behind: {left}" and finding.severity == "medium"


def test_a_pause_in_heartbeats_just_before_the_cutover_does_not_pass_for_data_at_risk():
    # Given heartbeats every 0.5 s with a 0.5 s lag, none written for 2.5 s (Steady State handing over to Inject),
    # then one written just before the cutover
    samples = store_samples("payments", "dynamodb-global-table", lag=0.5, pause=(T0 + 10, T0 + 12.5))
    cut = T0 + 12.55

    [point] = [
        replication.recovery_point("payments", "dynamodb-global-table", readings, cut, 2, 0.5)
        for readings in replication.readings_of(samples).values()
    ]

    # Then the recovery point is the lag of that last heartbeat (seen by the read at T0 + 13.05), not the 3 s between
    # it and the newest heartbeat the standby had, most of which no heartbeat was written in
    assert point.last_acknowledged_at == T0 + 12.5 and point.newest_visible_at == T0 + 9.5
    assert point.seconds == pytest.approx(0.55) and point.passed is True


def test_a_late_standby_read_widens_the_uncertainty_of_the_lag_it_dates():
    # Given heartbeats every 0.5 s with a 0.5 s lag, read 0.05 s after each write, except the reads around the last
    # heartbeat before the cutover: one answered 0.4 s after it (sent 0.1 s after it: too early to see it), the next
    # 0.94 s after that (a busy machine, a slow call), and the one after that late too
    samples = store_samples("payments", "dynamodb-global-table", lag=0.5)
    written = T0 + 10
    late = {written: written + 0.4, written + 0.5: written + 1.34, written + 1.0: written + 1.4}
    for sample in samples:
        for reading in sample.readings:
            if reading.written_at in late:
                reading.read_at = late[reading.written_at]
                reading.read_sent_at = written + 0.1 if reading.written_at == written else None  # a slow call
                newest = max(w for w in (T0 + j * 0.5 for j in range(100)) if w <= reading.read_at - 0.5)
                reading.visible_written_at, reading.visible_seq = newest, int(newest * 1000)
    cut = written + 0.2

    [point] = [
        replication.recovery_point("payments", "dynamodb-global-table", readings, cut, 2, 0.5)
        for readings in replication.readings_of(samples).values()
    ]

    # Then the lag is dated by the read that first saw the heartbeat (an upper bound: 1.34 s for a true 0.5 s), and
    # the uncertainty is the span from when the read before it was sent to that read, not one sampling interval
    assert point.seconds == pytest.approx(1.34)
    assert point.uncertainty_seconds == pytest.approx(1.24)
    assert point.seconds - point.uncertainty_seconds <= 0.5 <= point.seconds
