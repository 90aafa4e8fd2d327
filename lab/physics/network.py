"""The network: round trips between regions, packets that are dropped, and the paths out of a VPC.

Regions are tens to hundreds of milliseconds apart (a Lambda in one region calling an ALB in
another). The lab's front doors run on loopback, where a round trip takes microseconds, so they
wait out the region's round trips before answering. The kernel completes the TCP handshake, so
its round trip (and TLS's) is added to the first response on a connection instead: the client's
connect returns at once and its read waits for all of it. The total a client waits for its first
response is what it would wait in AWS; a connect timeout alone is not exercised.

Traffic that AWS's network does not deliver (an ALB whose security group or network ACL blocks the
listener, a VPC peering that is not active or not routed) is dropped, not refused: `serve_while`
takes new connections only while the path is open and otherwise lets the kernel drop the SYNs, so
the caller waits until its own timeout, as for an unrouted packet in AWS (no RST).
"""

from __future__ import annotations

import contextlib
import ipaddress
import selectors
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from drillkit_lab.physics.groundtruth import GroundTruth
from drillkit_lab.physics.looks import GUARD_SECONDS

# The lab's service in another region's VPC that an app depends on (peer_dependency): its logical port.
PEER_SERVICE_PORT = 5432

# The handler attribute that marks a connection as past its handshake (one handler per connection).
_ANSWERED = "_lab_network_answered"


@dataclass(frozen=True)
class NetworkLatency:
    rtt_seconds: float = 0.0
    # Round trips before the first request can be sent: 1 for TCP, 2 with TLS 1.3 on top.
    handshake_round_trips: int = 1

    def before_response(self, handler: Any) -> None:
        """Wait the round trips a response costs on this connection: the request's, and the handshake's on the first."""
        if self.rtt_seconds <= 0:
            return
        first = not getattr(handler, _ANSWERED, False)
        setattr(handler, _ANSWERED, True)
        time.sleep(self.rtt_seconds * (1 + (self.handshake_round_trips if first else 0)))


def _table_of(ec2: Any, subnet_id: str) -> Any | None:
    """The route table a subnet uses: its explicit association, else its VPC's main table."""
    subnet = ec2.get_subnet(subnet_id)
    tables = [t for t in list(ec2.route_tables.values()) if t.vpc_id == subnet.vpc_id]
    explicit = next((t for t in tables if subnet_id in t._associations.values()), None)
    return explicit or next((t for t in tables if t.main_association_id is not None), None)


def subnet_has_egress(ec2: Any, subnet_id: str) -> bool:
    """A function's interface in this subnet reaches the internet (and AWS's public endpoints) only through a
    NAT gateway (or a NAT instance, a transit gateway): it has no public address, so an internet gateway
    route does not carry its traffic."""
    table = _table_of(ec2, subnet_id)
    if table is None:
        return False
    for route in table.routes:
        if route.destination_cidr_block != "0.0.0.0/0":
            continue
        return bool(route.nat_gateway or route.instance or route.transit_gateway or route.interface)
    return False


def function_has_egress(ec2: Any, vpc_config: dict[str, Any] | None) -> bool:
    """A function outside a VPC has Lambda's own egress; inside one, every subnet it may run in must have it, or the
    VPC an endpoint (the lab's app calls its region's AWS APIs, which an endpoint serves privately)."""
    subnets = list((vpc_config or {}).get("SubnetIds") or [])
    if not subnets:
        return True
    vpc_id = ec2.get_subnet(subnets[0]).vpc_id
    if any(e.vpc_id == vpc_id for e in list(ec2.vpc_end_points.values())):
        return True
    return all(subnet_has_egress(ec2, s) for s in subnets)


# socketserver listens with a queue of 5: eight Route 53 checkers connecting at once overflowed it and the kernel
# dropped their SYNs (timeouts an ALB never gives). The lab's listeners queue as many as Linux's default somaxconn.
LISTEN_BACKLOG = 128


class _QuietWhenTheClientLeft:
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that left before its answer (it timed out, or gave up while the path was closed) is no error."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)  # type: ignore[misc]


