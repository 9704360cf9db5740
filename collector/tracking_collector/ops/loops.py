"""The background loops of a collector process: rollup refresh, retention purge and
admission housekeeping, each a daemon thread that runs its steps every interval.

A loop is handed the steps it runs; it never calls back into what started it.
A failing step is logged and tried again at the next interval.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)

# A step: what to run, and what to log if it fails.
Step = tuple[Callable[[], object], str]


class Loops:
    """Threads that repeat their steps until :meth:`close`."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def every(self, name: str, seconds: float, *steps: Step) -> None:
        """Run ``steps`` now and then every ``seconds``, in a thread of its own."""
        thread = threading.Thread(
            target=self._run,
            args=(seconds, steps),
            name=f"tracking-collector-{name}",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    def _run(self, seconds: float, steps: tuple[Step, ...]) -> None:
        while not self._stop.is_set():
            for step, failure in steps:
                try:
                    step()
                except Exception:
                    log.exception(failure)
            self._stop.wait(seconds)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
