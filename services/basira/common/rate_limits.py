"""Rate limits at the gate: failed authentications per source address, expensive acts per user.

A guessing attacker, or a runaway script with a valid token, must not be able to flood a service or
the access log. Each limit is a token bucket (a sustained rate per minute and a burst), kept in the
service process: with N replicas of a service a caller gets N times the rate, which still bounds it.
Failed authentications are counted per source address (the caller is unknown); valid tokens from that
address are never held back by someone else's failures. Expensive acts are counted per user and action.
"""

from __future__ import annotations

import enum
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, Field

FAILED_AUTHENTICATION = "auth.failure"
"""The key of BASIRA_RATE_LIMITS that limits failed authentications per source address."""


class Rate(BaseModel):
    """A sustained rate and the burst allowed on top of it; per_minute 0 turns the limit off."""

    per_minute: float = Field(ge=0)
    burst: int = Field(1, ge=1)


DEFAULT_RATES: dict[str, Rate] = {
    FAILED_AUTHENTICATION: Rate(per_minute=60, burst=20),
    # An investigator searches every few seconds at most; a script searching faster is held back.
    "search.face": Rate(per_minute=60, burst=10),
    "search.plate": Rate(per_minute=240, burst=40),
    "search.sightings": Rate(per_minute=240, burst=40),
    "search.trajectory": Rate(per_minute=120, burst=20),
    "search.counts": Rate(per_minute=240, burst=40),
    "evidence.export": Rate(per_minute=30, burst=10),
    "audit.export": Rate(per_minute=10, burst=5),
}


class Admission(enum.Enum):
    ALLOWED = "allowed"
    FIRST_REFUSAL = "first_refusal"
    """The first refusal since this key was last allowed: the one worth a record of its own."""
    REFUSED = "refused"


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    refusing: bool = False


class TokenBuckets:
    """Token buckets by key. The least recently used keys are forgotten beyond `max_keys`, so memory
    stays bounded whatever the number of sources (a forgotten key starts again with a full bucket)."""

    def __init__(self, rate: Rate, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.rate, self.clock, self.max_keys = rate, clock, max_keys
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def take(self, key: Hashable) -> Admission:
        """Spend one token of `key`'s bucket if it has one."""
        now = self.clock()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self.rate.burst), now)
        self._buckets[key] = bucket
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        bucket.tokens = min(float(self.rate.burst),
                            bucket.tokens + (now - bucket.stamp) * self.rate.per_minute / 60.0)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.refusing = False
            return Admission.ALLOWED
        first = not bucket.refusing
        bucket.refusing = True
        return Admission.FIRST_REFUSAL if first else Admission.REFUSED

    def retry_after_s(self, key: Hashable) -> float:
        """Seconds until `key` has a token again (0 when it has one now)."""
        bucket = self._buckets.get(key)
        if bucket is None or bucket.tokens >= 1.0:
            return 0.0
        return (1.0 - bucket.tokens) * 60.0 / self.rate.per_minute


class RateLimits:
    """Every limit of one gate: the defaults, with `overrides` (BASIRA_RATE_LIMITS) replacing entries."""

    def __init__(self, overrides: Mapping[str, Rate] | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        rates = {**DEFAULT_RATES, **(overrides or {})}
        self._buckets = {name: TokenBuckets(rate, clock=clock) for name, rate in rates.items()
                         if rate.per_minute > 0}

    @classmethod
    def off(cls) -> RateLimits:
        """No limits (benchmarks of the gate itself)."""
        return cls({name: Rate(per_minute=0, burst=1) for name in DEFAULT_RATES})

    def failed_authentication(self, source: str) -> tuple[Admission, float]:
        """Count one failed authentication from `source`: its admission and seconds to retry after."""
        return self._take(FAILED_AUTHENTICATION, source)

    def act(self, action: str, user: str) -> tuple[Admission, float]:
        """Count one `action` by `user` (actions without a limit are always allowed)."""
        return self._take(action, user)

    def describe(self, name: str) -> str:
        rate = self._buckets[name].rate
        return f"{rate.per_minute:g} a minute, bursts of {rate.burst}"

    def _take(self, name: str, key: str) -> tuple[Admission, float]:
        buckets = self._buckets.get(name)
        if buckets is None:
            return Admission.ALLOWED, 0.0
        admission = buckets.take(key)
        return admission, buckets.retry_after_s(key)
