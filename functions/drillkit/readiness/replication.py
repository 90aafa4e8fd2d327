"""Data replication of the scenario's other stores: DynamoDB global tables and S3 replication (``data.stores``).

A table without a replica in the standby region, or an object replication rule that cannot deliver (disabled, not
covering the objects, versioning off, no role, a destination that refuses the role), looks replicated in a diagram and
leaves the standby without the data after a failover. Each check reads once per resource and names it; the heartbeat
measures what arrives, these say why nothing would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from drillkit.findings import Finding, rule
from drillkit.readiness.survey import Check, Survey
from drillkit.spec import DynamoDbGlobalTable, S3Replication
from drillkit.stores import s3 as s3_heartbeat

REPLICATE_ACTIONS = ("s3:ReplicateObject", "s3:Replicate*", "s3:*", "*")

TABLE_NOT_GLOBAL = rule(
    "TABLE_NOT_GLOBAL",
    "data",
    "critical",
    False,
    "The DynamoDB table has no replica in the standby region: its data is not replicated",
    "Add a replica in the standby region (dynamodb:UpdateTable with ReplicaUpdates Create, global tables version "
    "2019.11.21); until then a failover serves none of the table's data.",
)
TABLE_REPLICA_NOT_ACTIVE = rule(
    "TABLE_REPLICA_NOT_ACTIVE",
    "data",
    "high",
    False,
    "The table's standby replica is not ACTIVE",
    "Wait for the replica to become ACTIVE, or read its ReplicaStatusDescription and recreate it.",
)
TABLE_KEY_MISMATCH = rule(
    "TABLE_KEY_MISMATCH",
    "data",
    "high",
    False,
    "The table's key schema is not the one the scenario names: the heartbeat item cannot be written",
    "Set the store's partition_key (and sort_key) to the table's string key attributes.",
)
S3_REPLICATION_NOT_CONFIGURED = rule(
    "S3_REPLICATION_NOT_CONFIGURED",
    "data",
    "critical",
    False,
    "The source bucket has no replication configuration: its objects are not replicated",
    "Add a replication rule to the destination bucket (s3:PutBucketReplication) with a role S3 can assume.",
)
S3_RULE_NOT_COVERING = rule(
    "S3_RULE_NOT_COVERING",
    "data",
    "critical",
    False,
    "No replication rule to the destination covers the objects (prefix, tags): they are not replicated",
    "Widen a rule's filter to the objects' prefix, or add a rule for it; objects written before the rule need "
    "S3 Batch Replication.",
)
S3_RULE_DISABLED = rule(
    "S3_RULE_DISABLED",
    "data",
    "critical",
    False,
    "The replication rule covering the objects is Disabled: nothing is replicated",
    "Set the rule's Status to Enabled (s3:PutBucketReplication).",
)
S3_VERSIONING_NOT_ENABLED = rule(
    "S3_VERSIONING_NOT_ENABLED",
    "data",
    "critical",
    False,
    "Versioning is not Enabled on the source or destination bucket: replication needs it on both",
    "Enable versioning on the bucket named (s3:PutBucketVersioning Status Enabled).",
)
S3_REPLICATION_ROLE_MISSING = rule(
    "S3_REPLICATION_ROLE_MISSING",
    "data",
    "critical",
    False,
    "The replication configuration names a role that does not exist: replication fails",
    "Create the role with a trust policy for s3.amazonaws.com and the replication permissions, or name an existing one.",
)
S3_DESTINATION_REFUSES_ROLE = rule(
    "S3_DESTINATION_REFUSES_ROLE",
    "data",
    "critical",
    False,
    "The destination bucket's policy denies the replication role s3:ReplicateObject: replication fails",
    "Change the destination's bucket policy to allow the replication role s3:ReplicateObject, s3:ReplicateDelete "
    "and s3:ReplicateTags on its objects.",
)


def _tables(survey: Survey) -> Iterator[Finding]:
    for store in survey.scenario.data.stores:
        if isinstance(store, DynamoDbGlobalTable):
            yield from _table(survey, store)


def _table(survey: Survey, store: DynamoDbGlobalTable) -> Iterator[Finding]:
    resource = f"{store.table} ({store.primary_region})"
    table = survey.dynamodb_table(store.primary_region, store.table)
    keys = {k["AttributeName"]: k["KeyType"] for k in table.get("KeySchema", [])}
    wanted = {store.partition_key: "HASH", **({store.sort_key: "RANGE"} if store.sort_key else {})}
    if keys != wanted:
        yield TABLE_KEY_MISMATCH.finding(
            f"table {store.table}: key schema {keys}, the scenario's store {store.label} names {wanted}",
            "dynamodb:DescribeTable",
            resource,
        )
    replicas = {r.get("RegionName"): r for r in table.get("Replicas") or []}
    replica = replicas.get(store.standby_region)
    if replica is None:
        yield TABLE_NOT_GLOBAL.finding(
            f"data not replicated: table {store.table} in {store.primary_region} has no replica in the standby region "
            f"{store.standby_region} (replicas: {', '.join(sorted(str(r) for r in replicas)) or 'none'})",
            "dynamodb:DescribeTable",
            resource,
        )
    elif replica.get("ReplicaStatus") != "ACTIVE":
        yield TABLE_REPLICA_NOT_ACTIVE.finding(
            f"table {store.table}: the replica in {store.standby_region} is {replica.get('ReplicaStatus')}"
            + (f" ({replica['ReplicaStatusDescription']})" if replica.get("ReplicaStatusDescription") else ""),
            "dynamodb:DescribeTable",
            resource,
        )


def _covers(found: dict[str, Any], key: str) -> bool:
    """A rule's filter selects the heartbeat object (prefix only: the heartbeat carries no tags)."""
    filtered = found.get("Filter")
    if filtered is None:
        return key.startswith(found.get("Prefix", ""))  # the earlier rule shape: a Prefix of its own
    if "Tag" in filtered or filtered.get("And", {}).get("Tags"):
        return False
    prefix = filtered.get("Prefix", filtered.get("And", {}).get("Prefix", ""))
    return key.startswith(prefix)


