"""Token buckets of GET /track/<id>/: per id and overall."""

from __future__ import annotations

from tracking_collector.ops.ratelimit import RateLimiter


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_per_key_bucket_allows_a_burst_then_asks_to_wait():
    clock = Clock()
    limiter = RateLimiter(per_key_rate=0.1, per_key_burst=2, clock=clock)
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 10]
    # Another key is not affected.
    assert limiter.retry_after("b") == 0
    clock.now = 10.0
    assert limiter.retry_after("a") == 0


def test_overall_bucket_limits_many_keys_and_does_not_charge_the_key():
    clock = Clock()
    limiter = RateLimiter(
        per_key_rate=1, per_key_burst=1, overall_rate=1, overall_burst=2, clock=clock
    )
    assert [limiter.retry_after(k) for k in "abc"] == [0, 0, 1]
    clock.now = 1.0
    assert limiter.retry_after("c") == 0


def test_limiter_keeps_a_bounded_number_of_keys():
    limiter = RateLimiter(max_keys=100, overall_rate=1e9, overall_burst=1e9)
    for i in range(1000):
        limiter.retry_after(str(i))
    assert len(limiter) == 100
