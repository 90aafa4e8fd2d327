"""Aurora global failover and switchover take time, in the lab as in AWS, and a drill restores across them.

The stack's global operations take seconds (minutes in AWS): a failover 8 s, the old primary's resync
15 s, a switchover 3 s. The global-database-failover drill must wait for all of it, across as many
Restore invocations as it takes, switch the writer back once, and verify.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError

from drillkit import client
from drillkit.spec import parse_scenario

from ..conftest import ROOT
from ..reports import assert_valid_report
from .conftest import RunningLab, running_lab, snapshot, wait_for
from .test_lab_faithfulness import data_api, global_cluster, settled, switch_back, writer_of

pytestmark = pytest.mark.lab
STACK = Path(__file__).parent / "stacks" / "aurora-slow-global.yaml"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    with running_lab(tmp_path_factory.mktemp("aurora-slow"), STACK) as started:
        yield started


def test_a_global_operation_takes_time_shows_its_failover_state_and_refuses_an_overlapping_one(lab):
    primary, standby = lab.region("primary"), lab.region("standby")
    rds = lab.client("rds", standby["region"])
    wait_for(lambda: settled(lab), 30, "no operation in progress")

    answer = rds.failover_global_cluster(
        GlobalClusterIdentifier=lab.info["global_cluster_id"],
        TargetDbClusterIdentifier=standby["db_cluster_arn"],
        AllowDataLoss=True,
    )["GlobalCluster"]
    try:
        # Within the 8 s the failover takes (the cheapest reads first: a loaded machine eats into it): the state
        # shown, a second operation refused, writes refused.
        expected = {"FromDbClusterArn": primary["db_cluster_arn"], "ToDbClusterArn": standby["db_cluster_arn"]}
        assert answer["FailoverState"] == {"Status": "pending", **expected, "IsDataLossAllowed": True}
        state = global_cluster(lab)["FailoverState"]
        assert state == {"Status": state["Status"], **expected, "IsDataLossAllowed": True}
        assert state["Status"] in ("pending", "failing-over")
        with pytest.raises(ClientError) as refused:
            rds.switchover_global_cluster(
                GlobalClusterIdentifier=lab.info["global_cluster_id"], TargetDbClusterIdentifier=primary["db_cluster_arn"]
            )
        assert refused.value.response["Error"]["Code"] == "InvalidGlobalClusterStateFault"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(ClientError, match="being demoted by a global failover"):
            data_api(lab, "primary", "create table if not exists during_failover (seq integer)")
        assert writer_of(lab) == [primary["db_cluster_arn"]]  # not promoted yet

        wait_for(lambda: "FailoverState" not in global_cluster(lab), 10, "the failover completes")
        members = {m["DBClusterArn"]: m for m in global_cluster(lab)["GlobalClusterMembers"]}
        assert members[standby["db_cluster_arn"]]["IsWriter"] is True
        assert members[primary["db_cluster_arn"]] == {
            **members[primary["db_cluster_arn"]],
            "IsWriter": False,
            "SynchronizationStatus": "pending-resync",
        }
        # Not yet a synchronized secondary: a switchover back is refused until it is.
        with pytest.raises(ClientError) as refused:
            rds.switchover_global_cluster(
                GlobalClusterIdentifier=lab.info["global_cluster_id"], TargetDbClusterIdentifier=primary["db_cluster_arn"]
            )
        assert refused.value.response["Error"]["Code"] == "InvalidDBClusterStateFault"
    finally:
        switch_back(lab, rds, timeout=30)
    wait_for(lambda: lab.get(primary["address"], path="/health")[0] == 200, 5, "the primary's deep health passes again")


def test_a_global_failover_drill_restores_across_many_restore_calls_once_aurora_has_settled(lab, tmp_path):
    scenario = yaml.safe_load((ROOT / "scenarios" / "global-database-failover.yaml").read_text())
    wait_for(lambda: settled(lab) and lab.get(lab.region("primary")["address"], path="/health")[0] == 200, 30, "settled")
    before = snapshot(lab)
    request = client.drill_request(lab.deployment, parse_scenario(scenario), requested_by="test")

    execution_arn = client.start(lab.deployment, request)
    execution = client.follow(lab.deployment, request["drill_id"], execution_arn, lambda *_: None, timeout_seconds=300)

    assert execution["status"] == "SUCCEEDED", client.execution_error(execution)
    report = json.loads((client.download_report(lab.deployment, request["drill_id"], tmp_path) / "report.json").read_text())
    assert_valid_report(report)
    assert report["verdict"] == "PASS", json.dumps(report["findings"], indent=1)
    assert report["restore"]["verification"]["verified"] is True
    history = lab.deployment.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    restore_calls = [e for e in history if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "Restore"]
    assert len(restore_calls) >= 5  # it waited, call after call, for the failover and the old primary's resync
    operations = [e for e in lab.events_since(report_started(report), "db_global_operation") if e["status"] != "completed"]
    # One failover, then exactly one switchover back, asked only once the old primary was a synchronized secondary.
    assert [(e["kind"], e["to_cluster"]) for e in operations] == [
        ("failover", lab.region("standby")["db_cluster_id"]),
        ("switchover", lab.region("primary")["db_cluster_id"]),
    ]
    resynced = lab.events_since(report_started(report), "db_synchronization", cluster=lab.region("primary")["db_cluster_id"])
    assert resynced and resynced[0]["t"] <= operations[1]["t"]
    assert writer_of(lab) == [lab.region("primary")["db_cluster_arn"]]
    assert snapshot(lab) == before


def report_started(report: dict) -> float:
    return next(e["t"] for e in report["timeline"] if e["event"] == "drill_started")
