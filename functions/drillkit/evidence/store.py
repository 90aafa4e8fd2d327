"""The evidence bucket: samples while the drill runs, report artifacts at the end."""

from __future__ import annotations

import json
from typing import Any

from drillkit import aws, readings
from drillkit.errors import AwsCallFailed
from drillkit.readings import Reading

CONTENT_TYPES = {
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".md": "text/markdown; charset=utf-8",
    ".sig": "application/octet-stream",
}
NOT_FOUND = ("NoSuchKey", "404", "NotFound")


def drill_prefix(drill_id: str) -> str:
    return f"drills/{drill_id}/"


def scenario_pointer(scenario: str) -> str:
    return f"index/scenarios/{scenario}/latest.json"


class EvidenceStore:
    def __init__(self, bucket: str):
        self.bucket = bucket
        self.s3 = aws.client("s3")

    def _put_arguments(self, key: str, body: bytes) -> dict[str, Any]:
        suffix = key[key.rfind(".") :]
        # A checksum is required on buckets with Object Lock; SHA-256 also guards the upload.
        return {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body,
            "ContentType": CONTENT_TYPES.get(suffix, "application/octet-stream"),
            "ChecksumAlgorithm": "SHA256",
        }

    def put(self, key: str, body: bytes) -> None:
        with aws.aws_call("PutObject", f"s3://{self.bucket}/{key}"):
            self.s3.put_object(**self._put_arguments(key, body))

    def put_if(self, key: str, body: bytes, etag: str | None) -> bool:
        """Conditional write: only over the version with `etag`, or only if absent when etag is None."""
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            with aws.aws_call("PutObject", f"s3://{self.bucket}/{key}"):
                self.s3.put_object(**self._put_arguments(key, body), **condition)
        except AwsCallFailed as error:
            if error.code in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
                return False
            raise
        return True

    def get_with_etag(self, key: str) -> tuple[bytes, str] | None:
        try:
            with aws.aws_call("GetObject", f"s3://{self.bucket}/{key}"):
                answer = self.s3.get_object(Bucket=self.bucket, Key=key)
        except AwsCallFailed as error:
            if error.code in NOT_FOUND:
                return None
            raise
        return answer["Body"].read(), answer["ETag"]

    def get_json(self, key: str) -> dict[str, Any] | None:
        found = self.get_with_etag(key)
        return json.loads(found[0]) if found else None

    def object_lock_configuration(self) -> dict[str, Any] | None:
        try:
            with aws.aws_call("GetObjectLockConfiguration", f"s3://{self.bucket}"):
                answer = self.s3.get_object_lock_configuration(Bucket=self.bucket)
        except AwsCallFailed as error:
            if error.code in ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"):
                return None
            raise
        return answer.get("ObjectLockConfiguration")

    def latest_of_scenario(self, scenario: str) -> dict[str, Any] | None:
        """The previous drill of a scenario in this bucket (pointer written by the report step)."""
        return self.get_json(scenario_pointer(scenario))

    def set_latest_of_scenario(self, scenario: str, summary: dict[str, Any]) -> None:
        self.put(scenario_pointer(scenario), json.dumps(summary, indent=2).encode())

    def get(self, key: str) -> bytes:
        with aws.aws_call("GetObject", f"s3://{self.bucket}/{key}"):
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def keys_under(self, prefix: str) -> list[str]:
        keys: list[str] = []
        with aws.aws_call("ListObjectsV2", f"s3://{self.bucket}/{prefix}"):
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(o["Key"] for o in page.get("Contents", []))
        return sorted(keys)

    def put_samples(self, drill_id: str, part: str, samples: list[Reading]) -> str:
        key = f"{drill_prefix(drill_id)}samples/{part}.jsonl"
        self.put(key, readings.dump_lines(samples).encode())
        return key

    def samples(self, drill_id: str, part_prefix: str = "") -> list[Reading]:
        """Every reading stored so far, parsed (readings.parse_samples), in time order."""
        lines: list[str] = []
        for key in self.keys_under(f"{drill_prefix(drill_id)}samples/{part_prefix}"):
            lines.extend(self.get(key).decode().splitlines())
        return readings.parse_samples(lines)
