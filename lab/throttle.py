"""Route 53's request-rate throttling, with AWS's token buckets.

Route 53 throttles per account: every request takes a token from the account's bucket and one
from its operation's bucket, and is refused with ``Throttling`` (HTTP 400, "Rate exceeded") when
either is empty. Buckets refill continuously at their rate up to their capacity. The numbers are
those of the Route 53 Developer Guide, "Throttling for Amazon Route 53 API requests"; operations
the guide does not list use its default.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

ROUTE53_PREFIX = "/2013-04-01/"


@dataclass(frozen=True)
class BucketLimit:
    capacity: float
    refill_per_second: float


ACCOUNT_LIMIT = BucketLimit(50, 10)  # all Route 53 API requests of an account together
DEFAULT_OPERATION_LIMIT = BucketLimit(50, 10)  # an operation the guide does not list
OPERATION_LIMITS = {
    "CreateHealthCheck": BucketLimit(50, 0.5),
    "CreateHostedZone": BucketLimit(40, 2),
    "DeleteHealthCheck": BucketLimit(15, 3),
    "DeleteHostedZone": BucketLimit(40, 5),
    "GetHealthCheckLastFailureReason": BucketLimit(4, 1),
    "GetHealthCheckStatus": BucketLimit(4, 1),
}

# (method, path below /2013-04-01/) -> operation; the rest is named by method and path shape.
_OPERATIONS = (
    ("GET", re.compile(r"^healthcheck/[^/]+/status$"), "GetHealthCheckStatus"),
    ("GET", re.compile(r"^healthcheck/[^/]+/lastfailurereason$"), "GetHealthCheckLastFailureReason"),
    ("GET", re.compile(r"^healthcheck/[^/]+$"), "GetHealthCheck"),
    ("POST", re.compile(r"^healthcheck/[^/]+$"), "UpdateHealthCheck"),
    ("DELETE", re.compile(r"^healthcheck/[^/]+$"), "DeleteHealthCheck"),
    ("POST", re.compile(r"^healthcheck$"), "CreateHealthCheck"),
    ("GET", re.compile(r"^healthcheck$"), "ListHealthChecks"),
    ("POST", re.compile(r"^hostedzone$"), "CreateHostedZone"),
    ("DELETE", re.compile(r"^hostedzone/[^/]+$"), "DeleteHostedZone"),
    ("GET", re.compile(r"^hostedzone/[^/]+$"), "GetHostedZone"),
    ("GET", re.compile(r"^hostedzone/[^/]+/rrset$"), "ListResourceRecordSets"),
    ("POST", re.compile(r"^hostedzone/[^/]+/rrset/?$"), "ChangeResourceRecordSets"),
    ("GET", re.compile(r"^testdnsanswer$"), "TestDNSAnswer"),
    ("GET", re.compile(r"^tags/[^/]+/[^/]+$"), "ListTagsForResource"),
    ("POST", re.compile(r"^tags/[^/]+/[^/]+$"), "ChangeTagsForResource"),
    ("POST", re.compile(r"^tags/[^/]+$"), "ListTagsForResources"),
    ("GET", re.compile(r"^hostedzonesbyname$"), "ListHostedZonesByName"),
    ("GET", re.compile(r"^change/[^/]+$"), "GetChange"),
)


def operation_of(method: str, path: str) -> str | None:
    """The Route 53 operation a REST request is, or None when the request is not Route 53's."""
    if not path.startswith(ROUTE53_PREFIX):
        return None
    rest = path[len(ROUTE53_PREFIX) :]
    for op_method, pattern, name in _OPERATIONS:
        if method == op_method and pattern.match(rest):
            return name
    # Any other operation has the default bucket, keyed by its resource and depth (ids differ, the operation not).
    parts = rest.split("/")
    return f"{method} {parts[0]} ({len(parts)} segments)"


@dataclass
class TokenBucket:
    limit: BucketLimit
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.limit.capacity

    def refill(self, now: float) -> None:
        self.tokens = min(self.limit.capacity, self.tokens + (now - self.updated) * self.limit.refill_per_second)
        self.updated = now


class Route53Throttle:
    """The account's bucket and one bucket per operation; ``scale`` multiplies every number (tests of the throttle)."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale
        self._account = TokenBucket(self._scaled(ACCOUNT_LIMIT))
        self._operations: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def _scaled(self, limit: BucketLimit) -> BucketLimit:
        return BucketLimit(limit.capacity * self.scale, limit.refill_per_second * self.scale)

    def admit(self, operation: str) -> bool:
        """Take a token from both buckets, or from neither when one is empty (the request is throttled)."""
        now = time.monotonic()
        with self._lock:
            bucket = self._operations.get(operation)
            if bucket is None:
                limit = OPERATION_LIMITS.get(operation, DEFAULT_OPERATION_LIMIT)
                bucket = self._operations[operation] = TokenBucket(self._scaled(limit))
            self._account.refill(now)
            bucket.refill(now)
            if self._account.tokens < 1 or bucket.tokens < 1:
                return False
            self._account.tokens -= 1
            bucket.tokens -= 1
            return True
