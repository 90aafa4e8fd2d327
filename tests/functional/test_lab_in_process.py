"""The lab's own clients reach the local cloud in-process: the same requests and answers as through its socket.

Given the local cloud's WSGI app (moto's server, behind a layer that records what reaches it, as the lab's
extensions do) and the lab's in-process session, when the lab provisions through it, then every request reaches
the app with what the HTTP server would have handed on (host, signature, user agent, body), answers parse as
AWS's (bodies read whole or streamed, errors raised by code), and no socket is opened (functional tests have none).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from drillkit_lab import moto_backends
from drillkit_lab.in_process import InProcessSession

ENDPOINT = "http://127.0.0.1:4566"


class Recorder:
    """What the lab's extensions see of each request, then moto's answer unchanged."""

    def __init__(self, app: Any):
        self.app = app
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.seen.append({**{k: v for k, v in environ.items() if isinstance(v, str)}, "body": body})
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


@pytest.fixture
def cloud() -> Iterator[tuple[InProcessSession, Recorder]]:
    with mock_aws():  # a fresh account for the test; the in-process clients are created outside its interception
        pass
    recorder = Recorder(moto_backends.app())
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    yield InProcessSession(session, ENDPOINT, recorder), recorder
    with mock_aws():  # and none of its resources left for the next one
        pass


def test_requests_reach_the_app_as_through_the_socket(cloud: tuple[InProcessSession, Recorder]):
    session, recorder = cloud
    # When the lab creates a bucket in another region and puts an object in it
    s3 = session.client("s3", region_name="us-west-2")
    s3.create_bucket(Bucket="lab-in-process", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_object(Bucket="lab-in-process", Key="records/a b.json", Body=b'{"patient": 1}')
    # Then the app saw each request as the HTTP server hands it on: host, path decoded, signature, agent, body
    put = recorder.seen[-1]
    assert put["REQUEST_METHOD"] == "PUT"
    assert put["HTTP_HOST"] == "127.0.0.1:4566"
    assert put["PATH_INFO"] == "/lab-in-process/records/a b.json"
    assert put["RAW_URI"] == "/lab-in-process/records/a%20b.json"
    assert "/us-west-2/s3/aws4_request" in put["HTTP_AUTHORIZATION"]
    assert put["HTTP_USER_AGENT"].startswith("Boto3/")
    assert put["body"] == b'{"patient": 1}'
    # And the answers parse as AWS's: a streamed body, a listing
    assert s3.get_object(Bucket="lab-in-process", Key="records/a b.json")["Body"].read() == b'{"patient": 1}'
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="lab-in-process")["Contents"]] == ["records/a b.json"]


def test_errors_are_raised_by_their_aws_code(cloud: tuple[InProcessSession, Recorder]):
    session, _ = cloud
    # When the lab asks for what does not exist, in three wire protocols (REST-XML, JSON, Query)
    with pytest.raises(ClientError) as s3_error:
        session.client("s3").head_bucket(Bucket="no-such-bucket")
    with pytest.raises(ClientError) as dynamodb_error:
        session.client("dynamodb").describe_table(TableName="no-such-table")
    iam = session.client("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="no-such-role")
    # Then each is raised by its code, with its HTTP status, as from AWS
    assert s3_error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert dynamodb_error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_one_client_per_service_region_and_configuration(cloud: tuple[InProcessSession, Recorder]):
    session, _ = cloud
    # When the lab asks for clients again
    first = session.client("ec2", region_name="us-west-2")
    # Then it gets the same one for the same service and region, another for another region
    assert session.client("ec2", region_name="us-west-2") is first
    assert session.client("ec2", region_name="us-east-1") is not first
    vpc = first.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    assert [v["VpcId"] for v in session.client("ec2", region_name="us-west-2").describe_vpcs(VpcIds=[vpc])["Vpcs"]] == [vpc]


def test_an_app_that_fails_answers_500_as_the_server_does():
    # Given a local cloud whose app fails on a request
    def failing(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise RuntimeError("the app broke")

    session = InProcessSession(boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t"), ENDPOINT, failing)
    client = session.client("sqs", region_name="us-east-1", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    # When the lab calls it, then the call fails with the HTTP server's 500, not with the app's exception
    with pytest.raises(ClientError) as error:
        client.list_queues()
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
