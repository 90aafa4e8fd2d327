"""The lab's replicating database, on its own (no sockets, no local cloud)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from drillkit_lab.physics import database as database_physics
from drillkit_lab.physics.database import (
    Cluster,
    ClusterNotEligible,
    DatabaseUnavailable,
    GlobalClusterBusy,
    GlobalDatabase,
    ReadOnly,
)
from drillkit_lab.physics.groundtruth import GroundTruth, read

from ..loopback import eventually

PRIMARY_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:p"
STANDBY_ARN = "arn:aws:rds:us-west-2:123456789012:cluster:s"


def backends(status: str = "available") -> dict:
    return {
        "us-east-1": SimpleNamespace(clusters={"p": SimpleNamespace(status=status)}),
        "us-west-2": SimpleNamespace(clusters={"s": SimpleNamespace(status="available")}),
    }


@pytest.fixture
def truth(tmp_path):
    log = GroundTruth(tmp_path / "truth.jsonl")
    yield log
    log.close()


def database(truth, lag: float, global_id: str | None = "g") -> GlobalDatabase:
    db = GlobalDatabase(backends(), truth, lag, global_id)
    db.add(Cluster("primary", "us-east-1", "p", PRIMARY_ARN, "writer"))
    db.add(Cluster("standby", "us-west-2", "s", STANDBY_ARN, "reader"))
    db.execute(PRIMARY_ARN, "create table hb (seq integer primary key)", {})
    db._replicate(time.time() + lag)  # the schema is there on both sides before the test writes
    return db


def seqs(db: GlobalDatabase, arn: str) -> list[int]:
    return [row[0] for row in db.execute(arn, "select seq from hb order by seq", {})[1]]


def test_the_reader_sees_a_write_only_after_the_lag(truth, frozen_clock):
    # Given a global database whose reader is 0.3 s behind
    db = database(truth, lag=0.3)
    # When the writer commits a row
    db.execute(PRIMARY_ARN, "insert into hb (seq) values (:seq)", {"seq": 1})
    # Then the reader does not have it 0.29 s later, and has it once the lag has passed
    frozen_clock.tick(0.29)
    db._replicate(time.time())
    assert seqs(db, STANDBY_ARN) == []
    frozen_clock.tick(0.02)
    db._replicate(time.time())
    assert seqs(db, STANDBY_ARN) == [1]


def test_a_reader_outside_any_global_cluster_receives_nothing(truth):
    db = GlobalDatabase(backends(), truth, 0.0, None)
    db.add(Cluster("primary", "us-east-1", "p", PRIMARY_ARN, "writer"))
    db.add(Cluster("standby", "us-west-2", "s", STANDBY_ARN, "reader"))
    db.execute(PRIMARY_ARN, "create table hb (seq integer primary key)", {})
    db._replicate(time.time() + 10)
    with pytest.raises(Exception, match="no such table"):
        seqs(db, STANDBY_ARN)


def test_readers_refuse_writes_and_stopped_clusters_refuse_everything(truth):
    db = database(truth, lag=0.0)
    with pytest.raises(ReadOnly, match="s is a reader"):
        db.execute(STANDBY_ARN, "insert into hb (seq) values (1)", {})
    db.rds_backends["us-east-1"].clusters["p"].status = "stopped"  # what stop_db_cluster leaves in the local cloud
    with pytest.raises(DatabaseUnavailable, match="p is not available"):
        db.execute(PRIMARY_ARN, "select 1", {})
    assert db.healthy("primary") is False
    assert db.healthy("standby") is True


def test_failover_promotes_the_reader_with_what_it_had_and_logs_what_was_lost(truth):
    db = database(truth, lag=5.0)
    for seq in (1, 2, 3):
        db.execute(PRIMARY_ARN, "insert into hb (seq) values (:seq)", {"seq": seq})
    db._replicate(time.time() + 5.0)
    db.execute(PRIMARY_ARN, "insert into hb (seq) values (:seq)", {"seq": 4})

    started = db.begin("failover", STANDBY_ARN, now=100.0).started_at
    db.advance(started + db.failover_seconds)
    db.advance(started + db.failover_seconds + db.rejoin_seconds)

    assert seqs(db, STANDBY_ARN) == [1, 2, 3]
    assert db.writer().arn == STANDBY_ARN
    assert seqs(db, PRIMARY_ARN) == [1, 2, 3]  # once rejoined, the old writer is a copy of the new one
    events = read(truth.path)
    assert [e["writes"][0]["params"] for e in events if e["event"] == "db_writes_lost"] == [{"seq": 4}]
    assert [(e["cluster"], e["role"]) for e in events if e["event"] == "db_role"][-2:] == [("p", "reader"), ("s", "writer")]


def test_a_failover_takes_its_time_shows_its_failover_state_and_refuses_writes_and_a_second_operation(truth):
    db = GlobalDatabase(backends(), truth, 0.0, "g", failover_seconds=10.0, switchover_seconds=4.0, rejoin_seconds=20.0)
    db.add(Cluster("primary", "us-east-1", "p", PRIMARY_ARN, "writer"))
    db.add(Cluster("standby", "us-west-2", "s", STANDBY_ARN, "reader"))
    db.execute(PRIMARY_ARN, "create table hb (seq integer primary key)", {})
    db._replicate(time.time())

    db.begin("failover", STANDBY_ARN, now=1000.0)

    expected = {"FromDbClusterArn": PRIMARY_ARN, "ToDbClusterArn": STANDBY_ARN, "IsDataLossAllowed": True}
    assert db.failover_state(1000.5) == {"Status": "pending", **expected}
    assert db.failover_state(1005.0) == {"Status": "failing-over", **expected}
    with pytest.raises(ReadOnly, match="p is being demoted by a global failover"):
        db.execute(PRIMARY_ARN, "insert into hb (seq) values (1)", {})
    with pytest.raises(ReadOnly, match="s is a reader"):
        db.execute(STANDBY_ARN, "insert into hb (seq) values (1)", {})
    assert db.healthy("primary") is False  # the primary's app has no writer any more
    with pytest.raises(GlobalClusterBusy, match="failing-over"):
        db.begin("switchover", PRIMARY_ARN, now=1005.0)

    db.advance(1009.9)
    assert db.writer().arn == PRIMARY_ARN  # not yet: the promotion takes the operation's time
    db.advance(1010.0)
    assert (db.writer().arn, db.failover_state(1010.0)) == (STANDBY_ARN, None)
    db.execute(STANDBY_ARN, "insert into hb (seq) values (2)", {})
    assert db.member_view(PRIMARY_ARN) == {"IsWriter": False, "SynchronizationStatus": "pending-resync"}
    with pytest.raises(ClusterNotEligible, match="not synchronized"):
        db.begin("switchover", PRIMARY_ARN, now=1011.0)  # the old writer is not a synchronized secondary yet

    db.advance(1029.9)
    assert db.member_view(PRIMARY_ARN)["SynchronizationStatus"] == "pending-resync"
    db.advance(1030.0)
    assert db.member_view(PRIMARY_ARN) == {"IsWriter": False, "SynchronizationStatus": "connected"}
    assert seqs(db, PRIMARY_ARN) == [2]
    db.begin("switchover", PRIMARY_ARN, now=1031.0)
    assert db.failover_state(1032.0)["Status"] == "switching-over"


def test_switchover_synchronizes_the_reader_first_refuses_writes_meanwhile_and_loses_nothing(truth):
    db = database(truth, lag=30.0)
    db.execute(PRIMARY_ARN, "insert into hb (seq) values (:seq)", {"seq": 1})

    db.begin("switchover", STANDBY_ARN, now=50.0)

    assert seqs(db, STANDBY_ARN) == [1]  # caught up at the start of the switchover
    with pytest.raises(ReadOnly, match="being demoted by a global switchover"):
        db.execute(PRIMARY_ARN, "insert into hb (seq) values (:seq)", {"seq": 2})
    db.advance(50.0 + db.switchover_seconds)
    assert db.writer().arn == STANDBY_ARN
    assert db.member_view(PRIMARY_ARN) == {"IsWriter": False, "SynchronizationStatus": "connected"}
    assert [e for e in read(truth.path) if e["event"] == "db_writes_lost"] == []


def test_the_physics_thread_completes_an_operation_on_its_own(truth):
    db = GlobalDatabase(backends(), truth, 0.0, "g", switchover_seconds=0.2)
    db.add(Cluster("primary", "us-east-1", "p", PRIMARY_ARN, "writer"))
    db.add(Cluster("standby", "us-west-2", "s", STANDBY_ARN, "reader"))
    db.start()
    try:
        db.begin("switchover", STANDBY_ARN)
        deadline = time.time() + 3
        while db.failover_state() is not None and time.time() < deadline:
            time.sleep(0.02)
        assert (db.failover_state(), db.writer().arn) == (None, STANDBY_ARN)
    finally:
        db.stop()


def test_deep_health_in_the_primary_region_needs_the_writer_and_in_the_standby_only_an_available_cluster(truth):
    db = database(truth, lag=0.0)
    assert (db.healthy("primary"), db.healthy("standby")) == (True, True)  # the standby reads from its reader

    db.begin("failover", STANDBY_ARN, now=0.0)
    db.advance(db.failover_seconds)
    assert (db.healthy("primary"), db.healthy("standby")) == (False, True)  # the primary's app lost its writer

    db.advance(db.failover_seconds + db.rejoin_seconds)
    db.begin("switchover", PRIMARY_ARN, now=10.0)
    db.advance(10.0 + db.switchover_seconds)
    assert (db.healthy("primary"), db.healthy("standby")) == (True, True)
    db.rds_backends["us-west-2"].clusters["s"].status = "stopped"
    assert db.healthy("standby") is False


def test_the_physics_thread_sleeps_until_a_write_is_due_and_records_a_stopped_cluster_when_told(truth, monkeypatch):
    # Its only poll, for a status changed behind the RDS API's back, out of the way: what it does here it was woken for.
    monkeypatch.setattr(database_physics, "STATUS_RECHECK_SECONDS", 60.0)
    db = database(truth, lag=0.3)
    db.start()
    try:
        db.execute(PRIMARY_ARN, "insert into hb (seq) values (1)", {})
        assert seqs(db, STANDBY_ARN) == []
        assert eventually(lambda: seqs(db, STANDBY_ARN) == [1], 5)  # applied at its lag by the thread alone
        db.rds_backends["us-east-1"].clusters["p"].status = "stopped"  # what stop_db_cluster leaves in the local cloud
        db.look_again()  # what the local cloud does after every RDS call

        def recorded_stopped() -> bool:
            return any(e["event"] == "db_available" and e["cluster"] == "p" and not e["available"] for e in read(truth.path))

        assert eventually(recorded_stopped, 5)
    finally:
        db.stop()
