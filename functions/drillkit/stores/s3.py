"""S3 replication: the heartbeat object, written to the source bucket under the rule's prefix, read in the destination.

One object per drill and store, ``<prefix>drillkit-heartbeat/<drill id>``, overwritten every sample (a new version:
replication needs versioning on both buckets), a few bytes with its sequence in the metadata ``drillkit-seq`` and
``drillkit-written-at``. Each sample reads the source object's ReplicationStatus (PENDING, COMPLETED, FAILED) before
writing the next version, then HeadObject on the destination: its metadata names the newest heartbeat replicated.
Restore deletes every version of the object in the source bucket, and in the destination where drillkit's role may.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from drillkit import aws
from drillkit.errors import AwsCallFailed
from drillkit.spec import S3Replication
from drillkit.stores import removal

KEY_NAME = "drillkit-heartbeat/"
SEQ_METADATA = "drillkit-seq"
WRITTEN_AT_METADATA = "drillkit-written-at"
# HeadObject's 404 carries no code of its own; a missing destination bucket has nothing of the drill either.
ABSENT = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


def object_key(store: S3Replication, drill_id: str) -> str:
    return f"{store.prefix}{KEY_NAME}{drill_id}"


def _client(region: str, timeout: float | None) -> Any:
    return aws.target_client("s3", region, read_timeout=timeout)


def _head(bucket: str, key: str, region: str, timeout: float) -> dict[str, Any] | None:
    """HeadObject, or None when the object (or its bucket) is not there."""
    try:
        with aws.aws_call("HeadObject", f"s3://{bucket}/{key}"):
            return dict(_client(region, timeout).head_object(Bucket=bucket, Key=key))
    except AwsCallFailed as error:
        if error.code in ABSENT:
            return None
        raise


def replication_status(store: S3Replication, drill_id: str, timeout: float) -> str | None:
    """The source object's ReplicationStatus (of the heartbeat written last), None before the first."""
    found = _head(store.bucket, object_key(store, drill_id), store.primary_region, timeout)
    if found is None:
        return None
    status = found.get("ReplicationStatus")
    return str(status) if status else "NONE"  # no status at all: no rule applies to the object


def write(store: S3Replication, drill_id: str, seq: int, written_at: float, timeout: float) -> None:
    key = object_key(store, drill_id)
    body = json.dumps({"drill_id": drill_id, "seq": seq, "written_at": written_at}).encode()
    with aws.aws_call("PutObject", f"s3://{store.bucket}/{key}"):
        _client(store.primary_region, timeout).put_object(
            Bucket=store.bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            Metadata={SEQ_METADATA: str(seq), WRITTEN_AT_METADATA: repr(written_at)},
        )


def read_standby(store: S3Replication, drill_id: str, timeout: float) -> tuple[int, float] | None:
    """(seq, written_at) of the heartbeat the destination bucket holds now, or None: nothing of this drill there."""
    found = _head(store.destination_bucket, object_key(store, drill_id), store.standby_region, timeout)
    if found is None:
        return None
    metadata = found.get("Metadata") or {}
    if SEQ_METADATA not in metadata or WRITTEN_AT_METADATA not in metadata:
        return None
    return int(metadata[SEQ_METADATA]), float(metadata[WRITTEN_AT_METADATA])


def _remove_versions(bucket: str, region: str, key: str) -> None:
    s3 = _client(region, None)
    with aws.aws_call("ListObjectVersions", f"s3://{bucket}/{key}"):
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key))
    versions = [
        {"Key": key, "VersionId": found["VersionId"]}
        for page in pages
        for found in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        if found["Key"] == key
    ]
    for start in range(0, len(versions), 1000):  # DeleteObjects takes at most 1,000 keys
        with aws.aws_call("DeleteObjects", f"s3://{bucket}/{key}"):
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": versions[start : start + 1000], "Quiet": True})
        if failed := answer.get("Errors"):
            raise AwsCallFailed("DeleteObjects", f"s3://{bucket}/{key}", failed[0].get("Code", ""), failed[0].get("Message", ""))


def remove(store: S3Replication, drill_id: str) -> list[str]:
    """Delete every version of the heartbeat object in the source and the destination; the problems, each named."""
    key = object_key(store, drill_id)
    copies = ((store.bucket, store.primary_region), (store.destination_bucket, store.standby_region))
    return removal.problems([functools.partial(_remove_versions, bucket, region, key) for bucket, region in copies], ABSENT)