class LabHTTPServer(_QuietWhenTheClientLeft, ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


class LabTCPServer(_QuietWhenTheClientLeft, socketserver.ThreadingTCPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


class Bell(threading.Event):
    """A stop (``set``) or a second look (``ring``) that also wakes a thread blocked in select (``fileno``).

    A serving thread that polled for a shutdown or a change every 50 ms woke twenty times a second while the lab sat
    idle; with eight of them and the database's 20 ms poll, an idle lab woke about 480 times a second (5% of a core,
    in every lab the test suite had running). Waiting on this bell as well as on the listener, a serving thread wakes
    only when a connection, a change or the stop comes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._receiver, self._sender = socket.socketpair()
        self._receiver.setblocking(False)
        self._sender.setblocking(False)

    def fileno(self) -> int:
        return self._receiver.fileno()

    def ring(self) -> None:
        with contextlib.suppress(OSError):  # full (rung already) or closed (the server is gone)
            self._sender.send(b"!")

    def set(self) -> None:
        super().set()
        self.ring()

    def clear_rings(self) -> None:
        with contextlib.suppress(OSError):
            while self._receiver.recv(256):
                pass

    def close(self) -> None:
        self._receiver.close()
        self._sender.close()


# -- dropped packets: a listener that takes new connections only while the path to it is open ----------------
def serve_while(
    server: socketserver.BaseServer, open_: Callable[[], bool], stop: Bell, recheck_every: float | None = None
) -> None:
    """Accept and serve new connections while `open_()`; otherwise the kernel drops new SYNs (callers time out).

    Blocked, the listen queue shrinks to nothing and nothing is accepted, so a connect is neither refused nor
    answered. A connection the kernel still queued meanwhile is served once the path opens again, as a client's
    retransmitted SYN gets through then in AWS; its client may have given up, and nobody reads the answer. (Closing
    it instead reset a client that had connected an instant before the path opened: AWS never resets a client.)
    `open_` is looked at again when the bell rings, or every ``recheck_every`` seconds when nobody rings it on a change.
    """
    listening: socket.socket = server.socket  # type: ignore[attr-defined]
    blocked = False
    with selectors.DefaultSelector() as selector:
        selector.register(stop, selectors.EVENT_READ)
        while not stop.is_set():
            allowed = open_()
            if not allowed and not blocked:
                listening.listen(0)
                blocked = True
            elif allowed and blocked:
                listening.listen(LISTEN_BACKLOG)
                blocked = False
            listened = listening in selector.get_map()
            if blocked and listened:
                selector.unregister(listening)
            elif not blocked and not listened:
                selector.register(listening, selectors.EVENT_READ)
            for key, _ in selector.select(recheck_every):
                if key.fileobj is stop:
                    stop.clear_rings()
                elif open_():  # re-read: the path may have closed while waiting
                    try:
                        request, client = server.get_request()
                    except OSError:
                        continue
                    server.process_request(request, client)


class Serving:
    """A server served on its own thread until `stop`: serve_forever without its poll (it sleeps until a request or
    the stop comes, and a stop takes no poll's wait); with `open_`, only while the path to it is open (`serve_while`)."""

    def __init__(
        self,
        server: socketserver.BaseServer,
        name: str,
        open_: Callable[[], bool] = lambda: True,
        recheck_every: float | None = None,
    ):
        self.server = server
        self._stop = Bell()
        self._thread = threading.Thread(
            target=serve_while, args=(server, open_, self._stop, recheck_every), name=name, daemon=True
        )
        self._thread.start()

    def look_again(self) -> None:
        """The path to the server may have opened or closed: `open_` is read again now."""
        self._stop.ring()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
        self.server.server_close()
        self._stop.close()


# -- VPC peering: the path from one region's VPC to a private address in the other's ---------------------------
def _route_for(table: Any | None, cidr: str) -> Any | None:
    """The route a packet to `cidr` takes: the most specific route whose destination covers it (longest prefix)."""
    if table is None:
        return None
    target = ipaddress.ip_network(cidr)
    best, best_length = None, -1
    for route in table.routes:
        try:
            destination = ipaddress.ip_network(route.destination_cidr_block or "")
        except ValueError:
            continue
        if target.version == destination.version and target.subnet_of(destination) and destination.prefixlen > best_length:  # type: ignore[arg-type]
            best, best_length = route, destination.prefixlen
    return best


def _over_active_peering(route: Any | None, vpcs: set[str]) -> bool:
    """The route's target is a peering connection between these two VPCs, and the peering is active."""
    peering = getattr(route, "vpc_pcx", None)
    if peering is None or peering._status.code != "active":
        return False
    return {peering.vpc.id, peering.peer_vpc.id} == vpcs


@dataclass
class PeeringLink:
    """The path between an app's subnets in one region's VPC and a subnet of the other region's VPC.

    It carries traffic only while the route each way (the app's subnets' route tables towards the peer subnet,
    and the peer subnet's table back towards the app's subnets) goes to a VPC peering connection between the two
    VPCs that is `active`. Read live from the local cloud's EC2 state; the verdict is kept `cache_seconds`.
    """

    source: Any  # the app's region's EC2 backend
    source_subnets: tuple[str, ...]
    destination: Any  # the other region's EC2 backend
    destination_subnet: str
    ground_truth: GroundTruth | None = None
    cache_seconds: float = 0.5
    clock: Callable[[], float] = time.monotonic
    _verdict: bool | None = None
    _judged_at: float = field(default=float("-inf"))

    def carries(self) -> bool:
        now = self.clock()
        if self._verdict is None or now - self._judged_at >= self.cache_seconds:
            verdict = self._judge()
            if verdict != self._verdict and self.ground_truth is not None:
                self.ground_truth.record(
                    "peering_link", from_subnets=list(self.source_subnets), to_subnet=self.destination_subnet, carries=verdict
                )
            self._verdict, self._judged_at = verdict, now
        return self._verdict

    def forget(self) -> None:
        """An EC2 call may have changed the peering or its routes: the next connection judges the path afresh."""
        self._judged_at = float("-inf")

    def _judge(self) -> bool:
        try:
            peer = self.destination.get_subnet(self.destination_subnet)
            subnets = [self.source.get_subnet(s) for s in self.source_subnets]
        except Exception:  # noqa: BLE001 moto's InvalidSubnetIdError: a deleted subnet carries nothing
            return False
        back_table = _table_of(self.destination, peer.id)
        for subnet in subnets:
            vpcs = {subnet.vpc_id, peer.vpc_id}
            out = _route_for(_table_of(self.source, subnet.id), peer.cidr_block)
            back = _route_for(back_table, subnet.cidr_block)
            if not (_over_active_peering(out, vpcs) and _over_active_peering(back, vpcs)):
                return False
        return bool(subnets)


class PeerService:
    """A service in one region's VPC that an app in the other region depends on, reached over the peering.

    It answers a connection with one line. It takes new connections only while its link carries traffic; otherwise
    they time out at the caller (`serve_while`), as a connection to an unrouted private address does in AWS.
    """

    def __init__(self, address: str, port: int, link: PeeringLink):
        self.address, self.link = address, link

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.sendall(b"ready\n")

        self.server = LabTCPServer((address, port), Handler)
        self.port = int(self.server.server_address[1])
        self._serving: Serving | None = None

    def start(self) -> None:
        # An EC2 call rings it (look_again); a change nobody rang for is seen within the physics' guard.
        self._serving = Serving(self.server, f"peer-{self.address}", self.link.carries, recheck_every=GUARD_SECONDS)

    def look_again(self) -> None:
        """An EC2 call may have accepted or deleted the peering or changed a route: the path is judged again now."""
        self.link.forget()
        if self._serving is not None:
            self._serving.look_again()

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
        else:
            self.server.server_close()


@dataclass(frozen=True)
class PeerEndpoint:
    """Where an app reaches its dependency in the other region's VPC; `timeout`: the app's own connect/read timeout
    (a database driver's connect timeout, 10 s): callers with a shorter one (health checks) give up first."""

    address: str
    port: int
    timeout: float = 10.0

    def answers(self, timeout: float | None = None) -> bool:
        try:
            with socket.create_connection((self.address, self.port), timeout=timeout or self.timeout) as connection:
                return bool(connection.recv(16))
        except OSError:
            return False
