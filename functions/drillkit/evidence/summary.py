"""summary.md: the drill's result in Markdown, to paste into a ticket or a change record."""

from __future__ import annotations

from typing import Any

from drillkit.milestones import label as objective_label


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _result(m: dict[str, Any]) -> str:
    if m.get("kind") == "not_applicable":
        return f"not applicable: {cell(m.get('reason', ''))}"
    if m.get("kind") == "configuration-applied":
        return "configuration applied, not a measured detection"
    return {None: "not judged", True: "met", False: "**missed**"}[m["passed"]]


def render(document: dict[str, Any]) -> bytes:
    scenario = document["scenario"]
    lines = [
        f"## DR drill {document['verdict']}: {cell(scenario['name'])} v{cell(scenario['version'])}",
        "",
        f"- **Verdict:** {document['verdict']}; restore verified: {'yes' if document['restore_verified'] else '**NO**'}",
        f"- **Drill:** `{document['drill_id']}` ({document.get('identity', {}).get('exercise_type', 'drill')}, automated)",
        f"- **Where it ran:** {cell((document.get('deployment') or {}).get('label', 'not recorded (report before schema 1.3)'))}",
        f"- **Requested by:** {cell(document.get('requested_by'))}",
        f"- **Started:** {document['started_at']}; fault injected: {document.get('injected_at') or 'not injected'}; "
        f"ended: {document['ended_at']}",
        f"- **Fault:** {cell(document['fault']['type'])} on `{document['fault'].get('resource_id') or 'nothing'}`",
    ]
    previous = document.get("identity", {}).get("previous_drill")
    if previous:
        lines.append(f"- **Previous drill of this scenario:** `{previous['drill_id']}` ({previous.get('verdict')})")
    lines += ["", "| Objective | Measured | Uncertainty | Target | Result |", "|---|---:|---:|---:|---|"]
    for name, m in document.get("measurements", {}).items():
        measured = (
            "-" if m.get("kind") == "not_applicable" else "not reached" if m["seconds"] is None else f"{m['seconds']:.2f} s"
        )
        target = "-" if m["target_seconds"] is None else f"{m['target_seconds']:g} s"
        lines.append(f"| {objective_label(name)} | {measured} | ± {m['uncertainty_seconds']:.2f} s | {target} | {_result(m)} |")
    if not document.get("measurements"):
        lines.append("| (nothing measured: the fault was not injected) | | | | |")
    if stores := (document.get("results") or {}).get("data_stores"):
        lines += ["", "| Data store | Kind | Recovery point | Target | Result |", "|---|---|---:|---:|---|"]
        for point in stores:
            target = "-" if point["target_seconds"] is None else f"{point['target_seconds']:g} s"
            lines.append(
                f"| {cell(point['store'])} | {point['kind']} | {cell(store_words(point))} | {target} | {_store_result(point)} |"
            )
    existing = (document.get("results") or {}).get("existing_clients")
    if existing:
        lines += ["", f"**Clients connected before the fault:** {cell(existing['summary'])}."]
    lines += ["", "Measured values only; nothing here is an estimate.", "", "### Findings", ""]
    for finding in document.get("findings", []):
        remedy = f" Remedy: {cell(finding['remedy'])}" if finding.get("remedy") else ""
        lines.append(f"- **{finding['severity']}** `{finding['code']}`: {cell(finding['message'])}.{remedy}")
    if not document.get("findings"):
        lines.append("None.")
    integrity = document.get("integrity") or {}
    signing = integrity.get("signing")
    retention = integrity.get("retention") or {}
    chain = integrity.get("chain") or {}
    lines += [
        "",
        "### Evidence",
        "",
        "Artifacts: "
        + ", ".join(f"`{a}`" for a in integrity.get("artifacts", []))
        + "; hashes in `manifest.json`"
        + (
            f", signed with KMS key `{signing['key_id']}` ({signing['algorithm']}) in `manifest.sig`."
            if signing
            else " (unsigned)."
        ),
    ]
    if chain:
        lines.append(
            f"Chain position {chain.get('sequence')}; previous manifest: `{chain.get('previous_manifest_sha256') or 'none'}`."
        )
    if retention.get("mode"):
        lines.append(
            f"Retention: S3 Object Lock {retention['mode']}, {retention['days']} days, "
            f"until at least {retention['retain_until']}."
        )
    return ("\n".join(lines) + "\n").encode()


def store_words(point: dict[str, Any]) -> str:
    """A store's recovery point (judged) or observed lag, in words: the report's line for it."""
    if point["not_replicated"]:
        return "data not replicated: no heartbeat reached the standby"
    if point["seconds"] is None:
        return "not read: " + ("; ".join(point.get("errors") or []) or "no heartbeat read")
    measured = f"{point['seconds']:.2f} s ± {point['uncertainty_seconds']:.2f} s"
    lag = point.get("replication_lag_max_seconds")
    seen = f"; lag seen up to {lag:.2f} s" if lag is not None else ""
    if point["judged"]:
        return f"{measured} at the DNS cutover{seen}"
    return f"replication lag {measured} (not judged: no DNS cutover){seen}"


def _store_result(point: dict[str, Any]) -> str:
    if point["passed"] is None:
        return "not judged"
    return "met" if point["passed"] else "**missed**"
