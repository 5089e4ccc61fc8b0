"""Token buckets of the gate's rate limits, on a clock the test moves."""

from __future__ import annotations

import pytest

from basira.common.rate_limits import (
    DEFAULT_RATES,
    FAILED_AUTHENTICATION,
    Admission,
    Rate,
    RateLimits,
    TokenBuckets,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_sustained_rate_then_refusals_of_which_the_first_is_marked() -> None:
    clock = Clock()
    buckets = TokenBuckets(Rate(per_minute=60, burst=3), clock=clock)
    assert [buckets.take("a") for _ in range(5)] == [Admission.ALLOWED] * 3 + [
        Admission.FIRST_REFUSAL, Admission.REFUSED]
    assert buckets.retry_after_s("a") == pytest.approx(1.0)
    clock.now += 1.0  # one token a second
    assert buckets.take("a") is Admission.ALLOWED
    assert buckets.take("a") is Admission.FIRST_REFUSAL  # a new run of refusals is marked again
    clock.now += 3600
    assert [buckets.take("a") for _ in range(4)] == [Admission.ALLOWED] * 3 + [Admission.FIRST_REFUSAL]


def test_keys_are_independent_and_memory_is_bounded() -> None:
    buckets = TokenBuckets(Rate(per_minute=1, burst=1), clock=Clock(), max_keys=2)
    assert buckets.take("a") is Admission.ALLOWED and buckets.take("b") is Admission.ALLOWED
    assert buckets.take("a") is Admission.FIRST_REFUSAL
    buckets.take("c")  # "b" is the least recently used: forgotten
    assert buckets.take("b") is Admission.ALLOWED  # a fresh bucket: its spent token is not remembered


def test_overrides_replace_defaults_one_by_one_and_zero_turns_a_limit_off() -> None:
    clock = Clock()
    limits = RateLimits({"search.face": Rate(per_minute=0, burst=1),
                         "search.plate": Rate(per_minute=1, burst=1)}, clock=clock)
    assert all(limits.act("search.face", "u")[0] is Admission.ALLOWED for _ in range(1000))
    assert limits.act("search.plate", "u")[0] is Admission.ALLOWED
    assert limits.act("search.plate", "u") == (Admission.FIRST_REFUSAL, pytest.approx(60.0))
    assert limits.act("camera.list", "u")[0] is Admission.ALLOWED  # no limit on cheap acts
    burst = DEFAULT_RATES[FAILED_AUTHENTICATION].burst
    outcomes = [limits.failed_authentication("10.0.0.9")[0] for _ in range(burst + 1)]
    assert outcomes[-1] is Admission.FIRST_REFUSAL and limits.failed_authentication("10.0.0.8")[0] is \
        Admission.ALLOWED
    assert all(RateLimits.off().act("search.plate", "u")[0] is Admission.ALLOWED for _ in range(1000))
