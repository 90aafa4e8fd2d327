"""The logger and metrics every handler shares: JSON lines, the drill id as correlation id, namespace drillkit."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="drillkit")
metrics = Metrics(namespace="drillkit", service="drillkit")
