"""A throwaway PostgreSQL cluster for the collector tests (Debian's ``postgresql``).

``initdb`` refuses to run as root, and CI runs as root: the cluster then belongs
to the ``postgres`` user (``runuser``), in a temporary directory given to it. The
server listens on 127.0.0.1 on a free port, its socket is in that directory, and
``stop()`` removes everything. Missing binaries fail the tests with the install
command (``PgUnavailable``); they are never skipped. The benchmarks use it too.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from .process import free_port

APT_HINT = "apt-get install -y postgresql  (Debian/Ubuntu: server binaries for the tests)"


class PgUnavailable(RuntimeError):
    """PostgreSQL's server binaries (or its user) are missing on this machine."""


def find_bindir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PgUnavailable(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found: {APT_HINT}"
    )


class PgCluster:
    def __init__(self, durable: bool = False) -> None:
        """``durable``: PostgreSQL's defaults (fsync on), as the benchmarks use;
        the tests turn fsync off (the collector's durability is under test, not
        the disk's)."""
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="tracking-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.logfile = self.root / "server.log"
        self.socket_dir.mkdir()
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses root: the cluster belongs to the postgres user.
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise PgUnavailable(
                    f"no 'postgres' user to run the test cluster: {APT_HINT}"
                ) from None
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
            " -c max_connections=300"
        )
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-w",
            "-o",
            options,
            "start",
        )
        self._names = itertools.count()
        self.admin_url = self.url("postgres")

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [*self._as, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise RuntimeError(f"{tool} failed: {result.stdout}{result.stderr}{log}")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def checkpoint(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")

    def data_bytes(self) -> bytes:
        """Every byte of stored data: tables, indexes, WAL, transaction status.

        The top-level files of the data directory are the server's configuration
        (pg_hba.conf, postmaster.opts: they hold its own listen address, 127.0.0.1)
        and are left out; the server log is ``log_bytes()``.
        """
        chunks = []
        for sub in sorted(p for p in self.data.iterdir() if p.is_dir()):
            for path in sorted(sub.rglob("*")):
                if path.is_file():
                    try:
                        chunks.append(path.read_bytes())
                    except OSError:
                        pass
        return b"".join(chunks)

    def log_bytes(self) -> bytes:
        return self.logfile.read_bytes() if self.logfile.exists() else b""

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
