"""Route 53 brought to life: health checkers, the 18% rule, failover answers.

The physics reads the local cloud's Route 53 state (health checks and record sets
created through the API) and keeps it moving: each health check gets a fleet of
checkers with staggered phases that honour RequestInterval, FailureThreshold, Type,
port, path and Inverted; the failover answer of every record follows their verdict.
Every change of a health check's status or of an answer goes to the ground truth.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drillkit_lab.physics.groundtruth import GroundTruth
from drillkit_lab.physics.looks import Looks

HEALTHY_SHARE = 0.18
CHECKER_REGIONS = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)
CHECKER_ADDRESSES = tuple(f"15.177.{i}.{10 + i}" for i in range(len(CHECKER_REGIONS)))


@dataclass
class CheckerState:
    region: str
    address: str
    healthy: bool | None = None
    successes: int = 0
    failures: int = 0
    last_report: str = "Failure: no check has run yet"
    last_checked: float = 0.0


def probe_endpoint(config: Any, timeout: float, address: str | None, port: int) -> tuple[bool, str]:
    """One health check request, reported in the words Route 53 checkers use."""
    kind = (config.type_ or "HTTP").upper()
    if address is None:
        return False, f"Failure: DNS resolution failed for {config.fqdn}"
    try:
        if kind == "TCP":
            with socket.create_connection((address, port), timeout=timeout):
                return True, "Success: TCP connection established"
        if kind.startswith("HTTPS"):
            # Route 53 health checkers do not validate certificates.
            unverified = ssl.create_default_context()
            unverified.check_hostname = False
            unverified.verify_mode = ssl.CERT_NONE
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                address, port, timeout=timeout, context=unverified
            )
        else:
            connection = http.client.HTTPConnection(address, port, timeout=timeout)
        try:
            connection.request(
                "GET",
                config.resource_path or "/",
                headers={"Host": (config.fqdn or address), "User-Agent": "Amazon-Route53-Health-Check-Service"},
            )
            response = connection.getresponse()
            body = response.read(5120)
        finally:
            connection.close()
    except TimeoutError:
        return (
            False,
            "Failure: Connection timed out. The endpoint or the internet connection is down, "
            "or requests are being blocked by your firewall.",
        )
    except ConnectionRefusedError:
        return False, "Failure: Connection refused. The endpoint is not listening on the port."
    except (OSError, http.client.HTTPException) as error:
        return False, f"Failure: {type(error).__name__}: {error}"
    if not 200 <= response.status < 400:
        return False, f"Failure: HTTP Status Code {response.status}, {response.reason}. Resolved IP: {address}"
    if kind.endswith("STR_MATCH") and (config.search_string or "").encode() not in body:
        return (
            False,
            f"Failure: the search string was not found in the first 5120 bytes of the response body. Resolved IP: {address}",
        )
    return True, f"Success: HTTP Status Code {response.status}, {response.reason}"


class HealthCheckFleet:
    """The checkers of one health check, each on its own phase of the interval."""

    def __init__(
        self, backend: Any, health_check_id: str, stop: threading.Event, locate: Any, changed: Callable[[], None] = lambda: None
    ):
        self.backend = backend
        self.locate = locate  # config -> (address or None, real port)
        self.changed = changed  # a checker's status changed: the fleet's verdict may have
        self.id = health_check_id
        self.checkers = [
            CheckerState(region, address) for region, address in zip(CHECKER_REGIONS, CHECKER_ADDRESSES, strict=True)
        ]
        self._stop = stop
        self.settled_at = 0.0  # results of checks started before this are not counted (see settle)
        self._nudges = [threading.Event() for _ in self.checkers]  # probe now, out of turn (settle, stop)
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"hc-{health_check_id[:8]}-{i}", daemon=True)
            for i in range(len(self.checkers))
        ]

    def config(self) -> Any | None:
        return self.backend.health_checks.get(self.id)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _run(self, index: int) -> None:
        checker, nudge = self.checkers[index], self._nudges[index]
        config = self.config()
        if config is None:
            return
        # Stagger the checkers over one interval, as Route 53's fleet does.
        next_probe = time.time() + float(config.request_interval or 30) * index / len(self.checkers)
        while not self._stop.is_set():
            nudged = nudge.wait(max(0.0, next_probe - time.time()))
            if self._stop.is_set():
                return
            config = self.config()
            if config is None:
                return
            interval = float(config.request_interval or 30)
            started = time.time()
            if nudged:
                nudge.clear()  # an extra check: the checker keeps its phase
            else:
                next_probe = started + interval
            address, port = self.locate(config)
            ok, report = probe_endpoint(config, min(2.0, interval * 0.8), address, port)
            if started >= self.settled_at:
                before = checker.healthy
                self._account(checker, ok, report, int(config.failure_threshold or 3))
                if checker.healthy != before:
                    self.changed()

    def settle(self) -> None:
        """Forget the results of the stack's first seconds (apps still starting): every checker checks once now and
        takes that result as its status, as checks of a stack that has been up for a while have long done. Each
        keeps its phase in the interval for the checks after."""
        self.settled_at = time.time()
        for checker in self.checkers:
            checker.healthy, checker.successes, checker.failures = None, 0, 0
        self.changed()
        self.wake()

    def wake(self) -> None:
        for nudge in self._nudges:
            nudge.set()

    def settled(self) -> bool:
        """Every checker has a status from a check started after ``settle``."""
        return all(c.healthy is not None for c in self.checkers)

    @staticmethod
    def _account(checker: CheckerState, ok: bool, report: str, threshold: int) -> None:
        checker.last_report, checker.last_checked = report, time.time()
        if ok:
            checker.successes, checker.failures = checker.successes + 1, 0
        else:
            checker.failures, checker.successes = checker.failures + 1, 0
        if checker.healthy is None:
            checker.healthy = ok  # a new check takes its first result as its status
        elif checker.healthy and checker.failures >= threshold:
            checker.healthy = False
        elif not checker.healthy and checker.successes >= threshold:
            checker.healthy = True

    def healthy(self) -> bool | None:
        """Route 53's verdict: more than 18% of checkers healthy, then Disabled and Inverted."""
        config = self.config()
        if config is None:
            return None
        reporting = [c for c in self.checkers if c.healthy is not None]
        if config.disabled:
            raw = True
        elif not reporting:
            return None
        else:
            raw = sum(1 for c in reporting if c.healthy) / len(reporting) > HEALTHY_SHARE
        return raw != bool(config.inverted)

    def observations(self) -> list[dict[str, Any]]:
        return [
            {"region": c.region, "address": c.address, "status": c.last_report, "checked_at": c.last_checked}
            for c in self.checkers
            if c.last_checked
        ]


