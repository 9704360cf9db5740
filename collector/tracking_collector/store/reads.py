"""Reads of the store: rollups for the public, one record for its instance.

Nothing here reads a row per report, and public figures come from the rollup
tables only. Reads inside :meth:`Reads.snapshot` (same thread) share one read
transaction.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence

from .. import plugins
from . import counts
from .archive import Archive, ArchivedFile
from .days import Days
from .engine import Cursor, Engine, chunked, placeholders
from .model import (
    ENV_COLUMNS,
    PRINT_COLUMNS,
    RECENT_EVENTS,
    WINDOWS,
    InstanceRecord,
    StoredEvent,
)

_ENV = ", ".join(ENV_COLUMNS)


class Reads:
    def __init__(self, engine: Engine, days: Days):
        self.engine = engine
        self.days = days
        self._local = threading.local()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads in this block (this thread) share one read transaction: one
        consistent view, and one connection and BEGIN instead of one per read."""
        if getattr(self._local, "q", None) is not None:
            yield
            return
        with self.engine.read() as q:
            self._local.q = q
            try:
                yield
            finally:
                self._local.q = None

    def _reader(self) -> contextlib.AbstractContextManager[Cursor]:
        q = getattr(self._local, "q", None)
        return contextlib.nullcontext(q) if q is not None else self.engine.read()

    def window(
        self, days: int, metrics: Sequence[str] | None = None
    ) -> dict[str, dict[str, int]]:
        """Public instances seen in the last ``days`` (1, 7 or 30) by metric and key."""
        if days not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}")
        sql = "SELECT metric, key, value FROM window_rollups WHERE win = ?"
        args: tuple = (days,)
        if metrics is not None:
            sql += f" AND metric IN {placeholders(metrics)}"
            args += tuple(metrics)
        result: dict[str, dict[str, int]] = defaultdict(dict)
        with self._reader() as q:
            for metric, key, value in q.rows(sql, args):
                result[metric][key] = int(value)
        return dict(result)

    def daily(
        self, metrics: Sequence[str], since_day: int, until_day: int | None = None
    ) -> dict[str, dict[int, dict[str, int]]]:
        """metric -> day -> key -> value for days in [since_day, until_day]."""
        sql = (
            "SELECT metric, day, key, value FROM rollups WHERE day >= ?"
            f" AND metric IN {placeholders(metrics)}"
        )
        args: tuple = (since_day, *metrics)
        if until_day is not None:
            sql += " AND day <= ?"
            args += (until_day,)
        result: dict[str, dict[int, dict[str, int]]] = {m: {} for m in metrics}
        with self._reader() as q:
            for metric, day, key, value in q.rows(sql + " ORDER BY day", args):
                result[metric].setdefault(day, {})[key] = int(value)
        return result

    def plugin_versions(
        self, plugin: str, since_day: int, until_day: int
    ) -> dict[int, dict[str, int]]:
        """One plugin's versions per day (``plugin_version`` rollups, keys
        ``id:version``): day -> key -> instances. Reads that plugin's rows only."""
        prefix = plugins.key_prefix(plugin)
        result: dict[int, dict[str, int]] = {}
        with self._reader() as q:
            for day, key, value in q.rows(
                "SELECT day, key, value FROM rollups WHERE metric = 'plugin_version'"
                " AND day >= ? AND day <= ? AND substr(key, 1, ?) = ?",
                (since_day, until_day, len(prefix), prefix),
            ):
                result.setdefault(int(day), {})[key] = int(value)
        return result

    def daily_counts(
        self, since_day: int, until_day: int
    ) -> dict[int, dict[tuple[str, str], int]]:
        """The transparency ledger: day -> (kind, key) -> n (see ``counts.py``)."""
        with self._reader() as q:
            return counts.read(q, since_day, until_day)

    def dirty_days(self) -> set[int]:
        """Days whose rollups wait for the next refresh."""
        with self._reader() as q:
            return {int(d) for (d,) in q.rows("SELECT DISTINCT day FROM dirty_days")}

    def archive_index(self) -> list[ArchivedFile]:
        with self._reader() as q:
            return Archive.index(q)

    def archive_days(self, name: str) -> set[int]:
        with self._reader() as q:
            return Archive.days(q, name)

    def archive_file(self, day: int, name: str) -> ArchivedFile | None:
        with self._reader() as q:
            return Archive.file(q, day, name)

    def archived_entries(self, key: str, since_day: int = 0) -> dict[int, str]:
        with self._reader() as q:
            return Archive.entries(q, key, since_day)

    def print_days(self, since_day: int) -> list[tuple]:
        """(day, version, instances, started, done, failed, cancelled) per day and
        version since ``since_day``, from the print rollups, in day order."""
        metrics = ["print_instances", *("print_" + c for c in PRINT_COLUMNS)]
        columns = ", ".join(
            f"SUM(CASE WHEN metric = '{m}' THEN value ELSE 0 END)" for m in metrics
        )
        with self._reader() as q:
            rows = q.rows(
                f"SELECT day, key, {columns} FROM rollups"
                f" WHERE metric IN {placeholders(metrics)} AND day >= ?"
                " GROUP BY day, key ORDER BY day, key",
                (*metrics, since_day),
            )
        return [(d, k, *(int(v) for v in values)) for d, k, *values in rows]

    def instance(self, uuid: str, events: int = RECENT_EVENTS) -> InstanceRecord | None:
        """What the store holds about one instance (its own data, issue 12)."""
        with self._reader() as q:
            found = q.rows(
                f"SELECT id, first_seen, last_seen, {_ENV}, last_print, held, cohort,"
                " released FROM instances WHERE uuid = ?",
                (uuid,),
            )
            if not found:
                return None
            iid, first, last, *rest = found[0]
            env = dict(zip(ENV_COLUMNS, rest[: len(ENV_COLUMNS)]))
            last_print, held, cohort, released = rest[len(ENV_COLUMNS) :]
            record = InstanceRecord(
                uuid, first, last, env, last_print, held, cohort, bool(released)
            )
            day_list = self.days.of_instance(q, iid, first, last)
            for chunk in chunked(day_list):
                record.days += q.rows(
                    "SELECT day, hours, version, "
                    + ", ".join(PRINT_COLUMNS)
                    + f" FROM instance_days WHERE day IN {placeholders(chunk)}"
                    " AND instance_id = ? ORDER BY day",
                    (*chunk, iid),
                )
                record.print_hours += q.rows(
                    "SELECT day, hour, seconds FROM print_hours"
                    f" WHERE day IN {placeholders(chunk)} AND instance_id = ?"
                    " ORDER BY day, hour",
                    (*chunk, iid),
                )
            record.events = [
                StoredEvent(ts, event, version, json.loads(fields))
                for ts, event, version, fields in q.rows(
                    "SELECT ts, event, version, fields FROM events"
                    " WHERE instance_id = ? ORDER BY ts DESC, id DESC LIMIT ?",
                    (iid, events),
                )
            ]
        return record

    def ingest_counts(self, since_day: int = 0) -> dict[int, dict[str, int]]:
        """Reports acknowledged per day and event (held instances included)."""
        result: dict[int, dict[str, int]] = defaultdict(dict)
        with self._reader() as q:
            for day, event, n in q.rows(
                "SELECT day, event, SUM(n) FROM ingest_counts WHERE day >= ?"
                " GROUP BY day, event",
                (since_day,),
            ):
                result[day][event] = int(n)
        return dict(result)
