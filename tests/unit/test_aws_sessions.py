"""drillkit's AWS sessions share what never differs between them: botocore's parsed API models.

A cold Lambda function makes one session per client; each used to parse the service's API model, the endpoint
rules and the service list again (a preflight's 14 clients: about 4 s of its cold start).
"""

from __future__ import annotations

from collections import Counter

import botocore.loaders
import botocore.session
import pytest

from drillkit import aws, client


@pytest.fixture
def parsed(monkeypatch) -> Counter[str]:
    """How many times each botocore data file was read and parsed, from now on, by drillkit's sessions."""
    aws._data_loader.cache_clear()
    aws.client.cache_clear()
    counts: Counter[str] = Counter()
    load_file = botocore.loaders.JSONFileLoader.load_file

    def counting(self, file_path):
        counts[file_path.rsplit("/data/", 1)[-1]] += 1
        return load_file(self, file_path)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", counting)
    # As in a Lambda function: botocore's own loader per session (tests/conftest.py shares one for the whole process).
    monkeypatch.setattr(botocore.session, "create_loader", botocore.loaders.create_loader)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield counts
    aws.client.cache_clear()


def test_clients_of_one_service_in_two_regions_parse_its_api_model_once(parsed):
    east, west = aws.client("ec2", "us-east-1"), aws.client("ec2", "us-west-2")
    assert (east.meta.region_name, west.meta.region_name) == ("us-east-1", "us-west-2")
    ec2_model = [name for name in parsed if name.startswith("ec2/") and name.endswith("service-2")]
    assert ec2_model and all(parsed[name] == 1 for name in ec2_model), parsed
    assert parsed["endpoints"] <= 1


def test_each_session_keeps_its_own_settings_and_the_shared_loader_does_not_grow(parsed):
    first, second = aws.new_session(), aws.new_session()
    assert first is not second and first._session is not second._session  # credentials, region: each its own
    loader = first._session.get_component("data_loader")
    assert loader is second._session.get_component("data_loader")
    assert len(loader.search_paths) == len(set(loader.search_paths))  # each boto3 Session appends its data folder
    for _ in range(5):
        aws.new_session()
    assert len(loader.search_paths) == len(set(loader.search_paths))


def test_a_deployment_makes_each_client_once_and_deployments_share_the_parsed_models(parsed):
    # The CLI follows a drill by polling: a client (and a session) made on every poll parsed its model every time.
    lab = client.Deployment(
        "arn:aws:states:us-east-1:123456789012:stateMachine:d", "ledger", "evidence", "us-east-1", "http://127.0.0.1:1"
    )
    first = lab.client("stepfunctions")
    assert lab.client("stepfunctions") is first and lab.session() is lab.session()
    assert lab.dynamodb() is lab.dynamodb()
    assert first.meta.endpoint_url == "http://127.0.0.1:1" and first.meta.region_name == "us-east-1"
    assert lab.session().get_credentials().access_key == "testing"  # a lab's key, not the workstation's
    again = client.Deployment(lab.state_machine_arn, "ledger", "evidence", "us-east-1", "http://127.0.0.1:1")
    assert again.client("stepfunctions") is not first
    model = [name for name in parsed if name.startswith("stepfunctions/") and name.endswith("service-2")]
    assert model and all(parsed[name] == 1 for name in model), parsed
