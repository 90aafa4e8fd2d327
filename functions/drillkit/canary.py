"""The heartbeat canary: the data that lets a drill measure its RPO.

Once per sample the drill writes one row (drill id, sequence, written_at) to the primary cluster
through the RDS Data API. After the failure it reads the newest row of this drill from the store
that serves after failover. The achieved RPO is the gap between the last heartbeat the primary
acknowledged before the failure and that newest surviving one: the data-loss window. Replication
lag metrics are context only; this is the measurement.

The canary only ever writes rows to its own table (created if missing); it changes no resource.
"""

from __future__ import annotations

from typing import Any

from drillkit import aws, clock
from drillkit.errors import AwsCallFailed, DrillError
from drillkit.model import DrillContext
from drillkit.readings import HEARTBEAT, HeartbeatReading, SurvivingHeartbeat
from drillkit.spec import Heartbeat

NAME = HEARTBEAT


def _data_api(cluster_arn: str, timeout: float) -> Any:
    return aws.target_client("rds-data", cluster_arn.split(":")[3], read_timeout=timeout)


def _execute(
    heartbeat: Heartbeat, cluster_arn: str, sql: str, parameters: list[dict[str, Any]], timeout: float
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "resourceArn": cluster_arn,
        "secretArn": heartbeat.secret_arn,
        "sql": sql,
        "parameters": parameters,
    }
    if heartbeat.database:
        request["database"] = heartbeat.database
    with aws.aws_call("ExecuteStatement", cluster_arn):
        return _data_api(cluster_arn, timeout).execute_statement(**request)


def ensure_table(heartbeat: Heartbeat) -> None:
    """The canary table on the primary writer (it replicates like any other table)."""
    _execute(
        heartbeat,
        heartbeat.primary_cluster_arn,
        f"CREATE TABLE IF NOT EXISTS {heartbeat.table} (drill_id VARCHAR(64) NOT NULL, seq BIGINT NOT NULL, "
        "written_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (drill_id, seq))",
        [],
        timeout=10,
    )


def write(context: DrillContext) -> HeartbeatReading | None:
    heartbeat = context.scenario.data.heartbeat
    if heartbeat is None:
        return None
    t = clock.now()
    seq = int(t * 1000)
    timeout = context.scenario.sampling.probe_timeout_seconds
    sample = HeartbeatReading(t=t, seq=seq)
    try:
        _execute(
            heartbeat,
            heartbeat.primary_cluster_arn,
            # The table name comes from spec.Heartbeat, whose pattern admits only an identifier.
            f"INSERT INTO {heartbeat.table} (drill_id, seq, written_at) VALUES (:drill_id, :seq, :written_at)",  # noqa: S608
            [
                {"name": "drill_id", "value": {"stringValue": context.drill_id}},
                {"name": "seq", "value": {"longValue": seq}},
                {"name": "written_at", "value": {"doubleValue": t}},
            ],
            timeout,
        )
    except DrillError as error:
        sample.error = str(error)
        return sample
    sample.ok = True
    sample.acked_at = clock.now()
    return sample


def serving_store(heartbeat: Heartbeat) -> tuple[str, str]:
    """(cluster ARN, why): the global database's writer when it is available, else the standby."""
    standby_region = heartbeat.standby_cluster_arn.split(":")[3]
    try:
        rds = aws.target_client("rds", standby_region)
        with aws.aws_call("DescribeGlobalClusters", heartbeat.standby_cluster_arn):
            pages = list(rds.get_paginator("describe_global_clusters").paginate())
        for page in pages:
            for found in page["GlobalClusters"]:
                members = {m["DBClusterArn"]: m for m in found.get("GlobalClusterMembers", [])}
                if heartbeat.primary_cluster_arn not in members:
                    continue
                if (operation := found.get("FailoverState")) and operation.get("ToDbClusterArn"):
                    # A failover or switchover still under way: the cluster being promoted is the store that will
                    # serve, and what it holds now is what it serves with (the old writer is being demoted).
                    return operation["ToDbClusterArn"], (
                        f"cluster being promoted by the {operation.get('Status')} operation of global database "
                        f"{found['GlobalClusterIdentifier']}"
                    )
                writer = next((arn for arn, m in members.items() if m.get("IsWriter")), None)
                if writer and _available(writer):
                    return writer, f"writer of global database {found['GlobalClusterIdentifier']}"
    except DrillError:
        pass  # an unreadable global view: read the standby, the store that serves when the primary region is gone
    return heartbeat.standby_cluster_arn, "standby cluster (the primary is not an available writer)"


