"""The one boto3 client factory: retries, region, endpoint and error naming.

The endpoint comes from the standard AWS_ENDPOINT_URL variable, which boto3 honours
on its own; that is how the same code talks to AWS or to the local lab.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from drillkit.errors import AwsCallFailed, TransientError

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "SlowDown",
        "TooManyRequestsException",
        "PriorRequestNotComplete",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
    }
)

_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="drillkit",
)


@cache
def client(service: str, region: str | None = None, read_timeout: float | None = None) -> Any:
    """A cached client; Route 53 is global and always signed for us-east-1.

    ``read_timeout`` shortens the wait for calls made once per sample, so that one stuck call
    cannot stretch a sample past its interval.
    """
    if service == "route53":
        region = "us-east-1"
    config = (
        _CONFIG
        if read_timeout is None
        else _CONFIG.merge(Config(read_timeout=read_timeout, retries={"mode": "adaptive", "max_attempts": 1}))
    )
    return boto3.session.Session().client(service, region_name=region, config=config)


@cache
def resource_table(name: str) -> Any:
    return boto3.session.Session().resource("dynamodb", config=_CONFIG).Table(name)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


@contextmanager
def aws_call(operation: str, resource_id: str) -> Iterator[None]:
    """Turn botocore errors into named drill errors that carry the resource id."""
    try:
        yield
    except ClientError as error:
        code = error_code(error)
        message = str(error.response.get("Error", {}).get("Message", ""))
        if code in TRANSIENT_CODES:
            raise TransientError(f"{operation} on {resource_id}: {code}: {message}") from error
        raise AwsCallFailed(operation, resource_id, code, message) from error
    except BotoCoreError as error:
        raise TransientError(f"{operation} on {resource_id}: {error}") from error
