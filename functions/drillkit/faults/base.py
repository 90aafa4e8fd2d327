"""The calls every fault implements (``Fault``), and the base that narrows a scenario's fault spec to its own type.

A fault is driven by its undo record: ``capture`` reads the prior state (stored in the ledger before anything
changes), ``apply`` makes the change, ``restore`` puts the prior state back one step at a time. The prior state is
a typed model of the fault's (faults/priors.py): the ledger stores its JSON, ``priors.read_prior`` reads it back, and only the
fault that wrote it acts on it.

drill.py, the report and the registry (faults/__init__.py) hold faults as ``Fault``, so mypy checks every call.
Each fault module defines one ``SpecFault`` subclass for its spec model and one instance of it, ``FAULT``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Generic, Protocol, TypedDict, TypeVar, cast

from drillkit.errors import DrillStateInvalid, ScenarioInvalid
from drillkit.faults.priors import PriorState
from drillkit.model import ResolvedTarget
from drillkit.spec import BlockPrimaryAlb, FailTargets, FaultSpec, HealthCheckInversion, StopCluster


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

    def capture(self, spec: FaultSpec, target: ResolvedTarget) -> PriorState:
        """The prior state; raises TargetNotFound naming the field when the resource is unusable."""
        ...

    def apply(self, spec: FaultSpec, target: ResolvedTarget, prior: PriorState) -> None:
        """Make the change; idempotent (a retried injection must not inject twice)."""
        ...

    def restore(self, prior: PriorState) -> bool:
        """The next step of putting the prior state back: True once complete, False to be called again. Idempotent."""
        ...

    def waiting_for(self, prior: PriorState) -> str:
        """What an unfinished restore waits for, for the drill's messages."""
        ...

    def is_restored(self, prior: PriorState) -> bool: ...

    def describe_plan(self, spec: FaultSpec, target: ResolvedTarget, prior: PriorState) -> str:
        """One line for the report and dry runs."""
        ...

    def resources(self, prior: PriorState) -> list[Resource]:
        """The resources the fault touches, the one it changes first."""
        ...


S = TypeVar("S", HealthCheckInversion, FailTargets, BlockPrimaryAlb, StopCluster)
P = TypeVar("P", bound=PriorState)


class SpecFault(ABC, Generic[S, P]):
    """A ``Fault`` for one spec model and its own prior states: the calls get them narrowed to ``S`` and ``P``."""

    kind: str
    exercise_type: str
    api_calls: Mapping[str, str]
    spec_type: type[S]
    prior_types: tuple[type[PriorState], ...]  # the members of P

    def narrow(self, spec: FaultSpec) -> S:
        if not isinstance(spec, self.spec_type):
            raise ScenarioInvalid([("fault.type", f"{spec.type} is not the {self.kind} fault")])
        return spec

    def own(self, prior: PriorState) -> P:
        if not isinstance(prior, self.prior_types):
            raise DrillStateInvalid(f"undo record: a {type(prior).__name__} prior state is not the {self.kind} fault's")
        return cast(P, prior)

    def capture(self, spec: FaultSpec, target: ResolvedTarget) -> PriorState:
        return self.capture_spec(self.narrow(spec), target)

    def apply(self, spec: FaultSpec, target: ResolvedTarget, prior: PriorState) -> None:
        self.apply_spec(self.narrow(spec), target, self.own(prior))

    def describe_plan(self, spec: FaultSpec, target: ResolvedTarget, prior: PriorState) -> str:
        return self.describe_spec(self.narrow(spec), target, self.own(prior))

    def restore(self, prior: PriorState) -> bool:
        return self.restore_prior(self.own(prior))

    def is_restored(self, prior: PriorState) -> bool:
        return self.is_restored_prior(self.own(prior))

    def waiting_for(self, prior: PriorState) -> str:
        return self.waiting_for_prior(self.own(prior))

    def resources(self, prior: PriorState) -> list[Resource]:
        return self.resources_prior(self.own(prior))

    def waiting_for_prior(self, prior: P) -> str:
        """A fault whose restore is one call has nothing particular to wait for."""
        return WAITING_BY_DEFAULT

    @abstractmethod
    def capture_spec(self, spec: S, target: ResolvedTarget) -> P: ...

    @abstractmethod
    def apply_spec(self, spec: S, target: ResolvedTarget, prior: P) -> None: ...

    @abstractmethod
    def describe_spec(self, spec: S, target: ResolvedTarget, prior: P) -> str: ...

    @abstractmethod
    def restore_prior(self, prior: P) -> bool: ...

    @abstractmethod
    def is_restored_prior(self, prior: P) -> bool: ...

    @abstractmethod
    def resources_prior(self, prior: P) -> list[Resource]: ...
