"""The minimal two-region stack, created through the local cloud's AWS APIs.

A hosted zone with a public name, PRIMARY and SECONDARY failover A records, a health
check on the primary, and an HTTP app per region on its own loopback address.
"""

from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from drillkit_lab.physics.apps import RegionApp

ZONE_NAME = "drillkit.lab."
PUBLIC_NAME = "app.drillkit.lab."


@dataclass(frozen=True)
class RegionSpec:
    role: str
    region: str
    address: str


DEFAULT_REGIONS = (
    RegionSpec("primary", "us-east-1", "127.10.0.1"),
    RegionSpec("standby", "us-west-2", "127.20.0.1"),
)


def common_free_port(addresses: list[str]) -> int:
    """A TCP port free on every address, so both regions listen on the same port."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind((addresses[0], 0))
            port = first.getsockname()[1]
            try:
                for address in addresses[1:]:
                    with socket.socket() as other:
                        other.bind((address, port))
            except OSError:
                continue
        return int(port)
    raise RuntimeError(f"no common free port on {addresses}")


class TwoRegionStack:
    def __init__(self, session: Any, health_interval: int = 1, failure_threshold: int = 3, ttl: int = 1):
        self.session = session
        self.health_interval = health_interval
        self.failure_threshold = failure_threshold
        self.ttl = ttl
        self.regions = DEFAULT_REGIONS
        self.apps: list[RegionApp] = []
        self.info: dict[str, Any] = {}

    def create(self) -> dict[str, Any]:
        port = common_free_port([r.address for r in self.regions])
        for spec in self.regions:
            app = RegionApp(spec.region, spec.address, port)
            app.start()
            self.apps.append(app)
        # The lab's intervals are shorter than Route 53 accepts (10 or 30 s); only client-side
        # validation stands in the way, so the lab's own client skips it.
        route53 = self.session.client("route53", config=Config(parameter_validation=False))
        zone = route53.create_hosted_zone(Name=ZONE_NAME, CallerReference=str(uuid.uuid4()))
        zone_id = zone["HostedZone"]["Id"].split("/")[-1]
        primary, standby = self.regions
        check = route53.create_health_check(
            CallerReference=str(uuid.uuid4()),
            HealthCheckConfig={
                "IPAddress": primary.address,
                "Port": port,
                "Type": "HTTP",
                "ResourcePath": "/health",
                "FullyQualifiedDomainName": PUBLIC_NAME.rstrip("."),
                "RequestInterval": self.health_interval,
                "FailureThreshold": self.failure_threshold,
            },
        )
        health_check_id = check["HealthCheck"]["Id"]
        route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "CREATE",
                        "ResourceRecordSet": {
                            "Name": PUBLIC_NAME,
                            "Type": "A",
                            "SetIdentifier": f"primary-{primary.region}",
                            "Failover": "PRIMARY",
                            "TTL": self.ttl,
                            "HealthCheckId": health_check_id,
                            "ResourceRecords": [{"Value": primary.address}],
                        },
                    },
                    {
                        "Action": "CREATE",
                        "ResourceRecordSet": {
                            "Name": PUBLIC_NAME,
                            "Type": "A",
                            "SetIdentifier": f"standby-{standby.region}",
                            "Failover": "SECONDARY",
                            "TTL": self.ttl,
                            "ResourceRecords": [{"Value": standby.address}],
                        },
                    },
                ]
            },
        )
        self.info = {
            "hosted_zone_id": zone_id,
            "hosted_zone": ZONE_NAME,
            "public_name": PUBLIC_NAME,
            "http_port": port,
            "regions": {
                "primary": {"region": primary.region, "dns_answer": primary.address, "health_check_id": health_check_id},
                "standby": {"region": standby.region, "dns_answer": standby.address, "health_check_id": None},
            },
        }
        return self.info

    def stop(self) -> None:
        for app in self.apps:
            app.stop()


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(f"lab not ready: {what} within {timeout:g}s")
