"""Removing a drill's heartbeats from every copy of a store: each copy's problem named, a copy already clean none."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from drillkit.errors import AwsCallFailed, DrillError


def problems(removals: Iterable[Callable[[], None]], absent: frozenset[str]) -> list[str]:
    """Run every removal, whatever the others do; the problems, as their errors say them.

    A removal that fails with one of the service's ``absent`` error codes found nothing to remove: no problem.
    """
    found = []
    for remove in removals:
        try:
            remove()
        except AwsCallFailed as error:
            if error.code not in absent:
                found.append(str(error))
        except DrillError as error:
            found.append(str(error))
    return found
