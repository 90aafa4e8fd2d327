"""Backups copied where they should be: the primary region's AWS Backup plans copy to a vault in the standby region.

A backup kept only in the region it protects is lost with that region. AWS Backup copies a recovery point
to another region through a backup rule's copy action (``CopyActions[].DestinationBackupVaultArn``); the
destination vault must exist for the copy job to succeed. The check reads the primary region's plans and
rules and the standby region's vaults. It judges the region's plans, not which resources each plan selects
(backup selections are not read); a region without any backup plan is not judged here (AWS Backup is one
way among others to keep backups).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drillkit.findings import Finding, rule
from drillkit.readiness.survey import Check, Survey

BACKUP_NOT_COPIED_TO_STANDBY = rule(
    "BACKUP_NOT_COPIED_TO_STANDBY",
    "data",
    "high",
    False,
    "No AWS Backup rule in the primary region copies its recovery points to an existing vault in the standby region",
    "Add a copy action to the backup rule (CopyActions: DestinationBackupVaultArn = a vault in the standby region, "
    "created beforehand); backups kept only in the primary region are lost with it.",
)


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def _regions(survey: Survey) -> tuple[str, str] | None:
    primary, standby = survey.balancer("primary"), survey.balancer("standby")
    heartbeat = survey.scenario.data.heartbeat
    if heartbeat is not None:
        return _region_of(heartbeat.primary_cluster_arn), _region_of(heartbeat.standby_cluster_arn)
    if primary is not None and standby is not None:
        return primary.region, standby.region
    return None


def _copies(plan: dict[str, Any]) -> list[str]:
    return [
        str(copy.get("DestinationBackupVaultArn", ""))
        for rule_ in plan.get("Rules", [])
        for copy in rule_.get("CopyActions", []) or []
    ]


def _copied_to_standby(survey: Survey) -> Iterator[Finding]:
    regions = _regions(survey)
    if regions is None or regions[0] == regions[1]:
        return
    primary, standby = regions
    plans = survey.backup_plans(primary)
    if not plans:
        return
    destinations = [d for plan in plans for d in _copies(plan)]
    to_standby = [d for d in destinations if _region_of(d) == standby]
    vaults = {str(v.get("BackupVaultArn")) for v in survey.backup_vaults(standby)} if to_standby else set()
    if any(d in vaults for d in to_standby):
        return
    names = ", ".join(str(p.get("BackupPlanName")) for p in plans)
    if to_standby:
        said = f"they copy to {', '.join(to_standby)}, which is not a vault of {standby} (backup:ListBackupVaults)"
    elif destinations:
        said = f"their copy actions go to {', '.join(sorted(set(destinations)))}, none in {standby}"
    else:
        said = "no rule has a copy action"
    yield BACKUP_NOT_COPIED_TO_STANDBY.finding(
        f"of the {len(plans)} AWS Backup plan(s) in the primary region {primary} ({names}), none copies recovery points "
        f"to the standby region {standby}: {said}; the backups are lost with the primary region",
        "backup:GetBackupPlan",
        ", ".join(str(p.get("BackupPlanArn")) for p in plans),
        said,
    )


CHECKS = [Check("backups-copied", _copied_to_standby)]
