"""A game-day report is sealed and chained like a drill's, travels in the evidence export with its drills, and verifies."""

from __future__ import annotations

import hashlib
import json

import boto3
import pytest
from cryptography.hazmat.primitives.serialization import load_der_public_key

from drillkit import clock
from drillkit.evidence import export, manifest, report, verify
from drillkit.gameday import publish, run
from drillkit.gameday.run import new_gameday_id

from ..reports import T0, UNDO, drill_context, finished_state, record_of, samples_after_injection
from .test_evidence_sealing import LOCKED_BUCKET, evidence  # noqa: F401 (the fixture)
from .test_gameday_report import validator

GAMEDAY_AT = T0 + 86_400.0  # 2026-11-18, a day after the drills of test_evidence_sealing
YEAR = export.Period.parse("2026-01-01", "2026-12-31")


@pytest.fixture
def gamedays(evidence, monkeypatch, scenario_dict):  # noqa: F811 (the fixture imported above)
    """Runs the game-day Report step (publish.report) over drills that were sealed in the same bucket."""
    store, key_arn = evidence
    sfn = boto3.client("stepfunctions")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    machine = sfn.create_state_machine(name="drill", definition=definition, roleArn="arn:aws:iam::123456789012:role/x")
    monkeypatch.setenv("DRILL_STATE_MACHINE_ARN", machine["stateMachineArn"])
    monkeypatch.setenv("EVIDENCE_BUCKET", LOCKED_BUCKET)
    monkeypatch.setenv("SIGNING_KEY_ARN", key_arn)
    monkeypatch.delenv("TOPIC_ARN", raising=False)
    monkeypatch.setattr(clock, "now", lambda: GAMEDAY_AT)
    run.gameday_config.cache_clear()

    def run_one(name: str, drills: int = 2) -> tuple[dict, dict]:
        """A game-day of `drills` drills, each run to its end and sealed, then the game-day's Report step."""
        plan = {"name": name, "failure_policy": "continue", "drills": [{"scenario": scenario_dict}] * drills}
        request = {"gameday_id": new_gameday_id(name), "requested_by": "pytest", "plan": plan}
        prepared = run.preflight(request)
        for n, item in enumerate(prepared["drills"]):
            sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=item["drill_id"], input="{}")
            context = drill_context(scenario_dict, drill_id=item["drill_id"])
            context = context.model_copy(update={"started_at": GAMEDAY_AT + n * 60})
            samples = samples_after_injection(2, 3, 4)
            document = report.build(record_of(context, finished_state(context)), samples, UNDO, ended_at=GAMEDAY_AT + 60)
            report.publish(store, document, samples, manifest.Sealer(store, manifest.Signer(key_arn)))
        event = {"step": "report", "request": request, "gameday": prepared, "execution_id": f"arn:x:{name}"}
        return event, publish.report(event)

    yield store, run_one
    run.gameday_config.cache_clear()


def test_the_gameday_report_is_sealed_signed_and_chained_after_the_previous_gameday(gamedays):
    store, run_one = gamedays
    # Given a first game-day already sealed
    _, first = run_one("q3")
    # When a second game-day's Report step runs
    event, second = run_one("q4")

    # Then its manifest hashes gameday.json, gameday.html and junit.xml, and manifest.sig signs it with the KMS key
    keys = second["artifacts"]
    body = store.get(keys["manifest.json"])
    sealed = json.loads(body)
    assert sealed["format"] == manifest.GAMEDAY_MANIFEST_FORMAT and sealed["gameday_id"] == second["gameday_id"]
    assert [a["name"] for a in sealed["artifacts"]] == ["gameday.json", "gameday.html", "junit.xml"]
    for artifact in sealed["artifacts"]:
        assert hashlib.sha256(store.get(keys[artifact["name"]])).hexdigest() == artifact["sha256"], artifact["name"]
    public = load_der_public_key(boto3.client("kms").get_public_key(KeyId=sealed["signing"]["key_arn"])["PublicKey"])
    assert verify.verify_signature(public, "ECDSA_SHA_256", store.get(keys["manifest.sig"]), body)
    # And it links to the first game-day's manifest in the game-days' own chain; the drills' chain is left to drills
    first_manifest = store.get(first["artifacts"]["manifest.json"])
    assert sealed["chain"]["sequence"] == 2
    assert sealed["chain"]["previous"] == {
        "gameday_id": first["gameday_id"],
        "manifest_key": f"gamedays/{first['gameday_id']}/manifest.json",
        "manifest_sha256": hashlib.sha256(first_manifest).hexdigest(),
    }
    head = json.loads(store.get(manifest.GAMEDAY_HEAD_KEY))
    assert (head["sequence"], head["gameday_id"]) == (2, second["gameday_id"])
    assert json.loads(store.get(manifest.HEAD_KEY))["sequence"] == 4  # the four drills
    # And gameday.json says how it is sealed, and is valid against its published schema
    document = json.loads(store.get(keys["gameday.json"]))
    assert document["integrity"]["chain"]["previous_gameday_id"] == first["gameday_id"]
    assert document["integrity"]["retention"]["mode"] == "GOVERNANCE"
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(document)]
    assert not errors, errors


