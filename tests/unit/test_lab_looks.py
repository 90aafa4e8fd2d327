"""The lab's physics threads look at the local cloud's state when told, when due, or after a guard: never on a poll."""

from __future__ import annotations

import threading
import time

from drillkit_lab.extensions import LabExtensions
from drillkit_lab.physics.looks import Looks

from ..loopback import eventually
from ..wsgi import signed


class Looker:
    """A physics thread's look: counts the looks and answers the next due time it is given."""

    def __init__(self, due_in: float | None = None) -> None:
        self.times: list[float] = []
        self.due_in = due_in

    def __call__(self) -> float | None:
        self.times.append(time.monotonic())
        due_in, self.due_in = self.due_in, None  # due once
        return due_in


def _running(looks: Looks, looker: Looker) -> threading.Thread:
    thread = threading.Thread(target=looks.run, args=(looker,), daemon=True)
    thread.start()
    assert eventually(lambda: len(looker.times) == 1, 2)  # the first look, at once
    return thread


def test_a_thread_that_is_not_told_looks_only_after_its_guard():
    looks, looker = Looks(guard=30), Looker()
    thread = _running(looks, looker)
    time.sleep(0.3)
    assert len(looker.times) == 1  # no poll
    looks.stop()
    thread.join(1)
    assert not thread.is_alive()


def test_told_it_looks_at_once():
    looks, looker = Looks(guard=30), Looker()
    thread = _running(looks, looker)
    told = time.monotonic()
    looks.look_again()
    assert eventually(lambda: len(looker.times) == 2, 2)
    assert looker.times[1] - told < 5.0  # not the guard's 30 s
    looks.stop()
    thread.join(1)


def test_it_looks_again_at_its_own_due_time():
    looks, looker = Looks(guard=30), Looker(due_in=0.2)
    thread = _running(looks, looker)
    assert eventually(lambda: len(looker.times) == 2, 5)  # long before the guard's 30 s
    looks.stop()
    thread.join(1)
    assert looker.times[1] - looker.times[0] >= 0.2


def test_with_nothing_due_and_nothing_told_it_looks_again_after_its_guard():
    looks, looker = Looks(guard=0.3), Looker()
    thread = _running(looks, looker)
    assert eventually(lambda: len(looker.times) == 3, 5)
    looks.stop()
    thread.join(1)
    assert all(later - earlier >= 0.3 for earlier, later in zip(looker.times, looker.times[1:], strict=False))


def test_a_call_that_may_change_a_service_tells_its_watchers_and_a_read_does_not():
    answered: list[str] = []

    def moto(environ, start_response):
        answered.append(environ["wsgi.input"].read().decode())  # the body is still there for moto
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<ok/>"]

    extensions = LabExtensions(moto, physics=None, runtime=None)
    told: list[tuple[str, str]] = []
    extensions.watch(("ec2", "elasticloadbalancing"), lambda: told.append(("alb", answered[-1])))
    extensions.watch(("ec2",), lambda: told.append(("other", answered[-1])))
    calls = [
        signed("ec2", "POST", form={"Action": "DescribeSecurityGroups"}),  # a read, sent as a POST
        signed("ec2", "POST", form={"Action": "RevokeSecurityGroupIngress", "GroupId": "sg-1"}),
        signed("elasticloadbalancing", "POST", form={"Action": "DescribeTargetHealth"}),
        signed("elasticloadbalancing", "POST", form={"Action": "DeregisterTargets"}),
        signed("ecs", "POST", body=b"{}"),  # a service nobody watches
    ]
    for environ in calls:
        extensions(environ, lambda status, headers: None)

    assert len(answered) == len(calls)
    revoke = "Action=RevokeSecurityGroupIngress&GroupId=sg-1"
    assert told == [("alb", revoke), ("other", revoke), ("alb", "Action=DeregisterTargets")]
