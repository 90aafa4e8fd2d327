"""An in-process moto account with a failover record pair, a ledger table and a bucket."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto import mock_aws

from drillkit import aws, config
from drillkit.allow import tag_list
from drillkit.ledger import Ledger
from drillkit.record import DrillRecord
from drillkit_lab import template as cfn

from ..conftest import ROOT

TABLE = "drillkit-ledger-test"
BUCKET = "drillkit-evidence-test"
ZONE = "example.test."
RECORD = "app.example.test."
# The SECONDARY record points at a real local HTTP server: preflight's readiness asks the standby itself.
STANDBY_ADDRESS = "127.0.0.1"


@dataclass
class Account:
    zone_id: str
    primary_check_id: str
    route53: object
    table: object
    standby: StandbyServer


class StandbyServer(ThreadingHTTPServer):
    """The standby region's endpoint: answers every GET with ``status`` (200 unless a test breaks it)."""

    status = 200

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _StandbyHandler(BaseHTTPRequestHandler):
    server: StandbyServer

    def do_GET(self) -> None:  # noqa: N802 the stdlib's name
        body = b'{"region": "us-west-2"}'
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def standby_server() -> Iterator[StandbyServer]:
    server = StandbyServer((STANDBY_ADDRESS, 0), _StandbyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _clear_caches() -> None:
    aws.forget_clients()
    config.ledger_config.cache_clear()
    config.evidence_config.cache_clear()
    config.observe_config.cache_clear()
    config.approval_config.cache_clear()
    config.notify_config.cache_clear()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LEDGER_TABLE": TABLE,
        "EVIDENCE_BUCKET": BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    _clear_caches()
    with mock_aws():
        yield
    _clear_caches()


def _failover_record(set_id: str, role: str, ip: str, health_check_id: str | None) -> dict:
    record = {
        "Name": RECORD,
        "Type": "A",
        "SetIdentifier": set_id,
        "Failover": role,
        "TTL": 60,
        "ResourceRecords": [{"Value": ip}],
    }
    if health_check_id:
        record["HealthCheckId"] = health_check_id
    return record


@pytest.fixture
def account(aws_env: None, standby_server: StandbyServer) -> Account:
    """A zone with PRIMARY (health-checked) and SECONDARY records, plus ledger and bucket."""
    route53 = boto3.client("route53")
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference="drillkit-test")["HostedZone"]["Id"].split("/")[-1]
    check_id = route53.create_health_check(
        CallerReference="primary-check",
        HealthCheckConfig={
            "IPAddress": "192.0.2.10",
            "Port": 80,
            "Type": "HTTP",
            "ResourcePath": "/health",
            "RequestInterval": 10,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]
    route53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check_id, AddTags=tag_list())
    changes = [
        {"Action": "CREATE", "ResourceRecordSet": _failover_record("primary", "PRIMARY", "192.0.2.10", check_id)},
        {"Action": "CREATE", "ResourceRecordSet": _failover_record("standby", "SECONDARY", STANDBY_ADDRESS, None)},
    ]
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    dynamodb = boto3.client("dynamodb")
    ledger = cfn.load(ROOT / "template.yaml")["Resources"]["LedgerTable"]["Properties"]  # the deployed table's keys
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=ledger["AttributeDefinitions"],
        KeySchema=ledger["KeySchema"],
        GlobalSecondaryIndexes=ledger["GlobalSecondaryIndexes"],
    )
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return Account(
        zone_id=zone_id,
        primary_check_id=check_id,
        route53=route53,
        table=boto3.resource("dynamodb").Table(TABLE),
        standby=standby_server,
    )


@pytest.fixture
def request_for(scenario_dict: dict, standby_server: StandbyServer):
    """A drill request for the test account's record, built from the shipped demo scenario."""

    def build(**scenario_changes) -> dict:
        scenario = copy.deepcopy(scenario_dict)
        scenario["target"].update(hosted_zone=ZONE, record_name=RECORD)
        for dotted, value in scenario_changes.items():
            node = scenario
            *parents, leaf = dotted.split("__")
            for parent in parents:
                node = node[parent]
            node[leaf] = value
        port = int(scenario["target"].get("url_port") or 80)
        return {"requested_by": "pytest", "scenario": scenario, "network": {"ports": {port: standby_server.port}}}

    return build


def recorded(ref: dict) -> DrillRecord:
    """The drill record behind what preflight returned ($.drill: the drill's id and what the Choice states read)."""
    return Ledger(TABLE).require(ref["drill_id"])