def is_calculated(config: Any) -> bool:
    """Calculated checks have no checkers: their status comes from their children."""
    return (config.type_ or "").upper() == "CALCULATED"


def _same_name(a: str, b: str) -> bool:
    return a.rstrip(".").lower() == b.rstrip(".").lower()


class Route53Physics:
    def __init__(self, backend: Any, ground_truth: GroundTruth, ports: Any):
        self.backend = backend
        self.ports = ports  # logical -> real port
        self.hosts: dict[str, str] = {}  # names the lab owns outside Route 53 (ALB DNS names) -> address
        self.alias_ttl = 60  # what an ALB alias answers with in AWS; a lab stack may shorten it
        self.ground_truth = ground_truth
        self.fleets: dict[str, HealthCheckFleet] = {}
        self._status: dict[str, bool | None] = {}
        self._answers: dict[tuple[str, str], tuple[str, ...]] = {}
        self._stop = threading.Event()
        # Told by Route 53 calls (health checks, records) and by the checkers when a status changes (look_again).
        self._looks = Looks()
        self._thread = threading.Thread(target=lambda: self._looks.run(self._look), name="route53-physics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._looks.stop()
        for fleet in list(self.fleets.values()):
            fleet.wake()  # a checker waits out its interval otherwise (30 s in AWS)
        self._thread.join(timeout=5)

    def host_address(self, name: str) -> str | None:
        return self.hosts.get(name.rstrip(".").lower())

    def locate(self, config: Any) -> tuple[str | None, int]:
        """Where a health check's requests go: its IP address, or its domain name resolved."""
        address = config.ip_address or (self.host_address(config.fqdn) if config.fqdn else None)
        return address, self.ports.real(int(config.port or 80))

    # -- what the DNS server and the API extensions ask ---------------------------
    def healthy(self, health_check_id: str) -> bool | None:
        config = self.backend.health_checks.get(health_check_id)
        if config is not None and is_calculated(config):
            return self._calculated_healthy(config)
        fleet = self.fleets.get(health_check_id)
        return fleet.healthy() if fleet else None

    def _calculated_healthy(self, config: Any) -> bool | None:
        """Healthy while at least HealthThreshold children are (children without a status yet count unhealthy)."""
        children = [self.healthy(child) for child in (config.children or []) if child != config.id]
        if config.disabled:
            raw = True
        elif children and all(c is None for c in children):
            return None
        else:
            raw = sum(1 for c in children if c) >= int(config.health_threshold or 0)
        return raw != bool(config.inverted)

    def observations(self, health_check_id: str) -> list[dict[str, Any]] | None:
        fleet = self.fleets.get(health_check_id)
        if fleet is None:
            return None if health_check_id not in self.backend.health_checks else []
        return fleet.observations()

    def zone_for(self, name: str) -> Any | None:
        candidates = [z for z in list(self.backend.zones.values()) if not z.private_zone]
        matching = [
            z
            for z in candidates
            if _same_name(name, z.name) or name.rstrip(".").lower().endswith("." + z.name.rstrip(".").lower())
        ]
        return max(matching, key=lambda z: len(z.name), default=None)

    def answer(self, name: str, record_type: str, zone: Any | None = None) -> tuple[str, list[str], int]:
        """(rcode, values, ttl) the authoritative servers would give right now."""
        zone = zone or self.zone_for(name)
        if zone is None:
            address = self.host_address(name)
            if address and record_type == "A":
                return "NOERROR", [address], 60
            return "REFUSED", [], 0
        named = [r for r in list(zone.rrsets) if _same_name(r.name, name)]
        candidates = [r for r in named if r.type == record_type]
        if not candidates:
            return ("NOERROR" if named else "NXDOMAIN"), [], 0
        failover = {r.failover: r for r in candidates if r.failover}
        if not failover:
            chosen = candidates[0]
        else:
            primary, secondary = failover.get("PRIMARY"), failover.get("SECONDARY")

            def usable(record: Any) -> bool:
                return record is not None and (
                    record.health_check_id is None or self.healthy(record.health_check_id) is not False
                )

            if usable(primary):
                chosen = primary
            elif usable(secondary):
                chosen = secondary
            else:
                # Both unhealthy: Route 53 answers as if all were healthy, i.e. the primary.
                chosen = primary or secondary
        if chosen.alias_target:
            # An alias answers with the target's own addresses and the target's TTL.
            address = self.host_address(chosen.alias_target["DNSName"])
            return "NOERROR", [address] if address else [], self.alias_ttl
        return "NOERROR", list(chosen.records or []), int(chosen.ttl or 0)

    # -- the heartbeat of the physics ------------------------------------------
    def look_again(self) -> None:
        """A Route 53 call or a checker changed what the verdicts and answers come from."""
        self._looks.look_again()

    def _look(self) -> None:
        self._sync_fleets()
        for health_check_id, fleet in list(self.fleets.items()):
            status = fleet.healthy()
            if status is not None and status != self._status.get(health_check_id):
                self._status[health_check_id] = status
                self.ground_truth.record("health_check", id=health_check_id, healthy=status)
        self._track_answers()

    def settle_checks(self) -> None:
        """Every health check's next verdict as that of a settled stack (lab start-up; see HealthCheckFleet.settle)."""
        self._sync_fleets()
        for fleet in list(self.fleets.values()):
            fleet.settle()

    def checks_settled(self) -> bool:
        """Every check's checkers have a fresh status, and the verdict it gives is the one recorded (ground truth)."""
        fleets = list(self.fleets.items())
        return all(fleet.settled() and self._status.get(i) == fleet.healthy() for i, fleet in fleets)

    def _sync_fleets(self) -> None:
        for health_check_id, config in list(self.backend.health_checks.items()):
            if health_check_id not in self.fleets and not is_calculated(config):
                fleet = HealthCheckFleet(self.backend, health_check_id, self._stop, self.locate, self.look_again)
                self.fleets[health_check_id] = fleet
                fleet.start()
        for health_check_id in [i for i in self.fleets if i not in self.backend.health_checks]:
            del self.fleets[health_check_id]

    def _track_answers(self) -> None:
        for zone in list(self.backend.zones.values()):
            names = {(r.name, r.type) for r in list(zone.rrsets) if r.failover}
            for name, record_type in names:
                _, values, _ = self.answer(name, record_type, zone)
                key = (name.rstrip(".").lower() + ".", record_type)
                answer = tuple(sorted(values))
                if answer != self._answers.get(key):
                    self._answers[key] = answer
                    self.ground_truth.record("dns_answer", name=key[0], type=record_type, value=",".join(answer))
