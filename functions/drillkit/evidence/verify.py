"""Verify an evidence export offline: every hash, every signature, every chain link.

Workstation side (uses the `cryptography` library, not shipped to Lambda). Checks run in a
fixed order and each problem names the file that does not match, so the first problem
is "the first thing that does not match":

1. index.json parses and matches its own digest (it lists every other file's SHA-256);
2. every top-level file (summaries, public keys) matches index.json, and none is unlisted;
3. per drill, in chain order: manifest.json matches index.json; every artifact matches the
   manifest; no file is unlisted; manifest.sig verifies with the bundled public key the
   manifest names; the manifest's previous link is the SHA-256 of the drill before it;
4. per game-day, in the game-days' chain order, the same checks; then every drill its
   gameday.json says reported is in the export.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

INDEX = "index.json"
INDEX_FORMAT = "drillkit-evidence-export/1"
SIGNATURE = "manifest.sig"
MANIFEST = "manifest.json"
# The chains an export holds: folder and the field that names a member in index.json and the links.
CHAINS = (("drills", "drill_id"), ("gamedays", "gameday_id"))
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "ECDSA_SHA_256": hashes.SHA256,
    "ECDSA_SHA_384": hashes.SHA384,
    "RSASSA_PKCS1_V1_5_SHA_256": hashes.SHA256,
}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def index_digest(index: dict[str, Any]) -> str:
    """SHA-256 of index.json's canonical content without its own digest field."""
    content = {k: v for k, v in index.items() if k != "index_sha256"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_index(root: Path, index: dict[str, Any]) -> None:
    index = {**index, "index_sha256": index_digest(index)}
    (root / INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def verify_signature(public_key: Any, algorithm: str, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm.startswith("ECDSA_"):
            public_key.verify(signature, message, ec.ECDSA(HASHES[algorithm]()))
        elif isinstance(public_key, rsa.RSAPublicKey) and algorithm.startswith("RSASSA_PKCS1_V1_5_"):
            public_key.verify(signature, message, padding.PKCS1v15(), HASHES[algorithm]())
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class Verification:
    root: Path
    problems: list[Problem] = field(default_factory=list)
    drills: int = 0
    gamedays: int = 0
    files: int = 0
    signatures: int = 0
    links: int = 0
    chain_start: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))


def _load_json(result: Verification, relative: str) -> dict[str, Any] | None:
    path = result.root / relative
    if not path.is_file():
        result.fail(relative, "missing")
        return None
    try:
        value = json.loads(path.read_bytes())
    except (UnicodeDecodeError, ValueError) as error:
        result.fail(relative, f"not valid JSON ({error})")
        return None
    if not isinstance(value, dict):
        result.fail(relative, "not a JSON object")
        return None
    return value


def _relative_files(root: Path, under: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in under.rglob("*") if p.is_file()}


def verify_directory(root: Path) -> Verification:
    result = Verification(root)
    index = _load_json(result, INDEX)
    if index is None:
        return result
    if index.get("format") != INDEX_FORMAT or index.get("index_sha256") != index_digest(index):
        result.fail(INDEX, "does not match its own digest (changed after export)")
        return result

    # 2. top-level files: summaries and public keys
    listed = dict(index.get("files", {}))
    for relative, expected in sorted(listed.items()):
        path = root / relative
        if not path.is_file():
            result.fail(relative, "missing (listed in index.json)")
        elif sha256_file(path) != expected:
            result.fail(relative, "SHA-256 does not match index.json")
        result.files += 1
    members = {folder: [str(e.get(field)) for e in index.get(folder, [])] for folder, field in CHAINS}
    for relative in sorted(_relative_files(root, root) - set(listed) - {INDEX}):
        parts = PurePosixPath(relative).parts
        if len(parts) < 2 or parts[0] not in members or parts[1] not in members[parts[0]]:
            result.fail(relative, "not listed in index.json")
    keys: dict[str, Any] = {}
    for relative in sorted(r for r in listed if r.startswith("keys/") and (root / r).is_file()):
        try:
            key = serialization.load_pem_public_key((root / relative).read_bytes())
        except ValueError as error:
            result.fail(relative, f"not a PEM public key ({error})")
            continue
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        keys[hashlib.sha256(der).hexdigest()] = key

    # 3. drills, then 4. game-days, each chain in its order
    for folder, field_name in CHAINS:
        _verify_chain(result, index.get(folder, []), folder, field_name, keys)
    _check_gameday_drills(result, index, set(members["drills"]))
    return result


def _verify_chain(result: Verification, entries: list[dict[str, Any]], folder: str, id_field: str, keys: dict[str, Any]) -> None:
    root = result.root
    noun = "game-day" if folder == "gamedays" else "drill"
    previous: tuple[str, dict[str, Any], str] | None = None  # (member id, manifest, manifest sha256)
    for position, entry in enumerate(entries, start=1):
        member_id = entry[id_field]
        member = f"{folder}/{member_id}"
        manifest_path = f"{member}/{MANIFEST}"
        if folder == "gamedays":
            result.gamedays += 1
        else:
            result.drills += 1
        if not (root / manifest_path).is_file():
            result.fail(manifest_path, f"missing: {noun} {member_id} (chain position {entry.get('sequence')}) was removed")
            previous = None
            continue
        manifest_sha = sha256_file(root / manifest_path)
        if manifest_sha != entry.get("manifest_sha256"):
            result.fail(manifest_path, "SHA-256 does not match index.json")
        manifest = _load_json(result, manifest_path)
        if manifest is None:
            previous = None
            continue
        covered = {SIGNATURE, MANIFEST}
        for artifact in manifest.get("artifacts", []):
            relative = f"{member}/{artifact['name']}"
            covered.add(artifact["name"])
            result.files += 1
            if not (root / relative).is_file():
                result.fail(relative, "missing (listed in manifest.json)")
            elif sha256_file(root / relative) != artifact["sha256"]:
                result.fail(relative, "SHA-256 does not match manifest.json")
        for relative in sorted(_relative_files(root, root / member)):
            if PurePosixPath(relative).name not in covered:
                result.fail(relative, "not listed in manifest.json")
        _check_signature(result, member, manifest, keys)
        _check_link(result, member, manifest, entry, previous, first=position == 1)
        previous = (member_id, manifest, manifest_sha)


def _check_gameday_drills(result: Verification, index: dict[str, Any], exported: set[str]) -> None:
    """Every drill a game-day says reported must be in the export: a game-day is read next to its drills."""
    for entry in index.get("gamedays", []):
        relative = f"gamedays/{entry['gameday_id']}/gameday.json"
        if not (result.root / relative).is_file() or any(p.path == relative for p in result.problems):
            continue  # already named above
        document = _load_json(result, relative) or {}
        for drill in document.get("drills", []):
            if drill.get("report_key") and drill.get("drill_id") not in exported:
                result.fail(
                    f"drills/{drill.get('drill_id')}/{MANIFEST}",
                    f"missing: game-day {entry['gameday_id']} names drill {drill.get('drill_id')}, "
                    "whose sealed report is not in the export",
                )


def _check_signature(result: Verification, folder: str, manifest: dict[str, Any], keys: dict[str, Any]) -> None:
    signing = manifest.get("signing")
    if not signing:
        result.fail(f"{folder}/{MANIFEST}", "not signed")
        return
    signature_path = result.root / folder / SIGNATURE
    if not signature_path.is_file():
        result.fail(f"{folder}/{SIGNATURE}", "missing")
        return
    key = keys.get(signing.get("public_key_sha256", ""))
    if key is None:
        result.fail(f"keys/{signing.get('key_id')}.pem", f"no bundled public key with SHA-256 {signing.get('public_key_sha256')}")
        return
    message = (result.root / folder / MANIFEST).read_bytes()
    if not verify_signature(key, signing.get("algorithm", ""), signature_path.read_bytes(), message):
        result.fail(f"{folder}/{SIGNATURE}", f"signature does not verify over manifest.json with key {signing.get('key_id')}")
        return
    result.signatures += 1


def _check_link(
    result: Verification,
    member: str,
    manifest: dict[str, Any],
    entry: dict[str, Any],
    previous: tuple[str, dict[str, Any], str] | None,
    first: bool,
) -> None:
    chain = manifest.get("chain") or {}
    sequence = chain.get("sequence")
    link = chain.get("previous")
    path = f"{member}/{MANIFEST}"
    folder, member_id = member.split("/", 1)
    id_field, noun = ("gameday_id", "game-day") if folder == "gamedays" else ("drill_id", "drill")
    if not isinstance(sequence, int):
        result.fail(path, f"chain position is missing or not a number ({sequence!r}): the chain cannot be followed here")
        return
    if sequence != entry.get("sequence"):
        result.fail(path, f"chain position {sequence} differs from index.json ({entry.get('sequence')})")
    if previous is None:
        if first and folder == "drills":
            result.chain_start = {"sequence": sequence, "previous": link}
        return
    previous_id, previous_manifest, previous_sha = previous
    previous_sequence = (previous_manifest.get("chain") or {}).get("sequence")
    if not link:
        result.fail(path, f"has no previous link, but follows {noun} {previous_id} in the chain")
    elif link.get(id_field) != previous_id or previous_sequence != sequence - 1:
        result.fail(
            f"{folder}/{link.get(id_field)}/{MANIFEST}",
            f"missing from the chain: {noun} {member_id} (position {sequence}) links to it, "
            f"but the export has {noun} {previous_id} (position {previous_sequence}) before it",
        )
    elif link.get("manifest_sha256") != previous_sha:
        result.fail(f"{folder}/{previous_id}/{MANIFEST}", f"SHA-256 differs from the link in {path}")
    else:
        result.links += 1


def _safe_members(names: list[str]) -> None:
    for name in names:
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts:
            raise ValueError(f"archive member {name} would extract outside the target directory")


def extract(archive: Path, destination: Path) -> Path:
    """Unpack a .tar.gz or .zip export; return the directory that holds index.json."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            _safe_members(bundle.namelist())
            bundle.extractall(destination)  # noqa: S202 (members checked above)
    else:
        with tarfile.open(archive, "r:*") as bundle:
            members = bundle.getmembers()
            _safe_members([m.name for m in members])
            if any(not (m.isfile() or m.isdir()) for m in members):
                raise ValueError(f"{archive} holds links or devices; an evidence export holds only files")
            if hasattr(tarfile, "data_filter"):
                bundle.extractall(destination, filter="data")
            else:  # pragma: no cover (Python < 3.11.4)
                bundle.extractall(destination)  # noqa: S202 (members checked above)
    found = sorted(destination.rglob(INDEX), key=lambda p: len(p.parts))
    if not found:
        raise ValueError(f"{archive} holds no {INDEX}: not a drillkit evidence export")
    return found[0].parent


def verify(path: Path) -> Verification:
    """Verify an export given as its archive or as the directory it was extracted to."""
    if path.is_dir():
        # Accept the folder an archive was extracted into as well as the export's own folder.
        inner = [child for child in path.iterdir() if child.is_dir() and (child / INDEX).exists()]
        return verify_directory(inner[0] if not (path / INDEX).exists() and len(inner) == 1 else path)
    work = Path(tempfile.mkdtemp(prefix="drillkit-verify-"))
    try:
        result = verify_directory(extract(path, work))
        result.root = path
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