def _buckets(survey: Survey) -> Iterator[Finding]:
    for store in survey.scenario.data.stores:
        if isinstance(store, S3Replication):
            yield from _bucket(survey, store)


def _bucket(survey: Survey, store: S3Replication) -> Iterator[Finding]:
    source = f"s3://{store.bucket}"
    for bucket, region in ((store.bucket, store.primary_region), (store.destination_bucket, store.standby_region)):
        versioning = survey.bucket_answer("GetBucketVersioning", region, bucket) or {}
        if versioning.get("Status") != "Enabled":
            yield S3_VERSIONING_NOT_ENABLED.finding(
                f"bucket {bucket}: versioning is {versioning.get('Status') or 'never enabled'}; replication from "
                f"{store.bucket} to {store.destination_bucket} needs it Enabled on both",
                "s3:GetBucketVersioning",
                f"s3://{bucket}",
            )
    answer = survey.bucket_answer("GetBucketReplication", store.primary_region, store.bucket)
    if answer is None:
        yield S3_REPLICATION_NOT_CONFIGURED.finding(
            f"data not replicated: bucket {store.bucket} has no replication configuration", "s3:GetBucketReplication", source
        )
        return
    configuration = answer.get("ReplicationConfiguration", {})
    key = s3_heartbeat.object_key(store, "DRILL")
    destination = f"arn:aws:s3:::{store.destination_bucket}"
    rules = [r for r in configuration.get("Rules", []) if r.get("Destination", {}).get("Bucket") == destination]
    covering = sorted((r for r in rules if _covers(r, key)), key=lambda r: -int(r.get("Priority", 0)))
    if not covering:
        named = ", ".join(f"{r.get('ID', '?')} ({json.dumps(r.get('Filter', r.get('Prefix')))})" for r in rules)
        yield S3_RULE_NOT_COVERING.finding(
            f"data not replicated: no rule of bucket {store.bucket} to {store.destination_bucket} covers prefix "
            f"{store.prefix!r} (rules to it: {named or 'none'})",
            "s3:GetBucketReplication",
            source,
        )
    elif not any(r.get("Status") == "Enabled" for r in covering):
        yield S3_RULE_DISABLED.finding(
            f"data not replicated: rule {covering[0].get('ID', '?')} of bucket {store.bucket} covering {store.prefix!r} "
            f"is {covering[0].get('Status')}",
            "s3:GetBucketReplication",
            source,
        )
    yield from _role(survey, store, str(configuration.get("Role", "")))


def _role(survey: Survey, store: S3Replication, role_arn: str) -> Iterator[Finding]:
    if not role_arn or not survey.role_exists(role_arn):
        yield S3_REPLICATION_ROLE_MISSING.finding(
            f"bucket {store.bucket}: the replication role {role_arn or '(none)'} does not exist", "iam:GetRole", role_arn
        )
        return
    policy = survey.bucket_answer("GetBucketPolicy", store.standby_region, store.destination_bucket)
    if policy is None:
        return  # no bucket policy: within one account the role's own policy decides (not read here)
    for statement in _statements(policy.get("Policy", "{}")):
        if statement.get("Effect") == "Deny" and _names(statement, role_arn) and _replicates(statement):
            yield S3_DESTINATION_REFUSES_ROLE.finding(
                f"bucket {store.destination_bucket}: statement {statement.get('Sid', '(no Sid)')} of its policy denies "
                f"the replication role {role_arn} {statement.get('Action')}",
                "s3:GetBucketPolicy",
                f"s3://{store.destination_bucket}",
            )
            return


def _statements(document: str) -> list[dict[str, Any]]:
    found = json.loads(document).get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _names(statement: dict[str, Any], role_arn: str) -> bool:
    principal = statement.get("Principal", {})
    if principal == "*":
        return True
    account_root = f"arn:aws:iam::{role_arn.split(':')[4]}:root" if role_arn.count(":") >= 5 else None
    named = _as_list(principal.get("AWS") if isinstance(principal, dict) else None)
    return any(p in ("*", role_arn, account_root) for p in named)


def _replicates(statement: dict[str, Any]) -> bool:
    return any(action in REPLICATE_ACTIONS for action in _as_list(statement.get("Action")))


CHECKS = [Check("global-tables", _tables), Check("object-replication", _buckets)]
