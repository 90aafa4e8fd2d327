"""Data replication: the database the heartbeat measures is really global, both clusters in one global cluster.

A standby cluster created on its own (a restored snapshot, a separate cluster) looks like a replica in a
diagram but receives nothing: after a failover it serves whatever it held when it was created.
"""

from __future__ import annotations

from collections.abc import Iterator

from drillkit.findings import Finding, rule
from drillkit.readiness.survey import Check, Survey

DATABASE_NOT_GLOBAL = rule(
    "DATABASE_NOT_GLOBAL",
    "data",
    "critical",
    False,
    "The primary and standby clusters are not members of one global cluster: data is not replicated",
    "Add the standby cluster to the primary's global cluster (rds:CreateDBCluster with GlobalClusterIdentifier, "
    "or create the global cluster from the primary and add a secondary region); a separate cluster never "
    "receives the primary's writes.",
)


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


def _global_database(survey: Survey) -> Iterator[Finding]:
    heartbeat = survey.scenario.data.heartbeat
    if heartbeat is None:
        return
    primary, standby = heartbeat.primary_cluster_arn, heartbeat.standby_cluster_arn
    region = _region_of(primary)
    clusters = survey.global_clusters(region)
    membership = {
        str(g.get("GlobalClusterIdentifier")): {m.get("DBClusterArn") for m in g.get("GlobalClusterMembers", [])}
        for g in clusters
    }
    of_primary = [name for name, members in membership.items() if primary in members]
    if any(standby in membership[name] for name in of_primary):
        return
    if of_primary:
        where = f"the primary is a member of global cluster {of_primary[0]}, the standby {standby} is not"
    else:
        other = [name for name, members in membership.items() if standby in members]
        where = f"the primary {primary} is in no global cluster" + (f" (the standby is in {other[0]})" if other else "")
    yield DATABASE_NOT_GLOBAL.finding(
        f"data not replicated: {where}; of {len(clusters)} global cluster(s) in {region}, none holds both "
        f"{primary} and {standby}, so the standby receives none of the primary's writes",
        "rds:DescribeGlobalClusters",
        f"{primary}, {standby}",
    )


CHECKS = [Check("global-database", _global_database)]
