"""The calls every fault implements (``Fault``), and the base that narrows a scenario's fault spec to its own type.

A fault is driven by its undo record: ``capture`` reads the prior state (stored in the ledger before anything
changes), ``apply`` makes the change, ``restore`` puts the prior state back one step at a time. The prior state is
the fault's own JSON document (``Prior``): the ledger stores it as it is, and only the fault that wrote it reads it.

drill.py, the report and the registry (faults/__init__.py) hold faults as ``Fault``, so mypy checks every call.
Each fault module defines one ``SpecFault`` subclass for its spec model and one instance of it, ``FAULT``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Generic, Protocol, TypedDict, TypeVar

from drillkit.errors import ScenarioInvalid
from drillkit.model import ResolvedTarget
from drillkit.spec import BlockPrimaryAlb, FailTargets, FaultSpec, HealthCheckInversion, StopCluster

# The prior state a fault captured: JSON (it is stored in the ledger's undo record and read back as it was written).
Prior = dict[str, Any]


class Resource(TypedDict):
    """A resource the fault touches, for the allow tag check and the report's scope."""

    type: str  # CloudFormation type, e.g. AWS::RDS::DBCluster
    id: str  # ARN or id
    role: str  # what it is to the drill, e.g. "primary database"


WAITING_BY_DEFAULT = "its restore to complete"


class Fault(Protocol):
    """What drillkit calls on a fault. Every call but ``apply`` and ``restore`` is read-only."""

    @property
    def kind(self) -> str:
        """The scenario's ``fault.type``."""
        ...

    @property
    def exercise_type(self) -> str:
        """How an auditor classes the exercise: switchover, full-scale."""
        ...

    @property
    def api_calls(self) -> Mapping[str, str]:
        """Method (or "default") -> the AWS calls it makes, for the report's step log."""
        ...

    def capture(self, spec: FaultSpec, target: ResolvedTarget) -> Prior:
        """The prior state; raises TargetNotFound naming the field when the resource is unusable."""
        ...

    def apply(self, spec: FaultSpec, target: ResolvedTarget, prior: Prior) -> None:
        """Make the change; idempotent (a retried injection must not inject twice)."""
        ...

    def restore(self, prior: Prior) -> bool:
        """The next step of putting the prior state back: True once complete, False to be called again. Idempotent."""
        ...

    def waiting_for(self, prior: Prior) -> str:
        """What an unfinished restore waits for, for the drill's messages."""
        ...

    def is_restored(self, prior: Prior) -> bool: ...

    def describe_plan(self, spec: FaultSpec, target: ResolvedTarget, prior: Prior) -> str:
        """One line for the report and dry runs."""
        ...

    def resources(self, prior: Prior) -> list[Resource]:
        """The resources the fault touches, the one it changes first."""
        ...


S = TypeVar("S", HealthCheckInversion, FailTargets, BlockPrimaryAlb, StopCluster)


class SpecFault(ABC, Generic[S]):
    """A ``Fault`` for one spec model: the calls that take the scenario's spec get it narrowed to ``S``."""

    kind: str
    exercise_type: str
    api_calls: Mapping[str, str]
    spec_type: type[S]

    def narrow(self, spec: FaultSpec) -> S:
        if not isinstance(spec, self.spec_type):
            raise ScenarioInvalid([("fault.type", f"{spec.type} is not the {self.kind} fault")])
        return spec

    def capture(self, spec: FaultSpec, target: ResolvedTarget) -> Prior:
        return self.capture_spec(self.narrow(spec), target)

    def apply(self, spec: FaultSpec, target: ResolvedTarget, prior: Prior) -> None:
        self.apply_spec(self.narrow(spec), target, prior)

    def describe_plan(self, spec: FaultSpec, target: ResolvedTarget, prior: Prior) -> str:
        return self.describe_spec(self.narrow(spec), target, prior)

    def waiting_for(self, prior: Prior) -> str:
        """A fault whose restore is one call has nothing particular to wait for."""
        return WAITING_BY_DEFAULT

    @abstractmethod
    def capture_spec(self, spec: S, target: ResolvedTarget) -> Prior: ...

    @abstractmethod
    def apply_spec(self, spec: S, target: ResolvedTarget, prior: Prior) -> None: ...

    @abstractmethod
    def describe_spec(self, spec: S, target: ResolvedTarget, prior: Prior) -> str: ...

    @abstractmethod
    def restore(self, prior: Prior) -> bool: ...

    @abstractmethod
    def is_restored(self, prior: Prior) -> bool: ...

    @abstractmethod
    def resources(self, prior: Prior) -> list[Resource]: ...
