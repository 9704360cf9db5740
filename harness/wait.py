"""Waiting for a condition instead of sleeping a fixed time."""

from __future__ import annotations

import time
from typing import Callable


def eventually(
    condition: Callable[[], object],
    timeout: float = 10.0,
    what: str = "",
    interval: float = 0.01,
) -> None:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"not reached in {timeout}s: {what or condition}")
        time.sleep(interval)
