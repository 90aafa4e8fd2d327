"""An Application Load Balancer brought to life on its own loopback address.

It reads its own configuration from the local cloud (security groups, subnets and their network
ACLs, listener, target group and registered targets) for every decision, so a drill that changes
them through the AWS API changes what clients see:

- new connections are accepted only while a security-group rule allows the listener port from the
  internet (0.0.0.0/0) and the subnets' network ACLs allow it; otherwise connections time out, as
  at a blocked ALB: the lab stops accepting and shrinks the listen queue, so the kernel drops SYNs
  instead of refusing them;
- requests go to registered targets that pass the target group's health check; when every
  registered target is unhealthy the ALB fails open and uses them all; with none registered it
  answers 503;
- connections already established outlive a security-group change, as tracked connections do in
  AWS; a network ACL applies to every packet, so while one blocks the listener an established
  connection's requests get no answer (they stall); a connection idle for the load balancer's
  `idle_timeout.timeout_seconds` (60 s by default) is closed;
- a deregistered target drains for the target group's `deregistration_delay.timeout_seconds`:
  DescribeTargetHealth lists it as `draining` and it gets no new requests; registering it again
  ends the draining (moto alone forgets it at once, see install_target_draining).
"""

from __future__ import annotations

import http.client
import io
import itertools
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from drillkit_lab.physics.apps import REGION_HEADER
from drillkit_lab.physics.groundtruth import GroundTruth
from drillkit_lab.physics.looks import Looks
from drillkit_lab.physics.network import LabHTTPServer, NetworkLatency, PeerEndpoint, Serving, function_has_egress
from drillkit_lab.ports import PortMap
from drillkit_lab.tls import LabCertificates

INTERNET = ("0.0.0.0/0", "::/0")
# Target group ARN -> the ALB physics that checks its targets, for DescribeTargetHealth.
BY_TARGET_GROUP: dict[str, LoadBalancerPhysics] = {}
# EC2 instance id -> the loopback address its app listens on (instance targets are registered by id).
INSTANCE_ADDRESSES: dict[str, str] = {}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@dataclass
class TargetState:
    healthy: bool | None = None  # None: "initial", not yet judged
    successes: int = 0
    failures: int = 0
    # Why the last check failed, in DescribeTargetHealth's words (TargetHealth Reason and Description).
    reason: str = "Target.FailedHealthChecks"
    description: str = "Health checks failed"

    def observe(self, ok: bool, healthy_after: int, unhealthy_after: int) -> None:
        """One health check's result. A newly registered target (`initial`) is healthy after one passing check; the
        healthy threshold brings an unhealthy target back, the unhealthy threshold takes one out (from `initial` too).
        ALB guide, "Health checks for your target groups": "it must pass one health check to be considered healthy"."""
        self.successes, self.failures = (self.successes + 1, 0) if ok else (0, self.failures + 1)
        if self.successes >= (1 if self.healthy is None else healthy_after):
            self.healthy = True
        elif self.failures >= unhealthy_after:
            self.healthy = False


@dataclass
class Backends:
    """The local cloud's in-memory state this ALB reads (same process as the lab's moto)."""

    ec2: Any
    elbv2: Any
    awslambda: Any = None
    ecs: Any = None
    acm: Any = None


def is_lambda(target_id: str) -> bool:
    return target_id.startswith("arn:aws:lambda:")


@dataclass
class Draining:
    """A deregistered target still listed by DescribeTargetHealth until ``until`` (epoch seconds)."""

    target: dict[str, Any]  # {Id, Port} as it was registered
    until: float


def draining_targets(group: Any) -> dict[str, Draining]:
    """Target id -> its drain, kept on moto's target group (moto keys targets by id too)."""
    found: dict[str, Draining] | None = getattr(group, "lab_draining", None)
    if found is None:
        found = group.lab_draining = {}
    return found


def deregistration_delay(group: Any) -> float:
    if getattr(group, "target_type", None) == "lambda":
        return 0.0  # a Lambda target has no connections to drain
    return float(group.attributes.get("deregistration_delay.timeout_seconds", 300))


def _record_drain(group: Any, target: dict[str, Any], draining: bool, reason: str, **fields: Any) -> None:
    physics = BY_TARGET_GROUP.get(group.arn)
    if physics is not None:
        physics.ground_truth.record(
            "target_draining", target_group=group.arn, target=target, draining=draining, reason=reason, **fields
        )


