"""Faults: one module per fault, each an inject/restore pair driven by an undo record.

Each module defines one class implementing ``base.Fault`` (capture, apply, restore, waiting_for, is_restored,
describe_plan, resources, and its kind, exercise type and AWS calls) and one instance of it, ``FAULT``. The
registry below maps the scenario's ``fault.type`` to that instance; everything else holds faults as ``Fault``.
"""

from __future__ import annotations

from drillkit.errors import DrillStateInvalid
from drillkit.faults import block_primary_alb, fail_targets, health_check_inversion, stop_cluster
from drillkit.faults.base import Fault, Resource
from drillkit.faults.priors import Prior, PriorState, read_prior

__all__ = ["FAULTS", "Fault", "Prior", "PriorState", "Resource", "api_calls", "fault_of", "read_prior"]

FAULTS: dict[str, Fault] = {
    fault.kind: fault for fault in (health_check_inversion.FAULT, fail_targets.FAULT, block_primary_alb.FAULT, stop_cluster.FAULT)
}


def fault_of(kind: str) -> Fault:
    """The fault of a scenario's ``fault.type`` or an undo record's ``fault``; a kind drillkit lacks is named."""
    try:
        return FAULTS[kind]
    except KeyError:
        raise DrillStateInvalid(f"fault: no fault of kind {kind!r}; drillkit has {', '.join(sorted(FAULTS))}") from None


def api_calls(kind: str, method: str | None) -> str:
    calls = fault_of(kind).api_calls
    return calls.get(method or "default") or next(iter(calls.values()))
