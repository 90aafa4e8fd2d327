"""Build a lab stack: provision it through the local cloud's AWS APIs, then bring it to life.

Provisioning (provision.py) is boto3 calls only, exactly what would exist in AWS. Bringing it to life is
the local parts that behave like it: the app servers behind each ALB, the ALBs and API Gateways, the ECS
services' task placement and the global database. They read the AWS-side state to behave; nothing here
calls an AWS API.
"""

from __future__ import annotations

import time
from typing import Any

from drillkit_lab.physics.alb import Backends, LoadBalancerPhysics
from drillkit_lab.physics.api import ApiPhysics
from drillkit_lab.physics.apps import RegionApp
from drillkit_lab.physics.database import Cluster, GlobalDatabase
from drillkit_lab.physics.ecs import EcsServicePhysics
from drillkit_lab.physics.groundtruth import GroundTruth
from drillkit_lab.physics.network import PEER_SERVICE_PORT, NetworkLatency, PeerEndpoint, PeeringLink, PeerService
from drillkit_lab.physics.route53 import Route53Physics
from drillkit_lab.ports import PortMap
from drillkit_lab.provision import (
    DRILLS_ALLOWED,
    UNVALIDATED,
    Provisioner,
    all_addresses,
    peer_service_address,
    peer_services,
    target_addresses,
)
from drillkit_lab.stackspec import Region, StackSpec
from drillkit_lab.tls import LabCertificates

__all__ = ["DRILLS_ALLOWED", "UNVALIDATED", "StackBuilder", "all_addresses", "target_addresses", "wait_until"]