@dataclass
class LoadBalancerPhysics:
    name: str
    arn: str
    address: str
    logical_port: int
    backends: Backends
    ports: PortMap
    ground_truth: GroundTruth
    latency: NetworkLatency = NetworkLatency()  # between the internet's clients and this region
    tls: LabCertificates | None = None  # the lab's CA: an HTTPS listener presents its ACM certificate
    peer: PeerEndpoint | None = None  # a Lambda target's dependency in the other region's VPC (peer_dependency)
    targets: dict[str, TargetState] = field(default_factory=dict)
    _round_robin: Any = field(default_factory=lambda: itertools.count())
    _stop: threading.Event = field(default_factory=threading.Event)
    _looks: Looks = field(default_factory=Looks)  # the watch's: told by EC2 and ELB calls (look_again)
    _serving: Serving | None = None  # the listener: new connections only while reachable
    _threads: list[threading.Thread] = field(default_factory=list)
    _reachable: bool | None = None
    _acls_allow: bool = True

    # -- configuration, read from the local cloud on every decision --------------------
    def _load_balancer(self) -> Any | None:
        return self.backends.elbv2.load_balancers.get(self.arn)

    def listener(self) -> Any | None:
        load_balancer = self._load_balancer()
        if load_balancer is None:
            return None
        return next((x for x in list(load_balancer.listeners.values()) if int(x.port) == self.logical_port), None)

    def tls_context(self) -> ssl.SSLContext | None:
        """An HTTPS listener presents its ACM certificate only while ACM has it ISSUED; None: no handshake completes."""
        listener = self.listener()
        if listener is None or self.tls is None or self.backends.acm is None or not listener.certificate:
            return None
        try:
            bundle = self.backends.acm.get_certificate(listener.certificate)
        except Exception:  # noqa: BLE001 moto's CertificateNotFound: a deleted certificate serves nothing
            return None
        if bundle.status != "ISSUED":
            return None
        return self.tls.context_for(bundle.cert, bundle.key)

    def https(self) -> bool:
        listener = self.listener()
        return listener is not None and str(listener.protocol) == "HTTPS"

    def target_group(self) -> Any | None:
        listener = self.listener()
        if listener is not None:
            for action in listener.default_actions:
                arn = action.data.get("TargetGroupArn") or _forward_group(action.data)
                if arn:
                    return self.backends.elbv2.target_groups.get(arn)
        return None

    def _allowed_by_security_groups(self) -> bool:
        load_balancer = self._load_balancer()
        if load_balancer is None:
            return False
        for group_id in list(load_balancer.security_groups or []):
            group = self.backends.ec2.get_security_group_from_id(group_id)
            if group is None:
                continue
            for rule in list(group.ingress_rules):
                covers_port = rule.ip_protocol == "-1" or (
                    rule.ip_protocol in ("tcp", "6") and rule.from_port <= self.logical_port <= rule.to_port
                )
                from_internet = (rule.ip_range or {}).get("CidrIp") in INTERNET or (rule.ip_range or {}).get(
                    "CidrIpv6"
                ) in INTERNET
                if covers_port and from_internet:
                    return True
        return False

    def _allowed_by_network_acls(self) -> bool:
        """Reachable while at least one of its subnets' network ACLs lets the listener port in."""
        load_balancer = self._load_balancer()
        if load_balancer is None:
            return False
        subnet_ids = [getattr(s, "id", s) for s in list(load_balancer.subnets)]
        acls = list(self.backends.ec2.network_acls.values())
        for subnet_id in subnet_ids:
            acl = next((a for a in acls if any(x.subnet_id == subnet_id for x in a.associations)), None)
            if acl is None or _acl_allows(acl, self.logical_port):
                return True
        return not subnet_ids

    def reachable(self) -> bool:
        return self._allowed_by_security_groups() and self._acls_allow

    def idle_timeout(self) -> float:
        load_balancer = self._load_balancer()
        attributes = getattr(load_balancer, "attrs", None) or {}
        return float(attributes.get("idle_timeout.timeout_seconds") or 60)

    def registered(self) -> list[tuple[str, int]]:
        group = self.target_group()
        if group is None:
            return []
        return [(t["Id"], 0 if is_lambda(t["Id"]) else int(t.get("Port") or group.port)) for t in list(group.targets.values())]

    # -- the target group's own health checks ---------------------------------------------
    def _health_settings(self) -> tuple[str, float, int, int]:
        group = self.target_group()
        if group is None:
            return "/", 5.0, 2, 2
        return (
            group.health_check_path or "/",
            float(group.health_check_interval_seconds or 30),
            int(group.healthy_threshold_count or 5),
            int(group.unhealthy_threshold_count or 2),
        )

    def _check_targets(self) -> None:
        while not self._stop.is_set():
            path, interval, healthy_after, unhealthy_after = self._health_settings()
            current = self.registered()
            for key in [k for k in list(self.targets) if k not in {f"{a}:{p}" for a, p in current}]:
                del self.targets[key]
            for address, port in current:
                key = f"{address}:{port}"
                state = self.targets.setdefault(key, TargetState())
                if is_lambda(address):
                    continue  # Lambda target groups have health checks off by default: the target stays unjudged
                ok, reason, description = _health_probe(
                    INSTANCE_ADDRESSES.get(address, address), self.ports.real(port), path, timeout=min(2.0, interval * 0.8)
                )
                if not ok:
                    state.reason, state.description = reason, description
                before = state.healthy
                state.observe(ok, healthy_after, unhealthy_after)
                if state.healthy != before and state.healthy is not None:
                    self.ground_truth.record("target_health", load_balancer=self.name, target=key, healthy=state.healthy)
            self._stop.wait(interval)

    def targets_judged(self) -> bool:
        """Every registered target (but a Lambda's, never checked) has a health verdict, healthy or not."""
        for address, port in self.registered():
            state = self.targets.get(f"{address}:{port}")
            if not is_lambda(address) and (state is None or state.healthy is None):
                return False
        return True

    def route(self) -> tuple[str, int] | None:
        """A target for the next request: healthy ones, else all (fail open), else none."""
        registered = self.registered()
        if not registered:
            return None
        healthy = [t for t in registered if self.targets.get(f"{t[0]}:{t[1]}", TargetState()).healthy]
        pool = healthy or registered
        return pool[next(self._round_robin) % len(pool)]

    # -- the listener ----------------------------------------------------------------------
    def start(self) -> None:
        physics = self
        group = self.target_group()
        if group is not None:
            BY_TARGET_GROUP[group.arn] = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                self.handshake_failed = physics.https() and not physics.secure(self)
                if self.handshake_failed:
                    self.rfile, self.wfile = io.BytesIO(), io.BytesIO()  # nothing more is read or written
                    return
                super().setup()
                # Read per connection: the attribute may change. Idle this long, the connection is closed.
                self.connection.settimeout(physics.idle_timeout())

            def handle(self) -> None:
                if not self.handshake_failed:
                    super().handle()

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if physics._held_by_network_acls(self):
                    return
                try:
                    physics._forward(self)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up on a stalled request
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = LabHTTPServer((self.address, self.ports.real(self.logical_port)), Handler)
        # Blocked, the listener accepts nothing and the kernel drops the SYNs: clients see timeouts.
        self._serving = Serving(self.server, f"alb-{self.name}-accept", lambda: bool(self._reachable))
        for target, name in ((self._check_targets, "targets"), (lambda: self._looks.run(self._watch), "watch")):
            thread = threading.Thread(target=target, name=f"alb-{self.name}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._looks.stop()
        for thread in self._threads:
            thread.join(timeout=3)
        if self._serving is not None:
            self._serving.stop()

    def look_again(self) -> None:
        """An EC2 or ELB call may have changed the security groups, network ACLs, subnets or drains the ALB follows."""
        self._looks.look_again()

    def _watch(self) -> float | None:
        """One look at what makes the ALB reachable, and at its drains; the seconds until the next drain ends."""
        self._acls_allow = self._allowed_by_network_acls()
        reachable = self.reachable()
        if reachable != self._reachable:
            self._reachable = reachable
            self.ground_truth.record("alb_reachable", load_balancer=self.name, reachable=reachable)
            if self._serving is not None:
                self._serving.look_again()  # the listener opens or closes now
        return self._end_drains()

    def _end_drains(self) -> float | None:
        """Targets whose deregistration delay has passed leave DescribeTargetHealth; the seconds until the next does."""
        group = self.target_group()
        if group is None:
            return None
        drains = draining_targets(group)
        now = time.time()
        for target_id in [i for i, d in list(drains.items()) if d.until <= now]:
            ended = drains.pop(target_id, None)
            if ended is not None:
                _record_drain(group, ended.target, False, "delay elapsed")
        return min((d.until - now for d in list(drains.values())), default=None)

    def secure(self, handler: Any) -> bool:
        """The TLS handshake on a new connection to an HTTPS listener (the certificate read at each handshake).

        A listener whose certificate ACM does not hold as ISSUED (pending validation, expired) completes no
        handshake: the connection is closed before any certificate is presented. False when that happened.
        """
        context = self.tls_context()
        if context is None:
            handler.request.close()
            return False
        try:
            handler.request = context.wrap_socket(handler.request, server_side=True)
        except (ssl.SSLError, OSError):  # the client refused the certificate (it does not cover the name)
            return False
        return True

    def _held_by_network_acls(self, handler: BaseHTTPRequestHandler) -> bool:
        """A request on an established connection while a network ACL blocks the listener gets no answer.

        Security groups are not consulted here: the connection was admitted, and a tracked connection
        outlives a rule change. An ACL drops every packet, so the request waits (as TCP retransmits)
        until the ACL lets it through, or the connection is closed once idle for the idle timeout.
        True when the connection was closed instead of served.
        """
        deadline = time.monotonic() + self.idle_timeout()
        while not self._acls_allow:
            if self._stop.is_set() or time.monotonic() >= deadline:
                handler.close_connection = True
                return True
            self._stop.wait(0.05)
        return False

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        self.latency.before_response(handler)
        target = self.route()
        if target is None:
            _reply(handler, 503, b"503 Service Temporarily Unavailable", {"Server": "awselb/2.0"})
            return
        address, port = target
        if is_lambda(address):
            self._invoke(address, handler)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-For"] = handler.client_address[0]
        status, body, passed = forward_to_target(
            INSTANCE_ADDRESSES.get(address, address), self.ports.real(port), handler.path, headers, self.idle_timeout()
        )
        _reply(handler, status, body, passed)

    def _invoke(self, function_arn: str, handler: BaseHTTPRequestHandler) -> None:
        """The ALB invokes the function directly; reserved concurrency 0 throttles every invocation."""
        name, region = function_arn.split(":")[6], function_arn.split(":")[3]
        try:
            function = self.backends.awslambda.get_function(name)
        except Exception:  # noqa: BLE001 moto raises its own not-found error
            function = None
        if function is None:
            _reply(handler, 502, b"502 Bad Gateway", {"Server": "awselb/2.0"})
            return
        if str(function.reserved_concurrency) == "0":
            _reply(handler, 503, b"503 Service Temporarily Unavailable", {"Server": "awselb/2.0"})
            return
        if not function_has_egress(self.backends.ec2, function.vpc_config):
            # The app calls its region's AWS APIs on every request: from a VPC without a NAT route the call never
            # connects, the function runs into its timeout, and the ALB answers 502 for a failed invocation.
            self._stop.wait(min(float(function.timeout or 3), 5.0))
            _reply(handler, 502, b"502 Bad Gateway", {"Server": "awselb/2.0"})
            return
        if self.peer is not None and not self.peer.answers(timeout=min(float(function.timeout or 3), 5.0)):
            # Its dependency in the other region's VPC is reached over the peering: a connection the peering does not
            # carry times out, the function runs into its timeout, and the ALB answers 502.
            _reply(handler, 502, b"502 Bad Gateway", {"Server": "awselb/2.0"})
            return
        body = json.dumps({"region": region, "status": "ok", "function": name}).encode()
        _reply(handler, 200, body, {"Content-Type": "application/json", REGION_HEADER: region})


TARGET_CONNECT_TIMEOUT = 10.0  # seconds: the ALB's fixed connection timeout to a target
ELB_HEADERS = {"Server": "awselb/2.0"}


def forward_to_target(
    host: str, port: int, path: str, headers: dict[str, str], idle_timeout: float, connect_timeout: float = TARGET_CONNECT_TIMEOUT
) -> tuple[int, bytes, dict[str, str]]:
    """One request to an instance or IP target: its answer, or the ALB's own error as the ALB guide words them.

    504 when no connection is made within the connection timeout or the target, once connected, sends nothing for
    the load balancer's idle timeout; 502 when the target refuses or resets the connection or answers malformed.
    """
    connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
    try:
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(idle_timeout)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
    except TimeoutError:
        return 504, b"504 Gateway Time-out", dict(ELB_HEADERS)
    except (OSError, http.client.HTTPException):
        return 502, b"502 Bad Gateway", dict(ELB_HEADERS)
    finally:
        connection.close()
    passed = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length", "server"}}
    return response.status, body, passed


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _health_probe(address: str, port: int, path: str, timeout: float) -> tuple[bool, str, str]:
    """One target health check: (passed, Reason, Description) as DescribeTargetHealth words a failure."""
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "ELB-HealthChecker/2.0"})
        response = connection.getresponse()
        response.read()
        if 200 <= response.status < 300:  # the target group's default matcher: 200
            return True, "", ""
        return False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{response.status}]"
    except TimeoutError:
        return False, "Target.Timeout", "Request timed out"
    except (OSError, http.client.HTTPException):
        return False, "Target.FailedHealthChecks", "Health checks failed"
    finally:
        connection.close()


def _forward_group(action: dict[str, Any]) -> str | None:
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    return groups[0].get("TargetGroupArn") if groups else None


def _acl_allows(acl: Any, port: int) -> bool:
    inbound = sorted(
        (e for e in list(acl.network_acl_entries) if str(e.egress).lower() != "true"), key=lambda e: int(e.rule_number)
    )
    for entry in inbound:
        if entry.cidr_block not in INTERNET and entry.ipv6_cidr_block not in INTERNET:
            continue
        if str(entry.protocol) not in ("-1", "6", "tcp"):
            continue
        low, high = entry.port_range_from, entry.port_range_to
        if str(entry.protocol) != "-1" and low is not None and not int(low) <= port <= int(high):
            continue
        return entry.rule_action == "allow"
    return False
