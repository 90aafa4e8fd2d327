"""Seal a drill's artifacts: a manifest of SHA-256 hashes, signed with a KMS key, chained per bucket.

manifest.json lists every artifact's SHA-256, a timestamp (KMS signatures carry none, so
it sits inside the signed content), the signing key and algorithm, the bucket's retention,
and the previous manifest's SHA-256. manifest.sig is the raw signature (DER for ECDSA)
over the exact bytes of manifest.json, so `openssl dgst -sha256 -verify key.pem
-signature manifest.sig manifest.json` checks it too.

The chain's head is `chain/head.json` in the evidence bucket; it is advanced with a
conditional write (If-Match on its ETag, If-None-Match for the first drill) so two
reports finishing at once cannot fork the chain silently: the loser re-seals.
Game-day reports are sealed the same way in a chain of their own (`chain/gamedays/head.json`):
a game-day is sealed after its drills, which hold their places in the drills' chain.
Offline verification lives in drillkit.evidence.verify (workstation side).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from drillkit import aws, clock
from drillkit.errors import ChainMoved, EvidenceSealFailed
from drillkit.evidence.store import EvidenceStore

MANIFEST_FORMAT = "drillkit-manifest/1"
GAMEDAY_MANIFEST_FORMAT = "drillkit-gameday-manifest/1"
HEAD_KEY = "chain/head.json"
GAMEDAY_HEAD_KEY = "chain/gamedays/head.json"
MAX_RAW_MESSAGE = 4096  # KMS Sign with MessageType RAW
ALGORITHM_OF_SPEC = {
    "ECC_NIST_P256": "ECDSA_SHA_256",
    "ECC_NIST_P384": "ECDSA_SHA_384",
    "RSA_2048": "RSASSA_PKCS1_V1_5_SHA_256",
    "RSA_3072": "RSASSA_PKCS1_V1_5_SHA_256",
    "RSA_4096": "RSASSA_PKCS1_V1_5_SHA_256",
}


@dataclass(frozen=True)
class Chain:
    """One chain of sealed reports in the bucket: its head, where its members live and what names them."""

    head_key: str
    folder: str  # members' artifacts are under <folder>/<id>/
    id_field: str  # the field naming a member in the head, the links and the manifest
    marker_folder: str

    def prefix(self, member_id: str) -> str:
        return f"{self.folder}/{member_id}/"

    def marker(self, member_id: str) -> str:
        """Written once the chain's head moved to the member: its position and manifest SHA-256."""
        return f"{self.marker_folder}{member_id}.json"


DRILLS = Chain(head_key=HEAD_KEY, folder="drills", id_field="drill_id", marker_folder="chain/sealed/")
GAMEDAYS = Chain(head_key=GAMEDAY_HEAD_KEY, folder="gamedays", id_field="gameday_id", marker_folder="chain/sealed/gamedays/")


def sealed_marker(drill_id: str) -> str:
    """Written once the chain's head moved to the drill: its position and manifest SHA-256."""
    return DRILLS.marker(drill_id)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(document: dict[str, Any]) -> bytes:
    """The canonical bytes of a manifest (or head): sorted keys, two-space indent, final newline."""
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


