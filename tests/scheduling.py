"""How `make test` deals the suite out to its xdist workers: by module, except two lab modules of independent drills.

Each worker runs one group at a time, on its own labs (own ports, own work directory). A module's tests stay
together (they share its module-scoped lab or drill), except test_harness (one group per broken state, on the
session's lab) and test_scenarios (one group per stack, the default stack's scenarios over three groups): those
are the two longest modules, and as whole modules one worker ran each for three to four minutes while the others
sat idle at the end of the run. The longest groups are handed out first, and the modules without a lab go out
between the lab groups (``schedule``).

pytest-xdist's own --dist loadgroup cannot apply xdist_group marks under pytest 9 (it suffixes node ids, which
pytest 9 no longer allows), so tests/conftest.py gives --dist loadfile a scheduler that splits by ``group_of``, and
orders the collected items by ``schedule`` (xdist hands the groups out in that order under --no-loadscope-reorder).
Plain node ids, no imports beyond the standard library: the xdist controller calls it, and it collects nothing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAB_TESTS = "tests/lab/"
DEFAULT_SCENARIO_GROUPS = 3  # the default stack's scenarios, dealt out over this many groups
# Seconds each module (or group) took in a `make test` on this 2-core machine (three workers; docs/performance.md,
# "Time to test"); a module not listed weighs 10. Only their order matters: the heaviest start first.
WEIGHTS = {
    "test_harness.py::Observe": 47,
    "test_harness.py::Report": 47,
    "test_harness.py::Restore": 41,
    "test_harness.py::VerifyRestore": 39,
    "test_scenarios.py::default-0": 55,
    "test_scenarios.py::default-1": 33,
    "test_scenarios.py::default-2": 35,
    "test_scenarios.py::ec2-asg": 43,
    "test_scenarios.py::apigw": 31,
    "test_scenarios.py::alb-lambda": 29,
    "test_gameday.py": 93,
    "test_aurora_global_restore.py": 76,
    "test_guardrails.py": 72,
    "test_lab_faithfulness.py": 63,
    "test_defects.py": 52,
    "test_defects_network.py": 52,
    "test_safety_net.py": 49,
    "test_waits.py": 44,
    "test_lab_cli.py": 36,
    "test_data_stores.py": 36,
    "test_evidence_export.py": 31,
    "test_replication_physics.py": 25,
    "test_lifecycle.py": 23,
    "test_route53_rates.py": 20,
    "test_alb_connections.py": 20,
    "test_network_latency.py": 18,
    "test_defects_other_region.py": 14,
}


@cache
def _default_scenarios() -> list[str]:
    return sorted(path.stem for path in (ROOT / "scenarios").glob("*.yaml"))


def group_of(nodeid: str) -> str:
    """A test's group: its module's path, or for the two split lab modules the path and the part that runs apart."""
    path, _, test = nodeid.partition("::")
    module = path.rsplit("/", 1)[-1]
    param = test[test.index("[") + 1 : -1] if test.endswith("]") and "[" in test else None
    if module == "test_harness.py" and param:  # ids "<state>-<kind>"
        return f"{path}::{param.split('-', 1)[0]}"
    if module == "test_scenarios.py" and param:  # ids "<stack>/<scenario>", or "<stack>" for a stack's own tests
        stack, _, scenario = param.partition("/")
        if stack == "default" and scenario in _default_scenarios():
            return f"{path}::default-{_default_scenarios().index(scenario) % DEFAULT_SCENARIO_GROUPS}"
        return f"{path}::{stack}"
    return path


def weight(group: str) -> float:
    """A group's weight in seconds (WEIGHTS names groups by their module's file name)."""
    path, sep, part = group.partition("::")
    return WEIGHTS.get(path.rsplit("/", 1)[-1] + sep + part, 10)


def schedule(groups: list[str], workers: int) -> list[str]:
    """The order in which the workers take groups: the heaviest lab groups first, one per worker, then each next lab
    group followed by a share of the modules without a lab.

    A lab test spends much of its time waiting on the lab's real timings (a fifth of both cores sat idle while only
    lab tests ran), and the unit and functional tests are CPU alone: handed out last, they kept all four workers
    busy for the run's last fifty seconds; spread between the lab groups, they fill the cores the drills leave idle.
    """
    lab = sorted((g for g in groups if g.startswith(LAB_TESTS)), key=lambda name: (-weight(name), name))
    others = [g for g in groups if not g.startswith(LAB_TESTS)]
    head, rest = lab[:workers], lab[workers:]
    order = list(head)
    share = -(-len(others) // max(1, len(rest)))  # ceiling: every module placed by the last lab group
    for index, group in enumerate(rest):
        order.append(group)
        order.extend(others[index * share : (index + 1) * share])
    order.extend(others[len(rest) * share :])
    return order