class StackBuilder:
    def __init__(self, spec: StackSpec, session: Any, route53_physics: Route53Physics, ground_truth: GroundTruth, ports: PortMap):
        self.spec = spec
        self.session = session
        self.route53_physics = route53_physics
        self.ground_truth = ground_truth
        self.ports = ports
        self.apps: list[RegionApp] = []
        self.load_balancers: list[LoadBalancerPhysics] = []
        self.database: GlobalDatabase | None = None
        self.apis: list[ApiPhysics] = []
        self.services: list[EcsServicePhysics] = []
        self.peer_services: list[PeerService] = []
        self.tls: LabCertificates | None = None
        self.info: dict[str, Any] = {}
        self._provisioner: Provisioner | None = None

    def create(self, backends_for: Any, rds_backends: Any = None, work_dir: Any = None) -> dict[str, Any]:
        specs = self.spec.regions().values()
        if any(r.front == "apigw" for r in specs) or any(r.alb.listener.protocol == "HTTPS" for r in specs):
            api_names = [f"*.execute-api.{r.region}.amazonaws.com" for r in specs]
            self.tls = LabCertificates([self.spec.route53.public_name, *api_names], work_dir)
        self._provisioner = Provisioner(self.spec, self.session, self.tls)
        self.info = self._provisioner.create_serving()
        self._bring_to_life(self._provisioner, backends_for, rds_backends, work_dir)
        self.info["tls_ca_pem"] = self.tls.ca_pem if self.tls else None
        return self.info

    def create_data_stores(self) -> None:
        """The stack's replicated tables and buckets, into ``info`` (nothing the physics of ``create`` needs)."""
        assert self._provisioner is not None, "create the stack first"
        self.info.update(self._provisioner.create_data_stores(self.info["regions"]))

    # -- the physics: what runs locally to make the provisioned stack behave ------------------------
    def _bring_to_life(self, provisioner: Provisioner, backends_for: Any, rds_backends: Any, work_dir: Any) -> None:
        specs = self.spec.regions()
        database = self.spec.database
        if database is not None:
            self.database = GlobalDatabase(
                rds_backends,
                self.ground_truth,
                database.replication_lag_seconds,
                self.info["global_cluster_id"],
                failover_seconds=database.failover_seconds,
                switchover_seconds=database.switchover_seconds,
                rejoin_seconds=database.rejoin_seconds,
            )
            # Up before the apps whose deep /health queries it: their first health checks already pass.
            for role, info in self.info["regions"].items():
                kind = "writer" if role == "primary" else "reader"
                self.database.add(Cluster(role, info["region"], info["db_cluster_id"], info["db_cluster_arn"], kind))
            self.database.start()
        peers = self._peer_services(backends_for)
        for role, region in specs.items():
            info, backends = self.info["regions"][role], backends_for(region.region)
            if region.front == "apigw":
                self._api(role, region, info, backends)
            else:
                self._alb(role, region, info, backends, provisioner.load_balancer_names[role], peers.get(role))
        self.route53_physics.alias_ttl = self.spec.route53.ttl

    def _peer_services(self, backends_for: Any) -> dict[str, PeerEndpoint]:
        """Each peer_dependency's service in the other region's VPC, behind its link over the VPC peering."""
        endpoints = {}
        for role, other in peer_services(self.spec).items():
            link = peering_link(self.spec, self.info, role, backends_for, self.ground_truth)
            service = PeerService(peer_service_address(other), self.ports.real(PEER_SERVICE_PORT), link)
            service.start()
            self.peer_services.append(service)
            endpoints[role] = PeerEndpoint(service.address, service.port)
        return endpoints

    def _alb(
        self, role: str, region: Region, info: dict[str, Any], backends: Backends, name: str, peer: PeerEndpoint | None = None
    ) -> None:
        """The app servers (one per target), the ECS service's task placement, the ALB in front of them."""
        region_apps = []
        for address in target_addresses(region) if region.app.kind != "lambda" else []:
            deep = self._deep_health(role) if region.app.health == "deep" else None
            app = RegionApp(
                region.region, address, self.ports.real(region.app.port), region.app.health_path, region.app.healthy, deep, peer
            )
            app.start()
            self.apps.append(app)
            region_apps.append(app)
        if info["ecs_service"] is not None:
            service = EcsServicePhysics(
                backends.ecs,
                backends.elbv2,
                info["ecs_cluster"],
                info["ecs_service"],
                info["target_group_arn"],
                list(zip(region_apps, info["targets"], strict=True)),
                self.ground_truth,
            )
            service.start()
            self.services.append(service)
        balancer = LoadBalancerPhysics(
            name=name,
            arn=info["alb_arn"],
            address=region.address,
            logical_port=region.alb.listener.port,
            backends=backends,
            ports=self.ports,
            ground_truth=self.ground_truth,
            # A TLS listener's first answer also waits for the TLS 1.3 handshake's round trip, as API Gateway's does.
            latency=NetworkLatency(
                rtt_seconds=region.network_latency_ms / 1000,
                handshake_round_trips=2 if region.alb.listener.protocol == "HTTPS" else 1,
            ),
            tls=self.tls,
            peer=peer if region.app.kind == "lambda" else None,
        )
        balancer.start()
        self.load_balancers.append(balancer)
        self.route53_physics.hosts[info["alb_dns_name"].rstrip(".").lower()] = region.address

    def _api(self, role: str, region: Region, info: dict[str, Any], backends: Backends) -> None:
        """API Gateway's regional endpoint: TLS on the regional custom domain, the Lambda proxy integration."""
        assert self.tls is not None
        api = ApiPhysics(
            name=f"{self.spec.name[:20]}-{role}",
            address=region.address,
            region=region.region,
            function_name=info["function_arn"].split(":")[6],
            health_path=region.app.health_path,
            awslambda=backends.awslambda,
            ports=self.ports,
            tls=self.tls.server_context(),
            latency=NetworkLatency(rtt_seconds=region.network_latency_ms / 1000, handshake_round_trips=2),
        )
        api.start()
        self.apis.append(api)
        self.route53_physics.hosts[info["api_regional_domain_name"].lower()] = region.address

    def _deep_health(self, role: str) -> Any:
        return lambda: self.database is not None and self.database.healthy(role)

    def stop(self) -> None:
        for service in self.services:
            service.stop()
        if self.database is not None:
            self.database.stop()
        for api in self.apis:
            api.stop()
        for balancer in self.load_balancers:
            balancer.stop()
        for app in self.apps:
            app.stop()
        for service in self.peer_services:
            service.stop()


def peering_link(
    spec: StackSpec, info: dict[str, Any], role: str, backends_for: Any, ground_truth: GroundTruth | None = None, **options: Any
) -> PeeringLink:
    """The path from `role`'s app (the ALB's subnets, where its tasks or instances run; a function's own subnets)
    to its dependency in the other region's VPC (in that VPC's first ALB subnet), over the regions' peering."""
    other = "standby" if role == "primary" else "primary"
    source = backends_for(spec.regions()[role].region)
    subnets = list(info["regions"][role]["alb_subnet_ids"])
    targets = info["regions"][role]["targets"]
    if spec.regions()[role].app.kind == "lambda" and targets:
        function = source.awslambda.get_function(str(targets[0]["Id"]).split(":")[6])
        subnets = list((function.vpc_config or {}).get("SubnetIds") or [])
    return PeeringLink(
        source=source.ec2,
        source_subnets=tuple(subnets),
        destination=backends_for(spec.regions()[other].region).ec2,
        destination_subnet=info["regions"][other]["alb_subnet_ids"][0],
        ground_truth=ground_truth,
        **options,
    )


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)  # the conditions are cheap to look at: a longer poll would only add to the lab's start
    raise TimeoutError(f"lab: {what} not reached after {timeout:g}s")
