"""Every SNS message drillkit sends, read back from a queue subscribed to the topic."""

from __future__ import annotations

import json

import boto3
import pytest

from drillkit import notify

from ..reports import T0, drill_context


@pytest.fixture
def topic_and_queue(aws_env):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="drillkit-notify")["TopicArn"]
    queue = sqs.create_queue(QueueName="drillkit-notify")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def received() -> dict:
        return json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])

    return topic, received


def test_an_approval_request_names_the_drill_its_plan_and_the_commands_that_answer(topic_and_queue, scenario_dict):
    topic, received = topic_and_queue
    context = drill_context(scenario_dict, drill_id="region-failover-0001")

    notify.approval_needed(topic, context, {"change": "invert hc-1"}, expires_at=T0 + 1800)

    body = received()
    assert body["Subject"] == "drillkit: approval needed for region-failover-health-check"
    message = body["Message"]
    assert "Drill region-failover-0001 (region-failover-health-check) on route53/Z123/app.drillkit.lab." in message
    assert "requested by alice" in message and '"change": "invert hc-1"' in message
    assert "drillkit approve region-failover-0001" in message and "drillkit reject region-failover-0001" in message
