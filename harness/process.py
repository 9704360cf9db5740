"""One way to start a server process and wait until it answers: used for OctoPrint,
and written so that the collector's and gunicorn's tests can use it too.

Only the standard library and ``requests``: no pytest, no plugin import.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

import requests

from .wait import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str, statuses: Sequence[int] = (200,)) -> Callable[[], bool]:
    """A readiness check: ``GET url`` answers with one of ``statuses``."""

    def check() -> bool:
        try:
            return requests.get(url, timeout=2).status_code in statuses
        except requests.RequestException:
            return False

    return check


class ServerProcess:
    """A server started with ``args``, its output appended to ``log_path``."""

    def __init__(
        self,
        args: Sequence[str],
        log_path: Path,
        env: Optional[Dict[str, str]] = None,
        cwd: Optional[Path] = None,
    ):
        self.args = [str(a) for a in args]
        self.log_path = Path(log_path)
        self.env = env
        self.cwd = cwd
        self.process: Optional[subprocess.Popen] = None
        self._out = None

    def start(self, ready: Callable[[], bool], timeout: float = 60) -> "ServerProcess":
        """Start, then wait until ``ready()`` is true; fails with the log's tail if the
        process exits or is not ready in time."""
        self._out = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.args,
            env=self.env if self.env is not None else dict(os.environ),
            cwd=str(self.cwd) if self.cwd else None,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{Path(self.args[0]).name} exited with "
                    f"{self.process.returncode}: {self.log()[-2000:]}"
                )
            return ready()

        eventually(up, timeout=timeout, what=f"{self.args[:3]} ready", interval=0.05)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> float:
        """Stop with ``sig`` (killed after ``timeout``); returns how long it took."""
        if not self.running:
            self._close()
            return 0.0
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise
        finally:
            self._close()
        return time.monotonic() - started

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
