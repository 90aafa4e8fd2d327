"""Fault: take the primary database away.

- stop: stop_db_cluster on a regional cluster. Aurora refuses to stop a member of a global
  database, so preflight refuses that too and points at the global methods. Restore starts the
  cluster (after it has finished stopping) and waits until it is available.
- global-failover: an unplanned failover_global_cluster to the standby with AllowDataLoss, as in
  a regional outage: whatever had not replicated yet is lost, which the heartbeat canary measures.
- global-switchover: a planned switchover_global_cluster; nothing may be lost.

Restore of both global methods switches the writer back to the original cluster (a planned
switchover, so the restore itself loses nothing). Aurora's global operations take minutes and
refuse to overlap, and after a failover with data loss the old primary is a secondary again only
once it has resynchronized (a time AWS does not give): so restore takes one step per call and
never sleeps. It returns False while the global cluster shows a FailoverState, while the old
primary is not yet a synchronized, available secondary, and while the switchover back it started
runs; the drill's Restore loop calls it again. It returns True once the original cluster is the
writer again and available.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drillkit import aws
from drillkit.errors import AwsCallFailed, RestoreFailed, TargetNotFound
from drillkit.faults.base import Fault, Resource, SpecFault
from drillkit.faults.priors import GlobalWriter, RunningCluster
from drillkit.model import ResolvedTarget
from drillkit.spec import StopCluster

TYPE = "stop-cluster"
EXERCISE_TYPE = "full-scale"
API_CALLS = {
    "stop": "rds:StopDBCluster / StartDBCluster",
    "global-failover": "rds:FailoverGlobalCluster (AllowDataLoss) / SwitchoverGlobalCluster",
    "global-switchover": "rds:SwitchoverGlobalCluster",
}
# Refusals that mean "not now": a global operation or a cluster state change is still in progress.
_BUSY = {"InvalidDBClusterStateFault", "InvalidGlobalClusterStateFault"}


def _cluster(region: str, cluster: str) -> dict[str, Any]:
    try:
        with aws.aws_call("DescribeDBClusters", cluster):
            return aws.target_client("rds", region).describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
    except AwsCallFailed as error:
        if error.code == "DBClusterNotFoundFault":
            raise TargetNotFound(f"fault.cluster: no DB cluster {cluster} in {region}") from None
        raise


def _global_of(region: str, cluster_arn: str) -> dict[str, Any] | None:
    rds = aws.target_client("rds", region)
    with aws.aws_call("DescribeGlobalClusters", cluster_arn):
        for page in rds.get_paginator("describe_global_clusters").paginate():
            for found in page["GlobalClusters"]:
                if any(m["DBClusterArn"] == cluster_arn for m in found.get("GlobalClusterMembers", [])):
                    return found
    return None


def _writer_arn(global_cluster: dict[str, Any]) -> str | None:
    return next((m["DBClusterArn"] for m in global_cluster.get("GlobalClusterMembers", []) if m.get("IsWriter")), None)


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


@dataclass(frozen=True)
class _Progress:
    """Where a restore stands: done, or what it waits for (and whether its next call may be made now)."""

    done: bool
    waiting_for: str
    may_start: bool = False  # stop: the cluster has finished stopping
    may_switch_back: bool = False  # global: settled, and the old primary a synchronized, available secondary


def _global_cluster(prior: GlobalWriter) -> dict[str, Any]:
    global_id = prior.global_cluster
    try:
        with aws.aws_call("DescribeGlobalClusters", global_id):
            found = aws.target_client("rds", prior.region).describe_global_clusters(GlobalClusterIdentifier=global_id)
    except AwsCallFailed as error:
        if error.code == "GlobalClusterNotFoundFault":
            raise RestoreFailed(
                f"global database {global_id} no longer exists: {prior.cluster} cannot be made its writer"
            ) from None
        raise
    return found["GlobalClusters"][0]


def _progress(prior: ClusterPrior) -> _Progress:
    """Read-only: how far the restore has come."""
    region, cluster = prior.region, prior.cluster
    if isinstance(prior, RunningCluster):
        status = _cluster(region, cluster).get("Status")
        if status == "available":
            return _Progress(True, "")
        # A cluster still stopping cannot be started yet: a later call starts it.
        return _Progress(False, f"cluster {cluster} to be available (it is {status})", may_start=status == "stopped")
    found = _global_cluster(prior)
    global_id = prior.global_cluster
    if operation := found.get("FailoverState"):
        return _Progress(
            False,
            f"the {operation.get('Status')} operation of {global_id} from {operation.get('FromDbClusterArn')} "
            f"to {operation.get('ToDbClusterArn')} to finish",
        )
    member = next((m for m in found.get("GlobalClusterMembers", []) if m["DBClusterArn"] == prior.cluster_arn), None)
    if member is None:
        return _Progress(False, f"{cluster} to rejoin {global_id} as a secondary")
    status = _cluster(region, cluster).get("Status")
    if member.get("IsWriter"):
        if status == "available":
            return _Progress(True, "")
        return _Progress(False, f"{cluster}, writer of {global_id} again, to be available (it is {status})")
    synchronization = member.get("SynchronizationStatus", "connected")
    if synchronization != "connected":
        return _Progress(False, f"{cluster} to be a synchronized secondary of {global_id} (it is {synchronization})")
    if status != "available":
        return _Progress(False, f"{cluster} to be available (it is {status})")
    return _Progress(False, f"the switchover of {global_id} back to {cluster}", may_switch_back=True)


def _available(region: str, cluster: str) -> bool:
    return _cluster(region, cluster).get("Status") == "available"


ClusterPrior = RunningCluster | GlobalWriter


class StopClusterFault(SpecFault[StopCluster, ClusterPrior]):
    """Stop the primary cluster, or fail or switch its global database over; restore, one step per call."""

    kind = TYPE
    exercise_type = EXERCISE_TYPE
    api_calls = API_CALLS
    spec_type = StopCluster
    prior_types = (RunningCluster, GlobalWriter)

    def capture_spec(self, spec: StopCluster, target: ResolvedTarget) -> ClusterPrior:
        region = _region_of(spec.cluster) if spec.cluster.startswith("arn:") else str(spec.region)
        described = _cluster(region, spec.cluster)
        arn = described["DBClusterArn"]
        cluster = described["DBClusterIdentifier"]
        about = {"resource_id": arn, "region": region, "cluster": cluster, "cluster_arn": arn, "status": described.get("Status")}
        member_of = _global_of(region, arn)
        if spec.method == "stop":
            if member_of is not None:
                raise TargetNotFound(
                    f"fault.method: Aurora does not stop cluster {cluster}, a member of global database "
                    f"{member_of['GlobalClusterIdentifier']}; use method global-failover or global-switchover"
                )
            if described.get("Status") != "available":
                raise TargetNotFound(f"fault.cluster: cluster {cluster} is {described.get('Status')}, not available")
            return RunningCluster(**about)
        if member_of is None:
            raise TargetNotFound(f"fault.cluster: cluster {cluster} is not a member of a global database")
        if busy := member_of.get("FailoverState"):
            raise TargetNotFound(
                f"fault.cluster: global database {member_of['GlobalClusterIdentifier']} has a {busy.get('Status')} operation "
                "in progress; run the drill once it has settled"
            )
        writer = _writer_arn(member_of)
        if writer != arn:
            raise TargetNotFound(f"fault.cluster: cluster {cluster} is not the writer of {member_of['GlobalClusterIdentifier']}")
        others = [m["DBClusterArn"] for m in member_of["GlobalClusterMembers"] if m["DBClusterArn"] != arn]
        failover_to = spec.failover_to or (others[0] if others else None)
        if failover_to is None or failover_to not in others:
            global_id = member_of["GlobalClusterIdentifier"]
            raise TargetNotFound(f"fault.failover_to: {failover_to or 'no secondary cluster'} is not a secondary of {global_id}")
        global_cluster = member_of["GlobalClusterIdentifier"]
        return GlobalWriter(**about, method=spec.method, global_cluster=global_cluster, writer_arn=arn, failover_to=failover_to)

    def apply_spec(self, spec: StopCluster, target: ResolvedTarget, prior: ClusterPrior) -> None:
        rds = aws.target_client("rds", prior.region)
        if isinstance(prior, RunningCluster):
            if _cluster(prior.region, prior.cluster).get("Status") in ("stopping", "stopped"):
                return  # a retried injection: already done
            with aws.aws_call("StopDBCluster", prior.cluster):
                rds.stop_db_cluster(DBClusterIdentifier=prior.cluster)
            return
        current = _global_of(prior.region, prior.cluster_arn) or {}
        if _writer_arn(current) == prior.failover_to:
            return
        if (current.get("FailoverState") or {}).get("ToDbClusterArn") == prior.failover_to:
            return  # a retried injection: the failover or switchover is under way
        # Called in the standby's region: in a real outage the primary's endpoint may not answer.
        standby = aws.target_client("rds", _region_of(prior.failover_to))
        if prior.method == "global-failover":
            with aws.aws_call("FailoverGlobalCluster", prior.global_cluster):
                standby.failover_global_cluster(
                    GlobalClusterIdentifier=prior.global_cluster,
                    TargetDbClusterIdentifier=prior.failover_to,
                    AllowDataLoss=True,
                )
        else:
            with aws.aws_call("SwitchoverGlobalCluster", prior.global_cluster):
                standby.switchover_global_cluster(
                    GlobalClusterIdentifier=prior.global_cluster, TargetDbClusterIdentifier=prior.failover_to
                )

    def restore_prior(self, prior: ClusterPrior) -> bool:
        """One step towards the prior state; True once it holds. Never waits: the drill's Restore loop calls again."""
        region, cluster = prior.region, prior.cluster
        rds = aws.target_client("rds", region)
        progress = _progress(prior)
        if progress.done:
            return True
        try:
            if progress.may_start:
                with aws.aws_call("StartDBCluster", cluster):
                    rds.start_db_cluster(DBClusterIdentifier=cluster)
            elif progress.may_switch_back and isinstance(prior, GlobalWriter):
                with aws.aws_call("SwitchoverGlobalCluster", prior.global_cluster):
                    rds.switchover_global_cluster(
                        GlobalClusterIdentifier=prior.global_cluster, TargetDbClusterIdentifier=prior.writer_arn
                    )
        except AwsCallFailed as error:
            if error.code not in _BUSY:
                raise
        return False

    def waiting_for_prior(self, prior: ClusterPrior) -> str:
        """Read-only: what an unfinished restore waits for, for the drill's messages."""
        return _progress(prior).waiting_for or "nothing (restored)"

    def is_restored_prior(self, prior: ClusterPrior) -> bool:
        available = _available(prior.region, prior.cluster)
        if isinstance(prior, RunningCluster):
            return available
        return available and _writer_arn(_global_of(prior.region, prior.cluster_arn) or {}) == prior.writer_arn

    def describe_spec(self, spec: StopCluster, target: ResolvedTarget, prior: ClusterPrior) -> str:
        if isinstance(prior, RunningCluster):
            return f"stop DB cluster {prior.cluster} ({prior.region}); restore starts it and waits until it is available"
        unplanned = prior.method == "global-failover"
        verb = "fail over (unplanned, AllowDataLoss)" if unplanned else "switch over (planned, no data loss)"
        return (
            f"{verb} global database {prior.global_cluster} from {prior.cluster_arn} to {prior.failover_to}; "
            f"restore switches the writer back to {prior.cluster} and waits until it is available"
        )

    def resources_prior(self, prior: ClusterPrior) -> list[Resource]:
        found: list[Resource] = [{"type": "AWS::RDS::DBCluster", "id": prior.cluster_arn, "role": "primary database"}]
        if isinstance(prior, GlobalWriter):
            found.append({"type": "AWS::RDS::GlobalCluster", "id": prior.global_cluster, "role": "global database"})
        return found


FAULT: Fault = StopClusterFault()
