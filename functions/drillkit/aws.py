"""The one boto3 client factory: retries, region, endpoint and error naming.

The endpoint comes from the standard AWS_ENDPOINT_URL variable, which boto3 honours
on its own; that is how the same code talks to AWS or to the local lab.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from drillkit.errors import AwsCallFailed, TargetRoleRefused, TransientError

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


class _SearchPaths(list[str]):
    """A data loader's search paths, each once: every boto3 Session appends its own data folder to its loader's."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@cache
def _data_loader(data_path: str | None) -> botocore.loaders.Loader:
    """One botocore data loader for every session drillkit makes (per AWS_DATA_PATH): each API model parsed once.

    A session's loader parses a service's API model (EC2's: about 0.4 s of CPU), the endpoint rules and the list
    of services the first time a client needs them, and caches them; a new session starts with a new loader, so a
    function that made one session per client parsed them again for every client (14 clients, about 4 s, in a
    preflight's cold start). The models are botocore's installed data files, the same for every session.
    """
    extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)] if data_path else []
    return botocore.loaders.Loader(extra_search_paths=_SearchPaths(extra))


def _botocore_session() -> botocore.session.Session:
    """A new botocore session (its own credentials and settings) on the process's shared data loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _data_loader(core.get_config_variable("data_path")))
    return core


def new_session(region_name: str | None = None, access_key: tuple[str, str] | None = None) -> boto3.session.Session:
    """A new boto3 session (its own credentials and settings) on the process's shared data loader.

    ``access_key``: an access key id and secret (a lab's); otherwise the usual credential chain.
    """
    key_id, secret = access_key or (None, None)
    return boto3.session.Session(
        aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=region_name, botocore_session=_botocore_session()
    )


# A boto3 session is not thread-safe and the probes ask for clients from their own threads: clients are made one at a
# time. The clients themselves are thread-safe.
_making_clients = threading.Lock()


@cache
def _own_session() -> boto3.session.Session:
    """The function's own credentials' session, shared by every client it makes.

    A new session registers botocore's handlers and reads its per-session configuration anew: a client made on one cost
    16 to 25 ms of CPU, on the shared one 2.5 to 8 ms once its service's model is parsed. One per client was 53 per
    drill, most of them in cold starts.
    """
    return new_session()


@cache
def client(service: str, region: str | None = None, read_timeout: float | None = None) -> Any:
    """A cached client; Route 53 is global and always signed for us-east-1.

    ``read_timeout`` shortens the wait for calls made once per sample, so that one stuck call
    cannot stretch a sample past its interval.
    """
    with _making_clients:
        return _make_client(_own_session(), service, region, read_timeout)


def forget_clients() -> None:
    """Drop every cached client and session: the process's credentials, region or endpoint changed (tests, the CLI)."""
    client.cache_clear()
    _own_session.cache_clear()
    resource_table.cache_clear()
    _role_session.cache_clear()
    _role_client.cache_clear()


def _make_client(session: boto3.session.Session, service: str, region: str | None, read_timeout: float | None) -> Any:
    if service == "route53":
        region = "us-east-1"
    config = (
        _CONFIG
        if read_timeout is None
        else _CONFIG.merge(Config(read_timeout=read_timeout, retries={"mode": "adaptive", "max_attempts": 1}))
    )
    return session.client(service, region_name=region, config=config)


# -- the target's account: an IAM role per environment ------------------------------------------------
@dataclass(frozen=True)
class TargetRole:
    role_arn: str
    external_id: str | None
    session_name: str


_acting: TargetRole | None = None  # one invocation per process in Lambda; probe threads must see it too


def session_name_for(drill_id: str | None) -> str:
    """drillkit-<drill id>, within STS's 64 characters and alphabet, so the target's CloudTrail names the drill."""
    cleaned = re.sub(r"[^\w+=,.@-]", "-", drill_id or "dry-run")
    return f"drillkit-{cleaned}"[:64]


@contextmanager
def acting_for(role_arn: str | None, external_id: str | None, drill_id: str | None) -> Iterator[None]:
    """Calls to the stack under test go through the environment's role (when it has one) for a step's duration."""
    global _acting
    previous = _acting
    _acting = TargetRole(role_arn, external_id, session_name_for(drill_id)) if role_arn else None
    try:
        yield
    finally:
        _acting = previous


def target_client(service: str, region: str | None = None, read_timeout: float | None = None) -> Any:
    """A client for the stack under test: the function's own credentials, or the environment's role when it has one."""
    if _acting is None:
        return client(service, region, read_timeout)
    return _role_client(_acting, service, region, read_timeout)


@cache
def _role_session(role: TargetRole) -> boto3.session.Session:
    """A session on the role's credentials, assumed on first use and refreshed by botocore before they expire."""
    source = _botocore_session()
    extra = {"RoleSessionName": role.session_name, **({"ExternalId": role.external_id} if role.external_id else {})}
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=source.create_client,
        source_credentials=source.get_credentials(),
        role_arn=role.role_arn,
        extra_args=extra,
    )
    assumed = _botocore_session()
    # botocore has no public setter for refreshable credentials on a session: this is how its own
    # assume-role provider installs them.
    assumed._credentials = DeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials, method="assume-role")
    return boto3.session.Session(botocore_session=assumed)


@cache
def _role_client(role: TargetRole, service: str, region: str | None, read_timeout: float | None) -> Any:
    with _making_clients:
        return _make_client(_role_session(role), service, region, read_timeout)


def check_target_role() -> str | None:
    """Assume the environment's role now, so that a role drillkit may not use is refused by name before anything else."""
    if _acting is None:
        return None
    try:
        return str(target_client("sts").get_caller_identity()["Arn"])
    except (ClientError, BotoCoreError) as error:
        code = error_code(error) if isinstance(error, ClientError) else type(error).__name__
        raise TargetRoleRefused(f"target.role_arn: cannot assume {_acting.role_arn}: {code}: {error}") from None


@cache
def resource_table(name: str) -> Any:
    with _making_clients:
        return _own_session().resource("dynamodb", config=_CONFIG).Table(name)


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
