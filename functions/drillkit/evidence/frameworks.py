"""Which compliance clauses a drill report evidences, and what is still missing (pure, no I/O).

The clause table follows docs EVIDENCE.md. For one report, `served_by` lists the clauses
the report contributes to and what in the report evidences each. For a set of reports
(an export), `assess` says per clause whether it is evidenced, partly evidenced or
missing, naming the drills and the gaps (e.g. "no drill in the last 12 months").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from drillkit.errors import ExportFailed

FRAMEWORKS = ("hipaa", "pci-dss", "soc2", "iso27001", "dora", "nist")
FRAMEWORK_TITLES = {
    "hipaa": "HIPAA Security Rule",
    "pci-dss": "PCI DSS v4.0",
    "soc2": "SOC 2 (Trust Services Criteria)",
    "iso27001": "ISO/IEC 27001:2022 and ISO 22301",
    "dora": "EU DORA and RTS 2024/1774",
    "nist": "NIST SP 800-53 / 800-34 / 800-84",
}
SIX_YEARS_DAYS = 2190
TWELVE_MONTHS = timedelta(days=365)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- facts about one report: each returns (evidence text or None, gap text or None) ------------
Fact = Callable[[dict[str, Any]], tuple[str | None, str | None]]


def _tested(report: dict[str, Any]) -> tuple[str | None, str | None]:
    if report.get("injected_at"):
        return f"fault {report['fault']['type']} injected at {report['injected_at']}, verdict {report['verdict']}", None
    return None, "the fault was not injected (drill ended early)"


def _method_and_scope(report: dict[str, Any]) -> tuple[str | None, str | None]:
    exercise = report.get("identity", {}).get("exercise_type")
    return f"method: automated {exercise} exercise; scope and step log in report.json", None


def _participants(report: dict[str, Any]) -> tuple[str | None, str | None]:
    people = report.get("people", {})
    gap = None if people.get("approved_by") else "approver not recorded (no approval step yet)"
    return f"requested by {people.get('requested_by') or report.get('requested_by')}", gap


def _objectives_judged(report: dict[str, Any]) -> tuple[str | None, str | None]:
    judged = [
        name
        for name, m in report.get("measurements", {}).items()
        if m.get("target_seconds") is not None and m.get("kind") != "not_applicable"
    ]
    if judged:
        return "objectives with targets: " + ", ".join(judged), None
    return None, "no objective with a target was judged"


def _recovery_measured(report: dict[str, Any]) -> tuple[str | None, str | None]:
    recovery = report.get("measurements", {}).get("recovery") or {}
    if recovery.get("seconds") is not None:
        return f"achieved RTO {recovery['seconds']}s ± {recovery['uncertainty_seconds']}s (measured)", None
    return None, "recovery (RTO) not measured"


def _rpo_measured(report: dict[str, Any]) -> tuple[str | None, str | None]:
    rpo = report.get("measurements", {}).get("rpo") or {}
    if rpo.get("seconds") is not None:
        return f"achieved RPO {rpo['seconds']}s (measured)", None
    if rpo.get("kind") == "not_applicable":
        return None, f"data loss (RPO) not applicable to this drill: {rpo.get('reason')}"
    return None, "data loss (RPO) and backups not measured by this scenario"


def _restored(report: dict[str, Any]) -> tuple[str | None, str | None]:
    if report.get("restore_verified"):
        return "restore to the prior known state verified", None
    return None, "restore not verified"


def _switchover(report: dict[str, Any]) -> tuple[str | None, str | None]:
    if report.get("identity", {}).get("exercise_type") == "switchover" and report.get("injected_at"):
        return "traffic switched from the primary to the standby region", None
    return None, "no switchover from primary to redundant infrastructure"


def _automated(report: dict[str, Any]) -> tuple[str | None, str | None]:
    return ("automated drill (Step Functions)", None) if report.get("automated") else (None, "not automated")


def _findings_with_remedy(report: dict[str, Any]) -> tuple[str | None, str | None]:
    findings = report.get("findings", [])
    if not findings:
        return "no findings to remedy", None
    without = [f["code"] for f in findings if not f.get("remedy")]
    if without:
        return f"{len(findings)} finding(s) classified by severity", "no remedy recorded for " + ", ".join(without)
    return f"{len(findings)} finding(s) classified, each with a suggested remedy", None


def _lessons(report: dict[str, Any]) -> tuple[str | None, str | None]:
    if report.get("lessons_learned"):
        return f"{len(report['lessons_learned'])} lesson(s) learned recorded", None
    return None, "lessons learned / plan revision not recorded"


def _retained(report: dict[str, Any]) -> tuple[str | None, str | None]:
    retention = (report.get("integrity") or {}).get("retention") or {}
    if retention.get("mode") and (retention.get("days") or 0) >= SIX_YEARS_DAYS:
        return f"S3 Object Lock {retention['mode']} until {retention['retain_until']}", None
    return None, "evidence not under a 6-year Object Lock retention"


def _signed(report: dict[str, Any]) -> tuple[str | None, str | None]:
    signing = (report.get("integrity") or {}).get("signing")
    if signing:
        return f"manifest signed with KMS key {signing['key_id']} ({signing['algorithm']})", None
    return None, "manifest not signed"


def _restore_within_72h(report: dict[str, Any]) -> tuple[str | None, str | None]:
    recovery = report.get("measurements", {}).get("recovery") or {}
    if recovery.get("seconds") is not None and recovery["seconds"] <= 72 * 3600:
        return f"service restored on the standby in {recovery['seconds']}s (< 72 h)", None
    return None, "restore time not measured"


@dataclass(frozen=True)
class Clause:
    framework: str
    clause: str
    title: str
    facts: tuple[Fact, ...]
    yearly: bool = False  # needs a drill within 12 months of the period's end


CLAUSES: tuple[Clause, ...] = (
    Clause(
        "hipaa",
        "45 CFR 164.308(a)(7)(ii)(D)",
        "Testing and revision of contingency plans",
        (_tested, _method_and_scope, _participants, _findings_with_remedy, _lessons),
    ),
    Clause("hipaa", "45 CFR 164.316(b)(2)(i)", "Documentation retained 6 years", (_retained, _signed)),
    Clause(
        "hipaa",
        "Proposed rule (Jan 2025, not final)",
        "Restore within 72 h; backups at most 48 h old",
        (_restore_within_72h, _rpo_measured),
    ),
    Clause("pci-dss", "12.10.2", "Response plan tested at least every 12 months", (_tested, _recovery_measured), yearly=True),
    Clause("pci-dss", "12.10.1", "Plan covers business recovery and backups", (_recovery_measured, _rpo_measured)),
    Clause("pci-dss", "12.10.6", "Lessons learned feed the plan", (_findings_with_remedy, _lessons)),
    Clause(
        "soc2",
        "A1.3 (CC7.5, CC9.1)",
        "Recovery plan procedures tested; backup integrity",
        (_tested, _objectives_judged, _restored, _rpo_measured),
    ),
    Clause("iso27001", "A.5.29, A.5.30", "ICT readiness tested against continuity objectives", (_tested, _objectives_judged)),
    Clause(
        "iso27001", "ISO 22301 8.5", "Formal post-exercise report with outcomes and actions", (_tested, _findings_with_remedy)
    ),
    Clause("dora", "Art. 11(6)", "Continuity plans tested at least yearly", (_tested,), yearly=True),
    Clause("dora", "Art. 12, RTS 2024/1774 Art. 25", "Switchover from primary to redundant infrastructure", (_switchover,)),
    Clause("dora", "Art. 11(8), 24-25", "Findings classified, remedied and re-tested", (_findings_with_remedy, _lessons)),
    Clause("nist", "CP-4", "Test, review results, corrective actions", (_tested, _findings_with_remedy)),
    Clause("nist", "CP-4(3)", "Automated testing", (_automated,)),
    Clause("nist", "CP-4(4)", "Full recovery and reconstitution to a known state", (_restored,)),
    Clause(
        "nist",
        "SP 800-34 / 800-84",
        "After-action report: scope, objectives, observations, recommendations, participants",
        (_method_and_scope, _objectives_judged, _findings_with_remedy, _participants),
    ),
)


def clauses_of(framework: str | None) -> tuple[Clause, ...]:
    if framework is not None and framework not in FRAMEWORKS:
        raise ExportFailed(f"framework: unknown framework {framework!r}; one of {', '.join(FRAMEWORKS)}")
    return tuple(c for c in CLAUSES if framework is None or c.framework == framework)


def _evaluate(clause: Clause, report: dict[str, Any]) -> tuple[list[str], list[str]]:
    evidence, gaps = [], []
    for fact in clause.facts:
        shown, gap = fact(report)
        if shown:
            evidence.append(shown)
        if gap:
            gaps.append(gap)
    return evidence, gaps


def served_by(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The clauses this report contributes evidence to (for its identity section)."""
    served = []
    for clause in CLAUSES:
        evidence, gaps = _evaluate(clause, report)
        if evidence:
            served.append(
                {
                    "framework": clause.framework,
                    "clause": clause.clause,
                    "title": clause.title,
                    "evidences": evidence,
                    "gaps": gaps,
                }
            )
    return served


