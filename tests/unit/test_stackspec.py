"""Lab stack specs: shipped stacks are valid; bad ones are refused naming the field."""

from __future__ import annotations

import pytest
import yaml

from drillkit_lab.stack import target_addresses
from drillkit_lab.stackspec import DEFAULT_STACK, STACKS_DIR, StackInvalid, load_stack, parse_stack


@pytest.mark.parametrize("path", sorted(STACKS_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_stack_is_valid(path):
    stack = load_stack(path)
    assert stack.primary.address != stack.standby.address


def base() -> dict:
    return yaml.safe_load(DEFAULT_STACK.read_text())


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda s: s["primary"]["alb"]["listener"].update(port=0), "primary.alb.listener.port", "greater than or equal to 1"),
        (lambda s: s["route53"].update(recrod="alias"), "route53.recrod", "unknown field"),
        (
            lambda s: s["route53"]["primary_health_check"].update(protocol="HTTP_STR_MATCH"),
            "route53.primary_health_check",
            "search_string",
        ),
        (lambda s: s["standby"].update(address="10.0.0.1"), "standby.address", "pattern"),
        (lambda s: s["route53"].update(public_name="app.elsewhere."), "route53", "not inside zone"),
        (lambda s: s["standby"].update(address=s["primary"]["address"]), "(stack)", "must differ"),
        (lambda s: s["alarms"][0].update(region="standby"), "(stack)", "which the stack does not have"),
        (lambda s: s["alarms"][1].update(comparison="Bigger"), "alarms.1.comparison", "Input should be"),
        (lambda s: s["primary"]["app"].update(health="deep") or s.pop("database"), "(stack)", "no database"),
        (lambda s: s["buckets"][0].update(name="Records_Bucket"), "buckets.0.name", "pattern"),
        (lambda s: s["buckets"][0].update(replication_lag_seconds=-1), "buckets.0.replication_lag_seconds", "greater than"),
        (lambda s: s["buckets"][0].update(rule_enabled="sometimes"), "buckets.0.rule_enabled", "boolean"),
        (lambda s: s["buckets"].append({"name": "other", "destination": s["buckets"][0]["name"]}), "(stack)", "unique"),
        (lambda s: s.update(tables=[{"name": "payments", "replicaa": True}]), "tables.0.replicaa", "unknown field"),
        (lambda s: s.update(tables=[{"name": "carts"}, {"name": "carts"}]), "(stack)", "table names must be unique"),
        (
            lambda s: s["standby"]["alb"]["listener"].update(certificate="pending"),
            "standby.alb.listener",
            "apply to an HTTPS listener only",
        ),
        (
            lambda s: s["standby"]["alb"]["listener"].update(protocol="HTTPS", certificate="expired"),
            "standby.alb.listener.certificate",
            "'issued' or 'pending'",
        ),
        (lambda s: s["standby"]["app"].update(vpc_egress="none"), "standby.app", "app.kind lambda only"),
        (lambda s: s.update(peering={"accepted": "maybe"}), "peering.accepted", "valid boolean"),
        (lambda s: s["standby"]["app"].update(peer_dependency=True), "(stack)", "standby.app.peer_dependency needs peering"),
        (
            lambda s: s.update(peering={}) or s["standby"].update(app={"kind": "lambda", "peer_dependency": True}),
            "(stack)",
            "standby.app.peer_dependency with app.kind lambda needs app.vpc_egress",
        ),
        (
            lambda s: s.update(peering={}) or s["primary"].update(front="apigw", app={"kind": "lambda", "peer_dependency": True}),
            "(stack)",
            "primary.app.peer_dependency needs front alb in both regions",
        ),
        (lambda s: s["standby"]["app"].update(peer_dependency="yes please"), "standby.app.peer_dependency", "valid boolean"),
        (lambda s: s.update(backup={"copy": True}), "backup.copy", "unknown field"),
    ],
)
def test_a_bad_field_is_named(change, field, words):
    spec = base()
    change(spec)
    with pytest.raises(StackInvalid) as raised:
        parse_stack(spec, "test.yaml")
    fields = dict(raised.value.problems)
    assert field in fields, raised.value.problems
    assert words in fields[field]
    assert "lab stack test.yaml is invalid" in str(raised.value)


def test_an_unreadable_file_is_named(tmp_path):
    with pytest.raises(StackInvalid, match="missing.yaml"):
        load_stack(tmp_path / "missing.yaml")


def test_targets_sit_next_to_their_load_balancer():
    stack = load_stack(DEFAULT_STACK)
    assert target_addresses(stack.primary) == ["127.10.1.1", "127.10.1.2"]


def test_a_bucket_replicates_to_its_replica_unless_a_destination_is_named():
    stack = parse_stack({**base(), "buckets": [{"name": "records"}, {"name": "logs", "destination": "logs-dr"}]})
    assert [b.destination_bucket for b in stack.buckets] == ["records-replica", "logs-dr"]
