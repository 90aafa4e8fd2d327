"""Waits that outlast one Lambda invocation.

A Lambda invocation ends at its configured timeout (``context.get_remaining_time_in_millis()`` says how much
is left), while a drill may wait up to an hour for steady state or for the restore to hold. So every wait
stops at its invocation's deadline, hands its progress back to the state machine and continues in the next
invocation (SteadyState -> SteadyStateDone -> SteadyState, VerifyRestore -> VerificationDone -> VerifyRestore),
the way Observe loops in batches. This module is pure: no boto3, no wall clock but ``drillkit.clock``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from drillkit import clock
from drillkit.readings import Reading

# Kept free at the end of an invocation to write the batch's samples and the drill record: most of a
# minute-long function's last 10 s, a quarter of a short one (the lab shortens functions to seconds).
MARGIN_SECONDS = 10.0
MARGIN_SHARE = 0.25


def invocation_deadline(remaining_millis: int | None) -> float | None:
    """The instant a wait in this invocation must end, from what the Lambda context says is left.

    None when there is no Lambda context (the CLI's dry runs, tests): only the wait's own deadline bounds it.
    """
    if remaining_millis is None:
        return None
    remaining = max(0.0, remaining_millis / 1000.0)
    return clock.now() + remaining - min(MARGIN_SECONDS, remaining * MARGIN_SHARE)


class SteadyWait(BaseModel):
    """Progress of a wait for N steady readings in a row, carried by the state machine between invocations.

    ``deadline`` is the wait's own end (started_at + the scenario's timeout), kept across invocations so that
    continuing never extends it; ``streak`` is how many readings in a row were steady at the end of the last batch.
    """

    model_config = ConfigDict(extra="ignore")
    done: bool = False
    reached: bool = False
    started_at: float
    deadline: float
    streak: int = Field(default=0, ge=0)
    batch: int = Field(default=0, ge=0)
    samples: int = Field(default=0, ge=0)
    problems: list[str] = Field(default_factory=list)
    reached_at: float | None = None
    newest: dict[str, Reading] = Field(default_factory=dict)  # each probe's newest reading so far

    @classmethod
    def resume(cls, previous: dict[str, Any] | None, timeout_seconds: float) -> SteadyWait:
        """The wait carried from the previous invocation, or a new one with its deadline from now.

        A finished wait (``done``) found here belongs to an earlier pass (a retried or re-entered state): start over.
        """
        if previous and not previous.get("done", True) and "deadline" in previous:
            return cls.model_validate(previous)
        started = clock.now()
        return cls(started_at=started, deadline=started + timeout_seconds)

    @property
    def first_batch(self) -> bool:
        return self.batch == 0

    def batch_end(self, invocation_end: float | None, reading_seconds: float = 0.0) -> float:
        """This batch samples until the wait's deadline or the invocation's, whichever comes first.

        A reading started at the batch's end may take ``reading_seconds`` (the probe timeout) to come back:
        it must still be back before the invocation ends.
        """
        return self.deadline if invocation_end is None else min(self.deadline, invocation_end - reading_seconds)


# The drill machine's TimeoutSeconds (statemachines/drill.asl.json; an ASL test keeps them equal). Every wait
# continues across invocations, but not past the execution's own limit: the machine would time out mid-drill.
DRILL_MACHINE_SECONDS = 7200
# The safety net's TimeoutSeconds (statemachines/safety-net.asl.json): it renews the drill's lock for this long.
SAFETY_NET_MACHINE_SECONDS = 10800


def waits_beyond_the_machine(sampling: Any, approval_timeout_seconds: float | None) -> list[tuple[str, str]]:
    """The fields whose waits, added up, outlast the drill machine: preflight refuses the drill naming them.

    Steady state, observation, the Restore loop and verification may each wait their whole timeout or budget (an
    approval wait too, on a protected environment); together they must fit in the execution's maximum duration.
    """
    waits = {
        "sampling.steady_state_timeout_seconds": float(sampling.steady_state_timeout_seconds),
        "sampling.observe_timeout_seconds": float(sampling.observe_timeout_seconds),
        "sampling.restore_budget_seconds": float(sampling.restore_budget),  # the Restore loop's own wait
        "sampling.restore_timeout_seconds": float(sampling.restore_timeout_seconds),
    }
    if approval_timeout_seconds:
        waits["ApprovalTimeoutSeconds (protected environment)"] = float(approval_timeout_seconds)
    total = sum(waits.values())
    if total <= DRILL_MACHINE_SECONDS:
        return []
    problem = (
        f"the drill's waits add up to {total:g}s ({' + '.join(f'{v:g}' for v in waits.values())}), more than the "
        f"drill machine's {DRILL_MACHINE_SECONDS}s maximum duration; shorten them"
    )
    return [(field, problem) for field in waits if field.startswith("sampling.")]