def test_a_retried_gameday_report_step_does_not_seal_it_twice(gamedays):
    store, run_one = gamedays
    event, first = run_one("q4")
    # When the Report step runs again (a Lambda retry)
    again = publish.report(event)
    # Then the keys of the first sealing come back and the chain did not move
    assert again["artifacts"] == first["artifacts"]
    assert json.loads(store.get(manifest.GAMEDAY_HEAD_KEY))["sequence"] == 1


def test_the_export_lists_the_gameday_with_its_drills_and_verifies(gamedays, tmp_path):
    store, run_one = gamedays
    _, done = run_one("q4", drills=3)
    out = tmp_path / "evidence.tar.gz"

    result = export.export(boto3.client("s3"), boto3.client("kms"), LOCKED_BUCKET, YEAR, "nist", out)

    assert (result.drills, result.gamedays) == (3, 1)
    checked = verify.verify(out)
    assert checked.ok, checked.problems
    assert (checked.drills, checked.gamedays, checked.signatures) == (3, 1, 4)
    extracted = verify.extract(out, tmp_path / "x")
    folder = extracted / "gamedays" / done["gameday_id"]
    sealed = ["gameday.html", "gameday.json", "junit.xml", "manifest.json", "manifest.sig"]
    assert sorted(p.name for p in folder.iterdir()) == sealed
    summary = json.loads((extracted / "summary.json").read_text())
    [listed] = summary["gamedays"]
    assert listed["gameday_id"] == done["gameday_id"] and listed["verdict"] == done["verdict"]
    assert [(d["drill_id"], d["in_export"]) for d in listed["drills"]] == [(d["drill_id"], True) for d in done["drills"]]
    assert f"`{done['gameday_id']}`" in (extracted / "summary.md").read_text()


def test_a_gameday_sealed_in_the_period_brings_its_drills_even_sealed_after_the_period(gamedays, tmp_path):
    store, run_one = gamedays
    _, done = run_one("q4")
    # A period that ends when the game-day started: its drills started a minute later
    period = export.Period.parse("2026-01-01", clock.iso(GAMEDAY_AT + 1) or "")
    out = tmp_path / "evidence.zip"

    result = export.export(boto3.client("s3"), boto3.client("kms"), LOCKED_BUCKET, period, None, out)

    assert (result.drills, result.gamedays) == (2, 1)
    assert verify.verify(out).ok


def test_verify_names_a_changed_gameday_report_and_a_removed_one(gamedays, tmp_path):
    store, run_one = gamedays
    _, first = run_one("q3")
    _, second = run_one("q4")
    out = tmp_path / "evidence.tar.gz"
    export.export(boto3.client("s3"), boto3.client("kms"), LOCKED_BUCKET, YEAR, "nist", out)
    extracted = verify.extract(out, tmp_path / "x")

    # When one byte of the second game-day's gameday.json changes, verify names that file first
    target = extracted / "gamedays" / second["gameday_id"] / "gameday.json"
    original = target.read_bytes()
    target.write_bytes(original.replace(b'"verdict": "PASS"', b'"verdict": "PAS5"', 1))
    assert target.read_bytes() != original
    changed = f"gamedays/{second['gameday_id']}/gameday.json"
    assert str(verify.verify(extracted).first) == f"{changed}: SHA-256 does not match manifest.json"
    target.write_bytes(original)
    assert verify.verify(extracted).ok

    # When the first game-day's manifest is removed, verify names it as removed from the chain
    (extracted / "gamedays" / first["gameday_id"] / "manifest.json").unlink()
    problems = [str(p) for p in verify.verify(extracted).problems]
    removed = f"gamedays/{first['gameday_id']}/manifest.json"
    assert problems[0] == f"{removed}: missing: game-day {first['gameday_id']} (chain position 1) was removed"


def test_changing_one_byte_of_any_file_of_an_export_with_gamedays_fails_verify_naming_that_file(gamedays, tmp_path):
    store, run_one = gamedays
    run_one("q3")
    run_one("q4")
    out = tmp_path / "evidence.tar.gz"
    export.export(boto3.client("s3"), boto3.client("kms"), LOCKED_BUCKET, YEAR, None, out)
    root = verify.extract(out, tmp_path / "x")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert sum(f.startswith("gamedays/") for f in files) == 2 * 5

    for relative in files:
        path = root / relative
        original = path.read_bytes()
        changed = bytearray(original or b"\n")
        changed[len(changed) // 2] ^= 0x01
        path.write_bytes(bytes(changed))
        try:
            first = verify.verify_directory(root).first
        finally:
            path.write_bytes(original)
        assert first is not None and first.path == relative, f"changed {relative}, verify named {first}"
    assert verify.verify_directory(root).ok
