"""Where a drill ran: the account, the regions, the deployment (stack name) or the local lab.

Every report says so, so that a drill run in the local lab can never pass for evidence about a production
environment. The report's function knows its own stack from DRILLKIT_STACK_NAME (template.yaml sets it to
AWS::StackName); the lab's Lambda runtime sets DRILLKIT_LOCAL_LAB for every function it runs.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

LOCAL_LAB_VARIABLE = "DRILLKIT_LOCAL_LAB"
STACK_NAME_VARIABLE = "DRILLKIT_STACK_NAME"
LOCAL_LAB_WARNING = "local lab: a simulated stack on one machine, not evidence about any AWS environment"


class WhereItRan(BaseModel):
    """report.json's `deployment` (schema 1.3)."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["local-lab", "aws"]
    account: str | None
    regions: list[str]
    stack_name: str | None
    label: str


def where_it_ran(execution_id: str | None, regions_touched: list[str]) -> WhereItRan:
    """From the execution's ARN (account, drillkit's region), the regions the fault touched and the function's environment."""
    account, home = None, None
    if execution_id and execution_id.startswith("arn:"):
        parts = execution_id.split(":")
        if len(parts) > 4:
            home, account = parts[3] or None, parts[4] or None
    regions = [r for r in dict.fromkeys([home, *regions_touched]) if r]
    stack = os.environ.get(STACK_NAME_VARIABLE) or None
    lab = os.environ.get(LOCAL_LAB_VARIABLE, "").lower() in ("1", "true", "yes")
    where = ", ".join(regions) or "region unknown"
    if lab:
        label = f"{LOCAL_LAB_WARNING} (stack {stack or 'unknown'}, {where})"
    else:
        label = f"AWS account {account or 'unknown'}, {where}, drillkit stack {stack or 'unknown'}"
    return WhereItRan(kind="local-lab" if lab else "aws", account=account, regions=regions, stack_name=stack, label=label)


def scenario_regions(scenario: Any) -> list[str]:
    """The regions a scenario names: its alarms' and stop conditions', the heartbeat clusters', the stores', the fault's."""
    regions = [alarm.region for alarm in [*scenario.alarms, *scenario.stop_conditions] if alarm.region]
    heartbeat = scenario.data.heartbeat
    if heartbeat is not None:
        regions += [arn.split(":")[3] for arn in (heartbeat.primary_cluster_arn, heartbeat.standby_cluster_arn)]
    regions += [region for store in scenario.data.stores for region in (store.primary_region, store.standby_region)]
    fault_region = getattr(scenario.fault, "region", None)
    return [*regions, *([fault_region] if fault_region else [])]