class Signer:
    """An asymmetric KMS key (SIGN_VERIFY); needs kms:GetPublicKey and kms:Sign on it."""

    def __init__(self, key_arn: str):
        self.key_arn = key_arn
        self._info: dict[str, Any] | None = None
        self.public_key_der = b""

    def info(self) -> dict[str, Any]:
        if self._info is None:
            kms = aws.client("kms")
            with aws.aws_call("GetPublicKey", self.key_arn):
                answer = kms.get_public_key(KeyId=self.key_arn)
            spec = answer.get("KeySpec") or answer.get("CustomerMasterKeySpec")
            algorithm = ALGORITHM_OF_SPEC.get(spec)
            if algorithm is None or algorithm not in answer.get("SigningAlgorithms", []):
                raise EvidenceSealFailed(f"signing key {self.key_arn}: key spec {spec} is not a supported signing key")
            self.public_key_der = answer["PublicKey"]
            # AWS answers the key's ARN; some emulators (moto) answer the bare key id.
            arn = answer["KeyId"] if answer["KeyId"].startswith("arn:") else self.key_arn
            self._info = {
                "key_id": arn.rsplit("/", 1)[-1],
                "key_arn": arn,
                "key_spec": spec,
                "algorithm": algorithm,
                "message_type": "RAW",
                "public_key_sha256": sha256(self.public_key_der),
            }
        return self._info

    def sign(self, message: bytes) -> bytes:
        if len(message) > MAX_RAW_MESSAGE:
            raise EvidenceSealFailed(f"manifest.json is {len(message)} bytes; KMS signs at most {MAX_RAW_MESSAGE} raw")
        info = self.info()
        with aws.aws_call("Sign", self.key_arn):
            answer = aws.client("kms").sign(
                KeyId=self.key_arn, Message=message, MessageType="RAW", SigningAlgorithm=info["algorithm"]
            )
        return answer["Signature"]


def retention(store: EvidenceStore, now: float) -> dict[str, Any]:
    """The bucket's default Object Lock retention; retain_until is a lower bound for objects written after `now`."""
    config = store.object_lock_configuration()
    rule = (config or {}).get("Rule", {}).get("DefaultRetention") if config else None
    if not rule:
        return {"mode": None, "days": None, "retain_until": None, "source": "no default Object Lock retention on the bucket"}
    days = int(rule.get("Days") or 0) or int(rule.get("Years") or 0) * 365
    until = datetime.fromtimestamp(now, tz=UTC) + timedelta(days=days)
    return {
        "mode": rule["Mode"],
        "days": days,
        "retain_until": clock.iso(until.timestamp()),
        "source": f"default retention of bucket {store.bucket}",
    }