def _available(cluster_arn: str) -> bool:
    try:
        with aws.aws_call("DescribeDBClusters", cluster_arn):
            found = aws.target_client("rds", cluster_arn.split(":")[3]).describe_db_clusters(DBClusterIdentifier=cluster_arn)
    except DrillError:
        return False
    return bool(found["DBClusters"]) and found["DBClusters"][0].get("Status") == "available"


def newest_surviving(context: DrillContext) -> SurvivingHeartbeat | None:
    """Read the newest heartbeat of this drill from the store that serves now."""
    heartbeat = context.scenario.data.heartbeat
    if heartbeat is None:
        return None
    cluster_arn, why = serving_store(heartbeat)
    t = clock.now()
    try:
        found = _execute(
            heartbeat,
            cluster_arn,
            f"SELECT seq, written_at FROM {heartbeat.table} WHERE drill_id = :drill_id ORDER BY seq DESC LIMIT 1",  # noqa: S608
            [{"name": "drill_id", "value": {"stringValue": context.drill_id}}],
            timeout=10,
        )
    except DrillError as error:
        if _no_table(error):
            # The canary's table never reached this store: no row of the drill is there (data not replicated).
            return SurvivingHeartbeat(t=t, cluster_arn=cluster_arn, why=why)
        return SurvivingHeartbeat(t=t, cluster_arn=cluster_arn, why=why, error=str(error))
    records = found.get("records", [])
    if not records:
        return SurvivingHeartbeat(t=t, cluster_arn=cluster_arn, why=why)
    seq, written_at = records[0]
    return SurvivingHeartbeat(
        t=t,
        cluster_arn=cluster_arn,
        why=why,
        seq=int(seq.get("longValue", 0)),
        written_at=float(written_at.get("doubleValue", written_at.get("stringValue", 0))),
    )


# How the engines name a missing table in the Data API's BadRequestException (MySQL, PostgreSQL, SQLite in the lab).
_NO_TABLE = ("doesn't exist", "does not exist", "no such table")


def _no_table(error: DrillError) -> bool:
    return (
        isinstance(error, AwsCallFailed)
        and error.code == "BadRequestException"
        and any(words in str(error).lower() for words in _NO_TABLE)
    )


def reference_problems(heartbeat: Heartbeat | None) -> list[tuple[str, str]]:
    """Preflight: every ARN the heartbeat names exists and is readable, each problem naming its scenario field.

    Read-only (DescribeDBClusters, DescribeSecret). A cluster that cannot be read here could never give an RPO.
    """
    if heartbeat is None:
        return []
    problems: list[tuple[str, str]] = []
    for field, arn in (
        ("data.heartbeat.primary_cluster_arn", heartbeat.primary_cluster_arn),
        ("data.heartbeat.standby_cluster_arn", heartbeat.standby_cluster_arn),
    ):
        try:
            with aws.aws_call("DescribeDBClusters", arn):
                found = aws.target_client("rds", arn.split(":")[3]).describe_db_clusters(DBClusterIdentifier=arn)
            if not found.get("DBClusters"):
                problems.append((field, f"no DB cluster {arn}"))
        except DrillError as error:
            problems.append((field, f"cannot read DB cluster {arn}: {error}"))
    secret = heartbeat.secret_arn
    try:
        with aws.aws_call("DescribeSecret", secret):
            aws.target_client("secretsmanager", secret.split(":")[3]).describe_secret(SecretId=secret)
    except DrillError as error:
        problems.append(("data.heartbeat.secret_arn", f"cannot read secret {secret}: {error}"))
    except IndexError:
        problems.append(("data.heartbeat.secret_arn", f"{secret} is not a Secrets Manager ARN"))
    return problems
