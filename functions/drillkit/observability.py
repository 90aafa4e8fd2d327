"""The logger every handler shares: JSON lines, the drill id as correlation id."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="drillkit")