def assess(reports: list[dict[str, Any]], framework: str | None, period_end: datetime) -> list[dict[str, Any]]:
    """Each clause against every report of the period: evidenced, partial or missing, and why."""
    rows = []
    ordered = sorted(reports, key=lambda r: r["started_at"])
    for clause in clauses_of(framework):
        drills: list[str] = []
        evidence: list[str] = []
        gaps: set[str] = set()
        for report in ordered:
            shown, missing = _evaluate(clause, report)
            if shown and not missing:
                drills.append(report["drill_id"])
                evidence.extend(f"{report['drill_id']}: {text}" for text in shown)
            elif shown:
                drills.append(report["drill_id"])
                evidence.extend(f"{report['drill_id']}: {text}" for text in shown)
                gaps.update(missing)
            else:
                gaps.update(missing)
        complete = [r for r in ordered if r["drill_id"] in drills and not _evaluate(clause, r)[1]]
        if clause.yearly:
            recent = [r for r in ordered if r.get("injected_at") and period_end - parse_time(r["started_at"]) <= TWELVE_MONTHS]
            if not recent:
                gaps.add(f"no drill in the 12 months before {period_end.date().isoformat()}")
                complete = []
        if not ordered:
            gaps.add("no drill in the period")
        status = "evidenced" if complete else ("partial" if drills else "missing")
        if status == "evidenced":
            gaps = set()  # at least one drill evidences the clause fully
        rows.append(
            {
                "framework": clause.framework,
                "clause": clause.clause,
                "title": clause.title,
                "status": status,
                "drills": drills,
                "evidence": evidence,
                "missing": sorted(gaps),
            }
        )
    return rows
