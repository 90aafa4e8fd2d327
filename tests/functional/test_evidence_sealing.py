"""Sealing and exporting evidence against moto: signatures verify offline, manifests chain, tampering is named."""

from __future__ import annotations

import hashlib
import json
import zipfile

import boto3
import pytest
from cryptography.hazmat.primitives.serialization import load_der_public_key

from drillkit import config, drill, notify
from drillkit.errors import ChainMoved, ExportFailed
from drillkit.evidence import export, manifest, report, verify
from drillkit.evidence.store import EvidenceStore
from drillkit.ledger import Ledger

from ..reports import T0, UNDO, assert_valid_report, drill_context, finished_state, record_of, samples_after_injection
from .conftest import BUCKET, TABLE

LOCKED_BUCKET = "drillkit-evidence-locked"


@pytest.fixture
def evidence(aws_env):
    """An Object Lock bucket (GOVERNANCE, 6 years) and an ECC_NIST_P256 signing key, as template.yaml declares them."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=LOCKED_BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=LOCKED_BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2190}},
        },
    )
    key = boto3.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    return EvidenceStore(LOCKED_BUCKET), key["Arn"]


def seal_drill(store, key_arn, scenario_dict, n: int, recovery: float = 4) -> dict[str, str]:
    context = drill_context(scenario_dict, drill_id=f"region-failover-drill-{n:04d}")
    context = context.model_copy(update={"started_at": T0 + n * 3600})
    samples = samples_after_injection(2, 3, recovery)
    document = report.build(
        record_of(context, finished_state(context)),
        samples,
        UNDO,
        ended_at=T0 + 60,
        previous=store.latest_of_scenario(context.scenario.name),
    )
    keys = report.publish(store, document, samples, manifest.Sealer(store, manifest.Signer(key_arn)))
    store.set_latest_of_scenario(context.scenario.name, {"drill_id": context.drill_id, "verdict": document["verdict"]})
    return keys


def test_a_sealed_drill_has_a_manifest_of_every_artifact_signed_by_the_kms_key(evidence, scenario_dict):
    store, key_arn = evidence
    keys = seal_drill(store, key_arn, scenario_dict, 1)

    body = store.get(keys["manifest.json"])
    sealed = json.loads(body)
    assert [a["name"] for a in sealed["artifacts"]] == list(report.ARTIFACTS)
    for artifact in sealed["artifacts"]:
        assert hashlib.sha256(store.get(keys[artifact["name"]])).hexdigest() == artifact["sha256"], artifact["name"]
    assert sealed["signing"]["algorithm"] == "ECDSA_SHA_256" and sealed["signing"]["key_arn"] == key_arn
    assert sealed["signed_at"].endswith("Z")
    public = boto3.client("kms").get_public_key(KeyId=key_arn)["PublicKey"]
    assert verify.verify_signature(load_der_public_key(public), "ECDSA_SHA_256", store.get(keys["manifest.sig"]), body)
    assert not verify.verify_signature(load_der_public_key(public), "ECDSA_SHA_256", store.get(keys["manifest.sig"]), body + b" ")

    document = json.loads(store.get(keys["report.json"]))
    assert_valid_report(document)
    assert document["integrity"]["retention"]["mode"] == "GOVERNANCE"
    assert document["integrity"]["retention"]["days"] == 2190
    assert document["integrity"]["chain"] == {
        "head": "chain/head.json",
        "sequence": 1,
        "previous_drill_id": None,
        "previous_manifest_sha256": None,
    }
    head = boto3.client("s3").head_object(Bucket=LOCKED_BUCKET, Key=keys["report.json"])
    assert head["ObjectLockMode"] == "GOVERNANCE"


def test_each_manifest_links_to_the_previous_one_and_each_report_names_the_previous_drill(evidence, scenario_dict):
    store, key_arn = evidence
    sealed = [seal_drill(store, key_arn, scenario_dict, n) for n in (1, 2, 3)]

    manifests = [store.get(keys["manifest.json"]) for keys in sealed]
    for earlier, later in zip(manifests, manifests[1:], strict=False):
        link = json.loads(later)["chain"]["previous"]
        assert link["manifest_sha256"] == hashlib.sha256(earlier).hexdigest()
    head = json.loads(store.get(manifest.HEAD_KEY))
    assert head["sequence"] == 3 and head["manifest_sha256"] == hashlib.sha256(manifests[-1]).hexdigest()
    third = json.loads(store.get(sealed[2]["report.json"]))
    assert third["identity"]["previous_drill"]["drill_id"] == "region-failover-drill-0002"
    assert third["integrity"]["chain"]["previous_drill_id"] == "region-failover-drill-0002"


def test_a_report_sealed_while_another_advanced_the_chain_is_sealed_again_on_top_of_it(evidence, scenario_dict):
    store, key_arn = evidence
    seal_drill(store, key_arn, scenario_dict, 1)
    slow = manifest.Sealer(store, manifest.Signer(key_arn))
    context = drill_context(scenario_dict, drill_id="region-failover-drill-slow")
    document = report.build(record_of(context, finished_state(context)), [], UNDO, ended_at=T0 + 60)
    document["integrity"] = slow.integrity(report.ARTIFACTS)  # reads head at position 1
    seal_drill(store, key_arn, scenario_dict, 2)  # meanwhile another report takes position 2

    with pytest.raises(ChainMoved):
        slow.seal(document, report.render_artifacts(document, []))
    keys = report.publish(store, document, [], slow)

    assert json.loads(store.get(keys["manifest.json"]))["chain"]["sequence"] == 3
    assert json.loads(store.get(manifest.HEAD_KEY))["drill_id"] == "region-failover-drill-slow"


def test_without_a_signing_key_the_manifest_is_written_unsigned_and_says_so(evidence, scenario_dict):
    store, _ = evidence
    context = drill_context(scenario_dict)
    document = report.build(record_of(context, finished_state(context)), [], UNDO, ended_at=T0 + 60)
    keys = report.publish(store, document, [], manifest.Sealer(store, None))

    assert "manifest.sig" not in keys
    assert json.loads(store.get(keys["manifest.json"]))["signing"] is None
    assert json.loads(store.get(keys["report.json"]))["integrity"]["signature"] is None


def test_an_export_verifies_offline_and_names_a_changed_file(evidence, scenario_dict, tmp_path):
    store, key_arn = evidence
    for n in (1, 2, 3):
        seal_drill(store, key_arn, scenario_dict, n)
    out = tmp_path / "evidence.tar.gz"
    period = export.Period.parse("2026-01-01", "2026-12-31")

    result = export.export(boto3.client("s3"), boto3.client("kms"), LOCKED_BUCKET, period, "nist", out)

    assert (result.drills, result.files) == (3, 3 * 7 + 4)
    assert verify.verify(out).ok, verify.verify(out).problems
    extracted = verify.extract(out, tmp_path / "x")
    summary = json.loads((extracted / "summary.json").read_text())
    assert {c["clause"] for c in summary["clauses"]} == {"CP-4", "CP-4(3)", "CP-4(4)", "SP 800-34 / 800-84"}
    assert next(c for c in summary["clauses"] if c["clause"] == "CP-4(4)")["status"] == "evidenced"
    target = extracted / "drills" / "region-failover-drill-0002" / "samples.jsonl"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    problem = verify.verify(extracted).first
    assert problem.path == "drills/region-failover-drill-0002/samples.jsonl"


def test_the_export_names_a_period_without_a_drill_as_missing_for_yearly_clauses(evidence, scenario_dict, tmp_path):
    store, key_arn = evidence
    seal_drill(store, key_arn, scenario_dict, 1)  # November 2026
    out = tmp_path / "e.zip"
    export.export(
        boto3.client("s3"), boto3.client("kms"), LOCKED_BUCKET, export.Period.parse("2027-01-01", "2027-12-31"), "pci-dss", out
    )

    with zipfile.ZipFile(out) as bundle:
        name = next(n for n in bundle.namelist() if n.endswith("summary.json"))
        summary = json.loads(bundle.read(name))
    yearly = next(c for c in summary["clauses"] if c["clause"] == "12.10.2")
    assert yearly["status"] == "missing"
    assert "no drill in the 12 months before 2027-12-31" in yearly["missing"]
    assert verify.verify(out).ok


def test_export_refuses_a_bad_period_or_framework_naming_the_option(tmp_path):
    with pytest.raises(ExportFailed, match="--from 'last year'"):
        export.Period.parse("last year", "2026-12-31")
    with pytest.raises(ExportFailed, match="--to 2025-01-01 is before --from"):
        export.Period.parse("2026-01-01", "2025-01-01")
    with pytest.raises(ExportFailed, match="--framework 'sox'"):
        export.export(None, None, "b", export.Period.parse("2026-01-01", "2026-12-31"), "sox", tmp_path / "x.tar.gz")


def test_a_retried_report_step_does_not_seal_the_drill_twice(evidence, scenario_dict):
    store, key_arn = evidence
    first = seal_drill(store, key_arn, scenario_dict, 1)
    manifest_before = store.get(first["manifest.json"])

    again = seal_drill(store, key_arn, scenario_dict, 1)  # same drill id: the Report step ran again

    assert again == first
    assert store.get(first["manifest.json"]) == manifest_before
    assert json.loads(store.get(manifest.HEAD_KEY))["sequence"] == 1


class CrashesBeforeTheHeadMoves(EvidenceStore):
    def put_if(self, key, body, etag):
        raise RuntimeError("function timed out")


def test_a_manifest_left_behind_before_the_head_moved_is_sealed_again_into_the_chain(evidence, scenario_dict):
    store, key_arn = evidence
    seal_drill(store, key_arn, scenario_dict, 1)
    context = drill_context(scenario_dict, drill_id="region-failover-drill-crash")
    document = report.build(record_of(context, finished_state(context)), [], UNDO, ended_at=T0 + 60)
    crashed = manifest.Sealer(CrashesBeforeTheHeadMoves(store.bucket), manifest.Signer(key_arn))
    document["integrity"] = crashed.integrity(report.ARTIFACTS)
    with pytest.raises(RuntimeError, match="function timed out"):
        crashed.seal(document, report.render_artifacts(document, []))

    keys = report.publish(store, document, [], manifest.Sealer(store, manifest.Signer(key_arn)))

    head = json.loads(store.get(manifest.HEAD_KEY))
    assert head["drill_id"] == "region-failover-drill-crash" and head["sequence"] == 2
    assert head["manifest_sha256"] == hashlib.sha256(store.get(keys["manifest.json"])).hexdigest()


def test_the_topic_gets_the_ticket_ready_summary_and_where_the_evidence_is(evidence, scenario_dict):
    store, key_arn = evidence
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="drillkit-results")["TopicArn"]
    queue = sqs.create_queue(QueueName="drillkit-results")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    context = drill_context(scenario_dict)
    document = report.build(
        record_of(context, finished_state(context)), samples_after_injection(2, 3, 35), UNDO, ended_at=T0 + 60
    )
    keys = report.publish(store, document, [], manifest.Sealer(store, manifest.Signer(key_arn)))

    notify.drill_reported(topic, document, keys)

    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert body["Subject"] == "drillkit FAIL: region-failover-health-check"
    assert body["Message"].startswith("## DR drill FAIL: region-failover-health-check v1")
    assert "| Recovery (achieved RTO) | 35.00 s |" in body["Message"]
    assert keys["manifest.sig"] in body["Message"]
    assert body["MessageAttributes"]["verdict"]["Value"] == "FAIL"


def report_step_state(ref: dict) -> dict:
    """Each step of a complete drill saves its piece to the record; the machine hands the Report step its $."""
    ledger = Ledger(TABLE)
    context = ledger.require(ref["drill_id"]).context
    finished = record_of(context, finished_state(context))
    for step in ("steady_state", "injection", "observation", "restore", "verification"):
        ledger.save_step(context.drill_id, step, getattr(finished, step))
    return {"drill": ref}


def test_the_report_step_seals_signs_chains_and_names_the_previous_drill(account, request_for, monkeypatch):
    key_arn = boto3.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    monkeypatch.setenv("SIGNING_KEY_ARN", key_arn)
    config.evidence_config.cache_clear()
    store = EvidenceStore(BUCKET)
    outcomes = []
    for n in (1, 2):
        context = drill.preflight(request_for(), execution_id=None, execution_name=f"drill-report-{n:04d}")
        store.put_samples(context["drill_id"], "1-observe-0001", samples_after_injection(2, 3, 4))
        outcomes.append(drill.report(report_step_state(context)))
    retried = drill.report(report_step_state(context))  # the Report step of drill 2 runs again

    first, second = outcomes
    assert (first["verdict"], second["verdict"]) == ("PASS", "PASS")
    assert retried["artifacts"] == second["artifacts"]
    assert second["measurements"] == {"detection": 2.0, "dns_cutover": 3.0, "client_cutover": 3.0, "recovery": 4.0}
    sealed = json.loads(store.get(second["artifacts"]["report.json"]))
    assert_valid_report(sealed)
    assert sealed["identity"]["previous_drill"]["drill_id"] == "drill-report-0001"
    assert sealed["integrity"]["chain"]["sequence"] == 2 and sealed["integrity"]["signing"]["key_arn"] == key_arn
    assert sealed["integrity"]["retention"]["mode"] is None  # this bucket has no Object Lock, and the report says so
    assert json.loads(store.get(manifest.HEAD_KEY))["sequence"] == 2
    assert [i for i in account.table.scan()["Items"] if i["sk"] == "LOCK"] == []


def test_a_manifest_whose_chain_has_no_position_fails_verification_naming_it(evidence, scenario_dict, tmp_path):
    # Given an exported period of two sealed drills
    store, key_arn = evidence
    for n in (1, 2):
        seal_drill(store, key_arn, scenario_dict, n)
    out = tmp_path / "evidence.tar.gz"
    export.export(
        boto3.client("s3"), boto3.client("kms"), LOCKED_BUCKET, export.Period.parse("2026-01-01", "2026-12-31"), "nist", out
    )
    extracted = verify.extract(out, tmp_path / "x")
    # When the second drill's manifest loses its chain position
    manifest_path = extracted / "drills" / "region-failover-drill-0002" / "manifest.json"
    tampered = json.loads(manifest_path.read_text())
    del tampered["chain"]["sequence"]
    manifest_path.write_text(json.dumps(tampered))

    # Then verification fails and names that manifest, instead of crashing
    result = verify.verify(extracted)

    assert not result.ok
    assert any(
        p.path == "drills/region-failover-drill-0002/manifest.json" and "chain position" in p.message for p in result.problems
    ), result.problems
