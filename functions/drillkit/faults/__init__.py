"""Faults: one module per fault, each an inject/restore pair driven by an undo record.

A fault module provides:
  TYPE                       the scenario's ``fault.type``
  EXERCISE_TYPE              how an auditor classes the exercise (switchover, full-scale)
  API_CALLS                  method -> the AWS calls it makes, for the report's step log
  capture(spec, target)      -> prior state (read-only), stored in the undo record first;
                                raises TargetNotFound naming the field when the resource is unusable
  apply(spec, target, prior) makes the change; idempotent (retries happen)
  restore(prior)             -> bool: the next step of putting the prior state back; True once its undo is
                                complete, False to be called again later (never sleeps more than a few
                                seconds); idempotent
  waiting_for(prior)         optional -> str: what an unfinished restore waits for (read-only)
  is_restored(prior)         -> bool, read-only
  describe_plan(spec, target, prior) -> one line for the report and dry runs
  resources(prior)           -> the resources the fault touches, for the report's scope
"""

from __future__ import annotations

from types import ModuleType

from drillkit.faults import block_primary_alb, fail_targets, health_check_inversion, stop_cluster

FAULTS: dict[str, ModuleType] = {
    module.TYPE: module for module in (health_check_inversion, fail_targets, block_primary_alb, stop_cluster)
}


def fault_module(fault_type: str) -> ModuleType:
    return FAULTS[fault_type]


def api_calls(fault_type: str, method: str | None) -> str:
    calls = FAULTS[fault_type].API_CALLS
    return calls.get(method or "default") or next(iter(calls.values()))
