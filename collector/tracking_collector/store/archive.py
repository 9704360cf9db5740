"""The dated archive's tables: published files, immutable, kept beyond retention.

``archive(day, name, ...)`` holds each archived file as the exact bytes that are
served (gzip-compressed at rest) with their sha256; ``archive_entries(key, day,
body)`` holds the parts of each day's aggregate file again, by key (``""`` the
fleet's figures, else a plugin id), so a history or a plugin page reads its
archived days with one range read instead of opening every day's file. Both are
written once per key (``INSERT ... ON CONFLICT DO NOTHING``: a file, once
published, never changes), in the database rather than on one machine's disk
(several collectors share one PostgreSQL), and the retention purge does not touch
them: they hold aggregates only, already under the small-group rule.
"""

from __future__ import annotations

import gzip
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .engine import Cursor, Engine


@dataclass(frozen=True)
class ArchivedFile:
    """One archived file: where it sits (day, name), its format and checksum."""

    day: int
    name: str
    schema_version: int
    sha256: str
    bytes: int
    created: float
    body: bytes | None = None
    """The stored bytes (only when one file is read)."""


_INSERT_FILE = (
    "INSERT INTO archive (day, name, schema_version, sha256, bytes, created, body)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, name) DO NOTHING"
)
_INSERT_ENTRY = (
    "INSERT INTO archive_entries (key, day, body) VALUES (?, ?, ?)"
    " ON CONFLICT (key, day) DO NOTHING"
)
_META = "day, name, schema_version, sha256, bytes, created"


class Archive:
    def __init__(self, engine: Engine):
        self.engine = engine

    def add(
        self,
        day: int,
        files: Sequence[tuple[str, int, bytes]],
        entries: Sequence[tuple[str, str]] = (),
    ) -> list[str]:
        """Archive ``files`` (name, schema version, body) of ``day`` and the parts
        of its aggregate file (key, JSON), in one transaction; returns the names
        newly written (a file already archived stays as it was)."""
        created = time.time()
        written = []
        with self.engine.write() as q:
            for name, version, body in files:
                digest = hashlib.sha256(body).hexdigest()
                packed = gzip.compress(body, mtime=0)
                if q.run(
                    _INSERT_FILE,
                    (day, name, version, digest, len(body), created, packed),
                ):
                    written.append(name)
            q.many(_INSERT_ENTRY, [(key, day, body) for key, body in entries])
        return written

    @staticmethod
    def index(q: Cursor) -> list[ArchivedFile]:
        """Every archived file (without its body), by day and name."""
        return [
            ArchivedFile(int(d), n, int(v), s, int(b), float(c))
            for d, n, v, s, b, c in q.rows(
                f"SELECT {_META} FROM archive ORDER BY day, name"
            )
        ]

    @staticmethod
    def days(q: Cursor, name: str) -> set[int]:
        """The days that have an archived file ``name``."""
        return {
            int(d) for (d,) in q.rows("SELECT day FROM archive WHERE name = ?", (name,))
        }

    @staticmethod
    def file(q: Cursor, day: int, name: str) -> ArchivedFile | None:
        found = q.rows(
            f"SELECT {_META}, body FROM archive WHERE day = ? AND name = ?", (day, name)
        )
        if not found:
            return None
        d, n, v, s, b, c, packed = found[0]
        return ArchivedFile(
            int(d), n, int(v), s, int(b), float(c), gzip.decompress(bytes(packed))
        )

    @staticmethod
    def entries(q: Cursor, key: str, since_day: int = 0) -> dict[int, str]:
        """day -> the part ``key`` (JSON) of that day's aggregate file, from
        ``since_day`` on."""
        return {
            int(d): body
            for d, body in q.rows(
                "SELECT day, body FROM archive_entries WHERE key = ? AND day >= ?"
                " ORDER BY day",
                (key, since_day),
            )
        }
