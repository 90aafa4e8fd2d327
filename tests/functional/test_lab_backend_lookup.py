"""The lab's local cloud finds a request's moto backend as moto does, but works each host out once
(drillkit_lab.extensions.remember_backends_by_host)."""

from __future__ import annotations

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from drillkit_lab import extensions

HOSTS = [
    "dynamodb.us-east-1.amazonaws.com",
    "states.us-west-2.amazonaws.com",
    "route53.amazonaws.com",
    "elasticloadbalancing.us-east-1.amazonaws.com",
    "s3.amazonaws.com",
    "moto_api",
    None,
]


def test_each_host_gets_motos_own_backend_and_moto_works_it_out_once(monkeypatch: pytest.MonkeyPatch):
    # Given moto's lookup, counted, and the lab's on top of it (both undone after the test)
    monkeypatch.setattr(DomainDispatcherApplication, "get_backend_for_host", DomainDispatcherApplication.get_backend_for_host)
    motos = DomainDispatcherApplication.get_backend_for_host
    asked: list[str | None] = []

    def counted(self, host):
        asked.append(host)
        return motos(self, host)

    monkeypatch.setattr(DomainDispatcherApplication, "get_backend_for_host", counted)
    extensions.remember_backends_by_host()
    app = DomainDispatcherApplication(create_backend_app)
    # When every host is asked for three times
    answers = [app.get_backend_for_host(host) for _ in range(3) for host in HOSTS]
    # Then each answer is moto's, and moto was asked once per host
    assert answers == [motos(app, host) for _ in range(3) for host in HOSTS]
    assert answers[:4] == ["dynamodb", "stepfunctions", "route53", "elb"]
    assert asked == HOSTS
