"""The lab's replicating database, on its own (no sockets, no local cloud)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from drillkit_lab.physics.database import Cluster, DatabaseUnavailable, GlobalDatabase, ReadOnly
from drillkit_lab.physics.groundtruth import GroundTruth, read

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


def test_the_reader_sees_a_write_only_after_the_lag(truth):
    db = database(truth, lag=0.3)
    db.execute(PRIMARY_ARN, "insert into hb (seq) values (:seq)", {"seq": 1})
    db._replicate(time.time())
    assert seqs(db, STANDBY_ARN) == []
    db._replicate(time.time() + 0.31)
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

    lost = db.failover(STANDBY_ARN)

    assert [item.params["seq"] for item in lost] == [4]
    assert seqs(db, STANDBY_ARN) == [1, 2, 3]
    assert db.writer().arn == STANDBY_ARN
    assert seqs(db, PRIMARY_ARN) == [1, 2, 3]  # the old writer comes back as a copy of the new one
    events = read(truth.path)
    assert [e["writes"][0]["params"] for e in events if e["event"] == "db_writes_lost"] == [{"seq": 4}]
    assert [(e["cluster"], e["role"]) for e in events if e["event"] == "db_role"][-2:] == [("p", "reader"), ("s", "writer")]


def test_switchover_waits_for_the_reader_and_loses_nothing(truth):
    db = database(truth, lag=0.2)
    db.start()
    try:
        db.execute(PRIMARY_ARN, "insert into hb (seq) values (:seq)", {"seq": 1})
        db.switchover(STANDBY_ARN)
        assert seqs(db, STANDBY_ARN) == [1]
        assert db.writer().arn == STANDBY_ARN
    finally:
        db.stop()


def test_deep_health_in_the_primary_region_needs_the_writer_and_in_the_standby_only_an_available_cluster(truth):
    db = database(truth, lag=0.0)
    assert (db.healthy("primary"), db.healthy("standby")) == (True, True)  # the standby reads from its reader

    db.failover(STANDBY_ARN)
    assert (db.healthy("primary"), db.healthy("standby")) == (False, True)  # the primary's app lost its writer

    db.switchover(PRIMARY_ARN)
    assert (db.healthy("primary"), db.healthy("standby")) == (True, True)
    db.rds_backends["us-west-2"].clusters["s"].status = "stopped"
    assert db.healthy("standby") is False
