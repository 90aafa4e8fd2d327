"""The evidence bucket: samples while the drill runs, report artifacts at the end."""

from __future__ import annotations

import json
from typing import Any

from drillkit import aws

CONTENT_TYPES = {".json": "application/json", ".jsonl": "application/x-ndjson", ".html": "text/html; charset=utf-8"}


def drill_prefix(drill_id: str) -> str:
    return f"drills/{drill_id}/"


class EvidenceStore:
    def __init__(self, bucket: str):
        self.bucket = bucket
        self.s3 = aws.client("s3")

    def put(self, key: str, body: bytes) -> None:
        suffix = key[key.rfind(".") :]
        with aws.aws_call("PutObject", f"s3://{self.bucket}/{key}"):
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=CONTENT_TYPES.get(suffix, "application/octet-stream"),
            )

    def get(self, key: str) -> bytes:
        with aws.aws_call("GetObject", f"s3://{self.bucket}/{key}"):
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        with aws.aws_call("ListObjectsV2", f"s3://{self.bucket}/{prefix}"):
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(o["Key"] for o in page.get("Contents", []))
        return sorted(keys)

    def put_samples(self, drill_id: str, part: str, samples: list[dict[str, Any]]) -> str:
        key = f"{drill_prefix(drill_id)}samples/{part}.jsonl"
        self.put(key, "".join(json.dumps(s, separators=(",", ":")) + "\n" for s in samples).encode())
        return key

    def samples(self, drill_id: str, part_prefix: str = "") -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        for key in self.list(f"{drill_prefix(drill_id)}samples/{part_prefix}"):
            result.extend(json.loads(line) for line in self.get(key).decode().splitlines() if line)
        return sorted(result, key=lambda s: s["t"])
