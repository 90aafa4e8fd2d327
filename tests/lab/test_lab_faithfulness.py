"""The lab behaves like the AWS stack it stands for.

Driven only with plain boto3 calls against the local cloud and plain DNS/HTTP queries: no drill code.
Timings come from the ground-truth log; the default stack checks every 1 s with a threshold of 3.
The shipped alb-lambda and apigw stacks are checked the same way in test_scenarios.py, on the labs their scenarios
run on; the defects-port-no-secondary knobs in test_defects.py, on the lab of the drill it refuses.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from drillkit_lab.physics.ecs import TASK_START_SECONDS

from .conftest import running_lab, wait_for

pytestmark = pytest.mark.lab
STACKS = Path(__file__).parent / "stacks"
INTERVAL, THRESHOLD = 1.0, 3


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("faithful")) as started:
        yield started


def primary_answer(lab) -> bool:
    return lab.dns_answer() == [lab.region("primary")["dns_answer"]]


def standby_answer(lab) -> bool:
    return lab.dns_answer() == [lab.region("standby")["dns_answer"]]


def alb_name(region: dict) -> str:
    return region["alb_arn"].split("/")[-2]


def went_unhealthy(lab, since: float, role: str = "primary") -> list[dict]:
    return lab.events_since(since, "health_check", id=lab.region(role)["health_check_id"], healthy=False)


def steady(lab) -> None:
    wait_for(lambda: primary_answer(lab) and lab.get(lab.region("primary")["address"])[0] == 200, 15, "primary serving again")


def test_revoking_the_alb_ingress_times_out_new_connections_and_fails_over_after_interval_times_threshold(lab):
    primary = lab.region("primary")
    ec2 = lab.client("ec2", primary["region"])
    group_id = primary["alb_security_group_ids"][0]
    rule = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}

    revoked_at = time.time()
    ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[rule])
    try:
        wait_for(lambda: lab.events_since(revoked_at, "alb_reachable", reachable=False), 2, "ALB blocked")
        # Blocked, not refused: requests hang until the client gives up.
        for _ in range(3):
            with pytest.raises((TimeoutError, socket.timeout)):
                lab.get(primary["address"], timeout=0.5)
        unhealthy = wait_for(lambda: went_unhealthy(lab, revoked_at), 10, "unhealthy")
        wait_for(lambda: standby_answer(lab), 2, "DNS answers the standby")
    finally:
        authorized_at = time.time()
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[rule])

    # The health-check alarm fired and told its topic; the history says so.
    alarm = wait_for(lambda: lab.events_since(revoked_at, "alarm", name="primary-health-check-failed", state="ALARM"), 5, "alarm")
    assert alarm >= unhealthy
    inbox = lab.client("sqs").receive_message(QueueUrl=lab.info["alerts"]["us-east-1"]["inbox_queue_url"], MaxNumberOfMessages=10)
    messages = [json.loads(m["Body"]) for m in inbox.get("Messages", [])]
    assert {"AlarmName": "primary-health-check-failed", "NewStateValue": "ALARM"}.items() <= messages[-1].items()
    history = lab.client("cloudwatch").describe_alarm_history(AlarmName="primary-health-check-failed")["AlarmHistoryItems"]
    assert {"StateUpdate", "Action"} <= {item["HistoryItemType"] for item in history}
    took = went_unhealthy(lab, revoked_at)[0]["t"] - revoked_at
    assert INTERVAL * (THRESHOLD - 1) <= took <= INTERVAL * (THRESHOLD + 1.5), took
    assert unhealthy >= revoked_at
    wait_for(lambda: lab.events_since(authorized_at, "health_check", id=primary["health_check_id"], healthy=True), 10, "healthy")
    steady(lab)
    back = lab.events_since(authorized_at, "health_check", id=primary["health_check_id"], healthy=True)[0]["t"] - authorized_at
    assert back <= INTERVAL * (THRESHOLD + 1.5)


def test_deregistering_every_primary_target_gives_503_and_the_same_cutover(lab):
    primary = lab.region("primary")
    elbv2 = lab.client("elbv2", primary["region"])
    targets = elbv2.describe_target_health(TargetGroupArn=primary["target_group_arn"])["TargetHealthDescriptions"]
    registered = [{"Id": t["Target"]["Id"], "Port": t["Target"]["Port"]} for t in targets]
    assert len(registered) == 2

    started = time.time()
    elbv2.deregister_targets(TargetGroupArn=primary["target_group_arn"], Targets=registered)
    try:
        assert lab.get(primary["address"])[0] == 503
        wait_for(lambda: went_unhealthy(lab, started), 10, "unhealthy")
        wait_for(lambda: standby_answer(lab), 2, "DNS answers the standby")
        status, body = lab.get(lab.region("standby")["address"])
        assert (status, body["region"]) == (200, "us-west-2")
    finally:
        elbv2.register_targets(TargetGroupArn=primary["target_group_arn"], Targets=registered)
    steady(lab)


def registered_targets(lab, role: str) -> list[tuple]:
    elbv2 = lab.client("elbv2", lab.region(role)["region"])
    described = elbv2.describe_target_health(TargetGroupArn=lab.region(role)["target_group_arn"])["TargetHealthDescriptions"]
    return sorted((d["Target"]["Id"], d["Target"].get("Port"), d["Target"].get("AvailabilityZone")) for d in described)


def target_states(lab, role: str) -> set[str]:
    elbv2 = lab.client("elbv2", lab.region(role)["region"])
    described = elbv2.describe_target_health(TargetGroupArn=lab.region(role)["target_group_arn"])["TargetHealthDescriptions"]
    return {d["TargetHealth"]["State"] for d in described}


def test_scaling_the_primary_ecs_service_to_zero_stops_its_tasks_and_fails_over_and_the_original_count_brings_them_back(lab):
    primary = lab.region("primary")
    ecs = lab.client("ecs", primary["region"])

    def service() -> dict:
        return ecs.describe_services(cluster=primary["ecs_cluster"], services=[primary["ecs_service"]])["services"][0]

    original = service()
    assert original["serviceArn"] == primary["ecs_service_arn"]
    assert original["loadBalancers"] == [
        {"targetGroupArn": primary["target_group_arn"], "containerName": "app", "containerPort": 8080}
    ]
    assert (original["desiredCount"], original["runningCount"], original["pendingCount"]) == (2, 2, 0)
    before = registered_targets(lab, "primary")
    assert [(address, port) for address, port, _ in before] == [(t["Id"], t["Port"]) for t in primary["targets"]]
    task_address = primary["targets"][0]["Id"]

    scaled_at = time.time()
    ecs.update_service(cluster=primary["ecs_cluster"], service=primary["ecs_service"], desiredCount=0)
    try:
        wait_for(lambda: lab.events_since(scaled_at, "ecs_tasks", service=primary["ecs_service"], running=0), 3, "tasks stopped")
        assert registered_targets(lab, "primary") == []
        assert lab.get(primary["address"])[0] == 503
        with pytest.raises(ConnectionRefusedError):  # the stopped task's server is gone
            lab.get(task_address, logical_port=8080, path="/health")
        assert service()["runningCount"] == 0
        # ECS takes each task out of the target group before it stops it.
        stopped = lab.events_since(scaled_at, "ecs_tasks", service=primary["ecs_service"])[0]
        deregistered = lab.events_since(scaled_at, "target_registration", target_group=primary["target_group_arn"])
        assert sorted((e["target"]["Id"], e["registered"]) for e in deregistered) == [(a, False) for a, _, _ in before]
        assert all(e["t"] <= stopped["t"] for e in deregistered)
        assert (stopped["desired"], stopped["running"]) == (0, 0)
        wait_for(lambda: went_unhealthy(lab, scaled_at), 10, "unhealthy")
        wait_for(lambda: standby_answer(lab), 2, "DNS answers the standby")
    finally:
        restored_at = time.time()
        ecs.update_service(cluster=primary["ecs_cluster"], service=primary["ecs_service"], desiredCount=original["desiredCount"])

    # The tasks take a while to start (ECS provisioning), then register exactly as before.
    running = wait_for(
        lambda: lab.events_since(restored_at, "ecs_tasks", service=primary["ecs_service"], running=2), 5, "tasks running again"
    )
    assert running - restored_at >= TASK_START_SECONDS - 0.2
    assert registered_targets(lab, "primary") == before
    assert lab.get(task_address, logical_port=8080, path="/health")[0] == 200
    assert (service()["runningCount"], service()["pendingCount"]) == (2, 0)
    wait_for(lambda: target_states(lab, "primary") == {"healthy"}, 10, "targets healthy again")
    wait_for(lambda: lab.events_since(restored_at, "health_check", id=primary["health_check_id"], healthy=True), 10, "healthy")
    steady(lab)


def test_when_every_target_fails_its_health_check_the_alb_fails_open_and_nothing_fails_over(lab):
    primary = lab.region("primary")
    elbv2 = lab.client("elbv2", primary["region"])
    started = time.time()
    elbv2.modify_target_group(TargetGroupArn=primary["target_group_arn"], HealthCheckPath="/not-served")
    try:
        wait_for(
            lambda: len(lab.events_since(started, "target_health", load_balancer=alb_name(primary), healthy=False)) == 2,
            10,
            "both primary targets unhealthy",
        )
        described = elbv2.describe_target_health(TargetGroupArn=primary["target_group_arn"])["TargetHealthDescriptions"]
        assert {d["TargetHealth"]["State"] for d in described} == {"unhealthy"}
        time.sleep(INTERVAL * (THRESHOLD + 1))
        assert lab.get(primary["address"])[0] == 200  # fail open: requests still reach the targets
        assert lab.events_since(started, "health_check", id=primary["health_check_id"]) == []
        assert primary_answer(lab)
    finally:
        elbv2.modify_target_group(TargetGroupArn=primary["target_group_arn"], HealthCheckPath="/health")
    steady(lab)


def test_a_network_acl_deny_on_the_alb_subnets_blocks_it_too(lab):
    primary = lab.region("primary")
    ec2 = lab.client("ec2", primary["region"])
    by_subnet = [{"Name": "association.subnet-id", "Values": primary["alb_subnet_ids"]}]
    acls = ec2.describe_network_acls(Filters=by_subnet)["NetworkAcls"]
    acl_ids = sorted({a["NetworkAclId"] for a in acls})
    assert acl_ids, "the ALB's subnets have network ACLs"
    deny = {"RuleNumber": 10, "Protocol": "6", "RuleAction": "deny", "Egress": False, "CidrBlock": "0.0.0.0/0"}
    started = time.time()
    for acl_id in acl_ids:
        ec2.create_network_acl_entry(NetworkAclId=acl_id, PortRange={"From": 80, "To": 80}, **deny)
    try:
        wait_for(lambda: lab.events_since(started, "alb_reachable", reachable=False), 2, "ALB blocked by the NACL")
        with pytest.raises((TimeoutError, socket.timeout)):
            lab.get(primary["address"], timeout=0.5)
        wait_for(lambda: standby_answer(lab), 10, "DNS answers the standby")
    finally:
        for acl_id in acl_ids:
            ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=10, Egress=False)
    steady(lab)


def test_knobs_string_match_and_path_not_served_fail_and_with_both_unhealthy_dns_answers_the_primary(tmp_path):
    with running_lab(tmp_path / "lab", STACKS / "defects-path-string.yaml") as lab:
        wait_for(lambda: lab.health_check_healthy("primary") is False, 5, "string match fails")
        wait_for(lambda: lab.health_check_healthy("standby") is False, 5, "path not served fails")
        assert "404" in lab.observations("standby")[0]["StatusReport"]["Status"]
        assert primary_answer(lab)
        assert lab.get(lab.region("primary")["address"])[0] == 200  # the app itself is fine
        # A reader outside any global cluster: writes on the primary never reach it.
        assert lab.info["global_cluster_id"] is None
        assert lab.client("rds").describe_global_clusters()["GlobalClusters"] == []
        data_api(lab, "primary", "create table heartbeat (seq integer primary key)")
        data_api(lab, "primary", "insert into heartbeat (seq) values (:seq)", seq=1)
        time.sleep(1.0)  # five times the configured lag
        with pytest.raises(ClientError, match="no such table"):
            data_api(lab, "standby", "select seq from heartbeat")


def data_api(lab, role: str, sql: str, **params) -> dict:
    rds_data = lab.client("rds-data", lab.region(role)["region"])
    parameters = [{"name": k, "value": {"longValue": v} if isinstance(v, int) else {"doubleValue": v}} for k, v in params.items()]
    return rds_data.execute_statement(
        resourceArn=lab.region(role)["db_cluster_arn"],
        secretArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:lab",
        sql=sql,
        parameters=parameters,
    )


def test_stopping_the_writer_cluster_fails_the_deep_health_check_and_dns_fails_over(lab):
    primary = lab.region("primary")
    rds = lab.client("rds", primary["region"])
    stopped_at = time.time()
    rds.stop_db_cluster(DBClusterIdentifier=primary["db_cluster_id"])
    try:
        wait_for(
            lambda: lab.events_since(stopped_at, "db_available", cluster=primary["db_cluster_id"], available=False), 2, "stopped"
        )
        assert lab.get(primary["address"], path="/health")[0] == 503  # the app is up, its database is not
        wait_for(lambda: went_unhealthy(lab, stopped_at), 10, "deep health fails")
        wait_for(lambda: standby_answer(lab), 2, "DNS answers the standby")
    finally:
        rds.start_db_cluster(DBClusterIdentifier=primary["db_cluster_id"])
    steady(lab)


def table_on_reader(lab) -> bool:
    try:
        data_api(lab, "standby", "select count(*) from heartbeat")
    except ClientError:
        return False
    return True


def global_cluster(lab) -> dict:
    rds = lab.client("rds", lab.region("primary")["region"])
    return rds.describe_global_clusters(GlobalClusterIdentifier=lab.info["global_cluster_id"])["GlobalClusters"][0]


def settled(lab) -> bool:
    """No failover or switchover in progress, and every member a synchronized part of the global cluster."""
    found = global_cluster(lab)
    return "FailoverState" not in found and all(m["SynchronizationStatus"] == "connected" for m in found["GlobalClusterMembers"])


def writer_of(lab) -> list[str]:
    return [m["DBClusterArn"] for m in global_cluster(lab)["GlobalClusterMembers"] if m["IsWriter"]]


def switch_back(lab, rds, timeout: float = 10) -> None:
    wait_for(lambda: settled(lab), timeout, "the old primary is a synchronized secondary again")
    rds.switchover_global_cluster(
        GlobalClusterIdentifier=lab.info["global_cluster_id"], TargetDbClusterIdentifier=lab.region("primary")["db_cluster_arn"]
    )
    wait_for(lambda: settled(lab) and writer_of(lab) == [lab.region("primary")["db_cluster_arn"]], timeout, "switched back")


def test_unplanned_global_failover_loses_exactly_the_heartbeats_not_yet_replicated(lab):
    primary, standby = lab.region("primary"), lab.region("standby")
    data_api(lab, "primary", "create table if not exists heartbeat (seq integer primary key, t real)")
    wait_for(lambda: table_on_reader(lab), 5, "the table reaches the reader")
    rds = lab.client("rds", primary["region"])  # made first: a client takes longer than the lag to build under load
    written = []
    for seq in range(1, 31):
        data_api(lab, "primary", "insert into heartbeat (seq, t) values (:seq, :t)", seq=seq, t=time.time())
        written.append(seq)
        time.sleep(0.05)
    failed_over_at = time.time()
    rds.failover_global_cluster(
        GlobalClusterIdentifier=lab.info["global_cluster_id"],
        TargetDbClusterIdentifier=standby["db_cluster_arn"],
        AllowDataLoss=True,
    )
    try:
        readable = [r[0]["longValue"] for r in data_api(lab, "standby", "select seq from heartbeat order by seq")["records"]]
        lost_events = lab.events_since(failed_over_at - 0.1, "db_writes_lost")
        assert len(lost_events) == 1
        reported_lost = [w["params"]["seq"] for w in lost_events[0]["writes"]]
        # Exactly the tail written within the replication lag is gone, and the log says which.
        assert reported_lost == written[len(readable) :]
        assert readable == written[: len(readable)]
        assert 0 < len(reported_lost) < len(written)
        wait_for(lambda: writer_of(lab) == [standby["db_cluster_arn"]], 10, "the standby is promoted")
        with pytest.raises(ClientError, match="is a reader"):
            data_api(lab, "primary", "insert into heartbeat (seq, t) values (:seq, :t)", seq=999, t=1.0)
        # A planned switchover back loses nothing: writes made meanwhile reach the old primary first.
        data_api(lab, "standby", "insert into heartbeat (seq, t) values (:seq, :t)", seq=1000, t=time.time())
    finally:
        switch_back(lab, rds)
    assert 1000 in [r[0]["longValue"] for r in data_api(lab, "primary", "select seq from heartbeat")["records"]]
    steady(lab)


def test_a_global_failover_fails_the_primary_deep_health_so_traffic_follows_the_writer_and_a_switchover_brings_it_back(lab):
    primary, standby = lab.region("primary"), lab.region("standby")
    rds = lab.client("rds", primary["region"])
    assert lab.get(primary["address"], path="/health")[0] == 200

    failed_over_at = time.time()
    rds.failover_global_cluster(
        GlobalClusterIdentifier=lab.info["global_cluster_id"],
        TargetDbClusterIdentifier=standby["db_cluster_arn"],
        AllowDataLoss=True,
    )
    try:
        # The primary's app needs the writer; the standby's warm app only reads, and now holds the writer.
        status, body = lab.get(primary["address"], path="/health")
        assert (status, body["region"]) == (503, "us-east-1")
        assert lab.get(standby["address"], path="/health")[0] == 200
        assert lab.get(primary["address"])[0] == 200  # the app is up: only its deep health fails
        wait_for(lambda: went_unhealthy(lab, failed_over_at), 10, "primary deep health fails")
        wait_for(lambda: standby_answer(lab), 2, "DNS answers the standby")
    finally:
        switched_at = time.time()
        switch_back(lab, rds)
    assert lab.get(primary["address"], path="/health")[0] == 200
    wait_for(lambda: lab.events_since(switched_at, "health_check", id=primary["health_check_id"], healthy=True), 10, "healthy")
    wait_for(lambda: primary_answer(lab), 2, "DNS answers the primary again")
    steady(lab)
