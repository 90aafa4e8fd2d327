from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_xray_sdk.core  # noqa: F401 (see WITHOUT_SOCKETS)
import pytest
import yaml
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from drillkit_lab.extensions import share_botocore_loader, skip_public_amis

from .scheduling import group_of, schedule

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
DEMO_SCENARIO = ROOT / "scenarios" / "region-failover-health-check.yaml"
DRILL_DAY = "2026-11-22 10:00:00"
# Folders whose tests reach no network: moto's mock_aws and Stubber answer in-process. Lab tests need sockets.
# The X-Ray SDK (powertools Tracer, imported with every handler) creates its UDP emitter's socket when it is
# imported; it sends nothing while the Tracer is off (outside Lambda). It is imported here, before sockets are refused.
WITHOUT_SOCKETS = ("unit", "functional")
LOOPBACK = ["127.0.0.1"]

# mock_aws drops boto3's default session at each start, and moto builds every backend from a fresh Session: each
# test that opens an account would parse again every AWS API model it touches (about a second a test).
share_botocore_loader()
# moto's catalogue of public AMIs: about 0.6 s a region for every test that touches EC2, and no test uses them. As
# in the lab; a test that wants the catalogue can still set MOTO_EC2_LOAD_DEFAULT_AMIS itself.
skip_public_amis()


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown (and unused) under -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` (--dist loadfile): whole modules to each worker, but the two long lab modules of independent
    drills go out in groups (tests/scheduling.py) that other workers can take."""
    if config.getoption("dist", None) != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LabGroupScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return LabGroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The order in which `make test`'s workers take the groups (tests/scheduling.py); pytest-socket refuses every
    socket to unit and functional tests, and a ``loopback`` test may reach 127.0.0.1 only."""
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        groups.setdefault(group_of(item.nodeid), []).append(item)
    # xdist's workers collect, and know how many they are from this variable (their -n option is cleared).
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    order = schedule(list(groups), workers)
    items[:] = [item for name in order for item in groups[name]]
    for item in items:
        if item.path.resolve().relative_to(TESTS).parts[0] not in WITHOUT_SOCKETS:
            continue
        # A test whose account has a real standby server (functional/conftest.standby_server) reaches it on loopback.
        if item.get_closest_marker("loopback") or "standby_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.allow_hosts(LOOPBACK))
        else:
            item.add_marker(pytest.mark.disable_socket)


@pytest.fixture
def scenario_dict() -> dict:
    """The demo scenario without what only the lab provides (its alarm, its database for the heartbeat)."""
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    scenario.pop("alarms", None)
    scenario.pop("data", None)
    for name in ("alerting_seconds", "client_cutover_seconds", "rpo_seconds"):
        scenario["objectives"].pop(name, None)
    return scenario


@pytest.fixture
def frozen_clock() -> Iterator[FrozenDateTimeFactory]:
    """The clock stands at DRILL_DAY and moves only when the code sleeps or the test ticks it.

    A sleep moves the frozen clock by its length at once: a wait of seconds takes no time, and how many readings
    fit in it is exact rather than up to the machine's load.
    """
    with freeze_time(DRILL_DAY) as frozen, pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "sleep", frozen.tick)
        yield frozen
