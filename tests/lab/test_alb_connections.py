"""The primary ALB as AWS runs it: deregistered targets drain, and security groups spare tracked connections.

Both run on the session's lab (default stack): the deregistration delay is an attribute of the target
group that the lab reads live, so a test sets it through the API and puts it back.
"""

from __future__ import annotations

import time

import pytest
import yaml

from ..conftest import ROOT
from ..reports import assert_valid_report
from .conftest import RunningLab, run_drill, wait_for

pytestmark = pytest.mark.lab

DELAY = "deregistration_delay.timeout_seconds"


def _set_delay(lab: RunningLab, seconds: int) -> None:
    primary = lab.region("primary")
    lab.client("elbv2", primary["region"]).modify_target_group_attributes(
        TargetGroupArn=primary["target_group_arn"], Attributes=[{"Key": DELAY, "Value": str(seconds)}]
    )


def _target_states(lab: RunningLab) -> dict[str, tuple[str, str | None]]:
    primary = lab.region("primary")
    described = lab.client("elbv2", primary["region"]).describe_target_health(TargetGroupArn=primary["target_group_arn"])
    return {
        f"{d['Target']['Id']}:{d['Target'].get('Port')}": (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
        for d in described["TargetHealthDescriptions"]
    }


def test_a_deregister_drill_whose_targets_still_drain_at_restore_registers_them_again(lab, tmp_path):
    # Given a deregistration delay far longer than the drill's observation and restore
    primary = lab.region("primary")
    elbv2 = lab.client("elbv2", primary["region"])
    before = _target_states(lab)
    assert {state for state, _ in before.values()} == {"healthy"}
    scenario = yaml.safe_load((ROOT / "scenarios" / "fail-targets-deregister.yaml").read_text())
    scenario.pop("data")
    scenario["objectives"].pop("rpo_seconds")
    scenario["sampling"].update(observe_timeout_seconds=40, restore_timeout_seconds=20)
    _set_delay(lab, 600)
    started = time.time()
    try:
        # When a deregister drill runs
        report = run_drill(lab, scenario, tmp_path / "reports")

        # Then the deregistered targets drained (listed as AWS lists them) until restore registered them again
        drains = lab.events_since(started, "target_draining", target_group=primary["target_group_arn"])
        begun = [e for e in drains if e["draining"]]
        ended = [e for e in drains if not e["draining"]]
        assert sorted(f"{e['target']['Id']}:{e['target']['Port']}" for e in begun) == sorted(before)
        assert all(e["reason"] == "deregistered" and e["seconds"] == 600 for e in begun)
        assert sorted(e["reason"] for e in ended) == ["registered again"] * len(before)
        # and the drill restored the primary: every target registered and healthy, the restore verified
        assert_valid_report(report)
        assert report["restore_verified"] is True, report["restore"]["verification"]
        assert set(_target_states(lab)) == set(before)
        wait_for(lambda: {s for s, _ in _target_states(lab).values()} == {"healthy"}, 10, "targets healthy again")
    finally:
        _set_delay(lab, 3)
        described = elbv2.describe_target_health(TargetGroupArn=primary["target_group_arn"])["TargetHealthDescriptions"]
        out = [d["Target"] for d in described if d["TargetHealth"]["State"] == "draining"]
        if out:  # leave the session's lab as it was, whatever the drill did
            elbv2.register_targets(TargetGroupArn=primary["target_group_arn"], Targets=out)


def test_deregistered_targets_drain_for_the_delay_get_no_requests_and_registering_one_ends_its_drain(lab):
    primary = lab.region("primary")
    elbv2 = lab.client("elbv2", primary["region"])
    group = primary["target_group_arn"]
    described = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    targets = [{"Id": d["Target"]["Id"], "Port": d["Target"]["Port"]} for d in described]
    keys = [f"{t['Id']}:{t['Port']}" for t in targets]
    assert len(targets) == 2
    _set_delay(lab, 2)
    try:
        # When every target is deregistered
        started = time.time()
        elbv2.deregister_targets(TargetGroupArn=group, Targets=targets)
        # Then DescribeTargetHealth lists them as draining, with AWS's reason, and no new request reaches them
        assert _target_states(lab) == {key: ("draining", "Target.DeregistrationInProgress") for key in keys}
        assert lab.get(primary["address"])[0] == 503
        elbv2.deregister_targets(TargetGroupArn=group, Targets=targets[:1])  # accepted again while it drains

        # When one is registered again while it drains, then its drain ends and it starts over in `initial`
        elbv2.register_targets(TargetGroupArn=group, Targets=targets[1:])
        assert _target_states(lab)[keys[1]] == ("initial", "Elb.InitialHealthChecking")
        assert lab.get(primary["address"])[0] == 200
        # and the other one leaves DescribeTargetHealth once the delay has passed
        gone = wait_for(lambda: keys[0] not in _target_states(lab), 5, "the drain over")
        assert 2 <= gone - started <= 3
        ends = lab.events_since(started, "target_draining", target_group=group, draining=False)
        assert sorted((f"{e['target']['Id']}:{e['target']['Port']}", e["reason"]) for e in ends) == sorted(
            [(keys[0], "delay elapsed"), (keys[1], "registered again")]
        )
        wait_for(lambda: _target_states(lab)[keys[1]][0] == "healthy", 10, "the registered target healthy")
    finally:
        _set_delay(lab, 3)
        elbv2.register_targets(TargetGroupArn=group, Targets=targets)
    wait_for(lambda: {s for s, _ in _target_states(lab).values()} == {"healthy"}, 10, "every target healthy")
