"""Per-process token buckets: one per key (bounded in number) and one overall.

Used for ``GET /track/<id>/``: an instance may look at its own data now and then,
nobody may use the endpoint to hammer the store. Limits are per worker process, so
the effective limit under gunicorn is the worker count times these rates; that is
enough against a runaway client and needs no shared state.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Callable


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, now

    def take(self, now: float) -> float:
        """0.0 if a token was taken, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    def __init__(
        self,
        per_key_rate: float = 1 / 10,
        per_key_burst: float = 5,
        overall_rate: float = 20.0,
        overall_burst: float = 40,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._per_key = (per_key_rate, per_key_burst)
        self._clock = clock
        self._overall = TokenBucket(overall_rate, overall_burst, clock())
        # Keys come from clients: keep a bounded number, dropping the least recently
        # used (a dropped key starts again with a full bucket, which is harmless
        # because the overall bucket still holds).
        self._keys: OrderedDict[str, TokenBucket] = OrderedDict()
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Keys with a bucket of their own right now (bounded by ``max_keys``)."""
        with self._lock:
            return len(self._keys)

    def retry_after(self, key: str) -> int:
        """0 if the request may go ahead, else whole seconds to wait (Retry-After)."""
        with self._lock:
            now = self._clock()
            bucket = self._keys.get(key)
            if bucket is None:
                bucket = self._keys[key] = TokenBucket(*self._per_key, now)
                if len(self._keys) > self._max_keys:
                    self._keys.popitem(last=False)
            else:
                self._keys.move_to_end(key)
            wait = bucket.take(now)
            if wait:
                return max(1, math.ceil(wait))
            wait = self._overall.take(now)
            if wait:
                # Give the key its token back: the refusal was not its fault.
                bucket.tokens += 1.0
                return max(1, math.ceil(wait))
            return 0
