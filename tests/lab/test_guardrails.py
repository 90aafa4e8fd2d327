"""Guardrails in the lab: each shows its refusal (or its plan) and that nothing changed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from drillkit.cli import app

from ..conftest import ROOT
from .conftest import RunningLab

pytestmark = pytest.mark.lab


def acls(lab: RunningLab) -> list:
    region = lab.region("primary")
    found = lab.client("ec2", region["region"]).describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [region["vpc_id"]]}])
    return sorted(
        (acl["NetworkAclId"], tuple(sorted(x["SubnetId"] for x in acl.get("Associations", [])))) for acl in found["NetworkAcls"]
    )


def test_a_dry_run_prints_what_would_change_and_how_it_is_restored_and_changes_nothing(lab):
    before = (acls(lab), len(lab.executions()), len(lab.ledger_items()))
    scenario = ROOT / "scenarios" / "block-primary-alb-network-acl.yaml"

    result = CliRunner().invoke(app, ["run", str(scenario), "--dry-run", "--lab-file", str(lab.work_dir / "lab.json")])

    assert result.exit_code == 0, result.output
    assert "nothing is changed" in result.output
    assert "would change: associate the subnets of ALB" in result.output
    assert "restore associates each subnet with its original ACL" in result.output
    assert "Plan: ready to drill." in result.output
    assert (acls(lab), len(lab.executions()), len(lab.ledger_items())) == before
