"""Faults: one module per fault, each an inject/restore pair driven by an undo record.

A fault module provides:
  TYPE                      the scenario's ``fault.type``
  capture(spec, target)     -> prior state (read-only), stored in the undo record first
  apply(spec, target, prior) makes the change; must be idempotent (retries happen)
  restore(prior)            puts the prior state back; idempotent
  is_restored(prior)        -> bool, read-only
  describe_plan(spec, target, prior) -> one line for the report and dry runs
"""

from __future__ import annotations

from types import ModuleType

from drillkit.faults import health_check_inversion

FAULTS: dict[str, ModuleType] = {health_check_inversion.TYPE: health_check_inversion}


def fault_module(fault_type: str) -> ModuleType:
    return FAULTS[fault_type]
