"""Collector processes for tests: ``tracking-collector serve`` and gunicorn with the
shipped config, each started as the README says, on a free loopback port.

They run the ``tracking_collector`` installed next to the test's Python (the
console scripts of its venv), never a copy from the source tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.process import ServerProcess, answers, free_port
from harness.wait import eventually

from .values import TRUSTED_PROXY

GUNICORN = Path(sys.executable).with_name("gunicorn")


def collector_command() -> list[str]:
    script = Path(sys.executable).with_name("tracking-collector")
    if not script.exists():
        pytest.fail(f"console script {script} missing: install ./collector first")
    return [str(script)]


class Server(ServerProcess):
    """``tracking-collector serve`` on a free loopback port, started and awaited."""

    def __init__(
        self, args: list[str], db: Path | str, log_path: Path, cwd: Path | None = None
    ):
        self.port = free_port()
        self.db = db
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [*collector_command(), "serve", "--host", "127.0.0.1", "--port",
             str(self.port), "--db", str(db), *args],
            log_path,
            cwd=cwd,
        )  # fmt: skip
        self.start(answers(self.url + "/healthz"), timeout=20)

    @property
    def proc(self):
        return self.process

    def stop(self, sig=signal.SIGTERM, timeout: float = 15.0) -> int:
        try:
            super().stop(sig, timeout)
        except subprocess.TimeoutExpired:
            pass  # killed by ServerProcess.stop
        return self.process.returncode


def located_live_args(geo_db: Path) -> list[str]:
    """``serve`` options of a test that reads its own reports back over HTTP: the
    test GeoLite2 database, loopback as trusted proxy, rollups refreshed within 0.2 s
    and no stats cache."""
    return [
        "--geoip", str(geo_db), "--trusted-proxy", TRUSTED_PROXY,
        "--refresh-interval", "0.2", "--stats-cache", "0",
    ]  # fmt: skip


def _stat(path: Path) -> list[str]:
    """State, ppid, ... of /proc/<pid>/stat ([] for a process gone meanwhile)."""
    try:
        # "pid (comm) state ppid ...": comm may hold spaces, not ")".
        return path.read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _state(pid: int) -> str | None:
    """A process's state letter ("Z": ended, not yet reaped), None when gone."""
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return fields[0] if fields else None


def _cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process, all its threads, in clock ticks."""
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return int(fields[11]) + int(fields[12]) if fields else 0


def _wait_idle(pid: int, polls: int = 10, interval: float = 0.05) -> None:
    """Wait until ``pid`` has used no CPU for ``polls`` polls in a row."""
    seen = [_cpu_ticks(pid)]

    def idle() -> bool:
        seen.append(_cpu_ticks(pid))
        del seen[: -polls - 1]
        return len(seen) > polls and len(set(seen)) == 1

    eventually(idle, timeout=30, interval=interval, what=f"worker {pid} idle")


def writer_reruns(log: str) -> list[str]:
    """Lines of a collector's log that tell of a write the database rolled back
    (a deadlock victim, a serialization failure), whether or not the writer then
    won it on a later run."""
    return [
        line
        for line in log.splitlines()
        if "rolled back" in line or "deadlock" in line.lower()
    ]


class Gunicorn(ServerProcess):
    """gunicorn with the shipped config on a free loopback port (a context manager).

    ``env`` adds to the environment (``TRACKING_COLLECTOR_*``, ...); two workers
    unless it says otherwise. ``readme``: the README's production command exactly:
    its variables and none of ours (no worker count, and not even a
    PROMETHEUS_MULTIPROC_DIR the test runner's environment may carry).
    """

    def __init__(self, tmp_path: Path, db: Path | str, readme: bool = False, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = dict(
            os.environ,
            TRACKING_COLLECTOR_DB=str(db),
            TRACKING_COLLECTOR_BIND=f"127.0.0.1:{self.port}",
        )
        if readme:
            environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            environ.pop("TRACKING_COLLECTOR_WORKERS", None)
        else:
            environ["TRACKING_COLLECTOR_WORKERS"] = "2"
        environ.update(env)
        super().__init__(
            [str(GUNICORN), "-c", "python:tracking_collector.gunicorn_conf"],
            tmp_path / "gunicorn.log",
            env=environ,
            cwd=tmp_path,
        )

    @property
    def proc(self):
        return self.process

    def up(self) -> bool:
        assert self.process.poll() is None, self.log()
        return answers(self.url + "/healthz")()

    def stop(self, sig=signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process is not None:
            super().stop(sig, timeout)
        return self.process.returncode if self.process is not None else 0

    def workers(self) -> list[int]:
        """The pids of the master's children (its workers), from /proc."""
        master = self.process.pid
        return [
            int(stat.parent.name)
            for stat in Path("/proc").glob("[0-9]*/stat")
            if _stat(stat)[1:2] == [str(master)]
        ]

    @contextlib.contextmanager
    def only(self, worker: int) -> Iterator[None]:
        """Every connection made in this block is served by ``worker``: the other
        workers are stopped (SIGSTOP) so that only it accepts, and go on after
        the block (SIGCONT). For a test that must know which worker served what,
        with the loops' intervals long (a worker stopped inside a commit would
        keep the others from writing): the others are stopped once idle, their
        first pass of the loops done."""
        others = [pid for pid in self.workers() if pid != worker]
        for pid in others:
            _wait_idle(pid)
        for pid in others:
            os.kill(pid, signal.SIGSTOP)
        try:
            eventually(
                lambda: all(_state(pid) in ("T", None) for pid in others),
                timeout=10,
                what="the other workers stopped",
            )
            yield
        finally:
            for pid in others:
                os.kill(pid, signal.SIGCONT)

    def kill_all(self) -> list[int]:
        """``kill -9`` of every collector process, the master and each worker; all
        are stopped first (SIGSTOP), so that none reacts to another's end (a
        worker whose master died would shut down gracefully). Returns the pids."""
        pids = [self.process.pid, *self.workers()]
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.process.wait(10)

        def gone() -> bool:
            return all(_state(pid) in (None, "Z") for pid in pids[1:])

        eventually(gone, timeout=10, what="every gunicorn worker gone")
        self.stop()  # closes the log; the process has ended
        return pids

    def __enter__(self) -> Gunicorn:
        # A loaded CI machine can take a while to boot two workers.
        self.start(answers(self.url + "/healthz"), timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def past_fast_path(app) -> list[str]:
    """The paths of the requests ``app``'s fast path leaves to Flask from now on
    (its ``fallback`` wrapped): a report the fast path served is not among them."""
    fast = app.wsgi_app
    flask = fast.fallback
    paths: list[str] = []

    def counting(environ, start_response):
        paths.append(environ.get("PATH_INFO", ""))
        return flask(environ, start_response)

    fast.fallback = counting
    return paths