class Sealer:
    """Plans the integrity section of a report, then seals its artifacts into the chain."""

    def __init__(self, store: EvidenceStore, signer: Signer | None, chain: Chain = DRILLS):
        self.store = store
        self.signer = signer
        self.chain = chain
        self._head: dict[str, Any] | None = None
        self._etag: str | None = None
        self._retention: dict[str, Any] | None = None

    def read_head(self) -> dict[str, Any] | None:
        found = self.store.get_with_etag(self.chain.head_key)
        if found is None:
            self._head, self._etag = None, None
        else:
            body, self._etag = found
            self._head = json.loads(body)
        return self._head

    def already_sealed(self, member_id: str) -> dict[str, str] | None:
        """The keys of a member's (drill's, game-day's) artifacts when its manifest is in the chain already, else None.

        A manifest counts as sealed when its member's marker (written once the head moved to it) or
        the head itself names its SHA-256; a manifest left behind by a lost race or a crash before the
        head moved is not in the chain, and the member is sealed again over it.
        """
        prefix = self.chain.prefix(member_id)
        found = self.store.get_with_etag(prefix + "manifest.json")
        if found is None:
            return None
        body = found[0]
        digest = sha256(body)
        marker = self.store.get_json(self.chain.marker(member_id)) or {}
        head = self.read_head() or {}
        if marker.get("manifest_sha256") != digest and not (
            head.get(self.chain.id_field) == member_id and head.get("manifest_sha256") == digest
        ):
            return None
        sealed = json.loads(body)
        names = [a["name"] for a in sealed["artifacts"]] + ["manifest.json"] + (["manifest.sig"] if sealed.get("signing") else [])
        return {name: prefix + name for name in names}

    def integrity(self, artifacts: tuple[str, ...]) -> dict[str, Any]:
        """What report.json says about its own sealing (known before the artifacts are hashed)."""
        head = self.read_head()
        if self._retention is None:
            self._retention = retention(self.store, clock.now())
        return {
            "hash_algorithm": "SHA-256",
            "manifest": "manifest.json",
            "signature": "manifest.sig" if self.signer else None,
            "artifacts": list(artifacts),
            "signing": self.signer.info() if self.signer else None,
            "chain": {
                "head": self.chain.head_key,
                "sequence": (head["sequence"] + 1) if head else 1,
                f"previous_{self.chain.id_field}": head[self.chain.id_field] if head else None,
                "previous_manifest_sha256": head["manifest_sha256"] if head else None,
            },
            "retention": self._retention,
        }

    def seal(self, document: dict[str, Any], artifacts: dict[str, bytes]) -> dict[str, str]:
        """Seal a drill's report.json and its twins (see ``seal_member``)."""
        header = {
            "format": MANIFEST_FORMAT,
            "drill_id": document["drill_id"],
            "scenario": {"name": document["scenario"]["name"], "version": document["scenario"]["version"]},
            "verdict": document["verdict"],
            "started_at": document["started_at"],
        }
        return self.seal_member(document["drill_id"], header, document["integrity"], artifacts)

    def seal_gameday(self, document: dict[str, Any], artifacts: dict[str, bytes]) -> dict[str, str]:
        """Seal a game-day's gameday.json and its twins; its drills are named in gameday.json, which the manifest hashes."""
        header = {
            "format": GAMEDAY_MANIFEST_FORMAT,
            "gameday_id": document["gameday_id"],
            "name": document["name"],
            "verdict": document["verdict"],
            "started_at": document["started_at"],
        }
        return self.seal_member(document["gameday_id"], header, document["integrity"], artifacts)

    def seal_member(
        self, member_id: str, header: dict[str, Any], integrity: dict[str, Any], artifacts: dict[str, bytes]
    ) -> dict[str, str]:
        """Write the artifacts, manifest.json and manifest.sig, then advance the chain's head.

        Returns the keys written; raises ChainMoved when another report advanced the head meanwhile.
        """
        planned = integrity["chain"]
        previous_id = planned[f"previous_{self.chain.id_field}"]
        prefix = self.chain.prefix(member_id)
        manifest = {
            **header,
            "signed_at": clock.iso(clock.now()),
            "hash_algorithm": "SHA-256",
            "artifacts": [{"name": name, "sha256": sha256(body), "bytes": len(body)} for name, body in artifacts.items()],
            "chain": {
                "bucket": self.store.bucket,
                "sequence": planned["sequence"],
                "previous": (
                    {
                        self.chain.id_field: previous_id,
                        "manifest_key": self.chain.prefix(previous_id) + "manifest.json",
                        "manifest_sha256": planned["previous_manifest_sha256"],
                    }
                    if previous_id
                    else None
                ),
            },
            "signing": integrity["signing"],
            "retention": integrity["retention"],
        }
        manifest_bytes = dumps(manifest)
        keys: dict[str, str] = {}
        for name, body in artifacts.items():
            self.store.put(prefix + name, body)
            keys[name] = prefix + name
        self.store.put(prefix + "manifest.json", manifest_bytes)
        keys["manifest.json"] = prefix + "manifest.json"
        if self.signer:
            self.store.put(prefix + "manifest.sig", self.signer.sign(manifest_bytes))
            keys["manifest.sig"] = prefix + "manifest.sig"
        head = {
            "sequence": planned["sequence"],
            self.chain.id_field: member_id,
            "manifest_key": prefix + "manifest.json",
            "manifest_sha256": sha256(manifest_bytes),
            "updated_at": manifest["signed_at"],
        }
        if not self.store.put_if(self.chain.head_key, dumps(head), etag=self._etag):
            raise ChainMoved(f"{self.chain.head_key} changed while {member_id} was being sealed")
        self.store.put(self.chain.marker(member_id), dumps(head))
        return keys
