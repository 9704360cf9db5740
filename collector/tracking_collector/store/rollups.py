"""Rollups: the public figures of each day and of the 1/7/30-day windows.

Public reads (dashboard, /api/stats, exports, history) read only these tables, so
their cost does not grow with history. The refresher recomputes the days marked
dirty (and the days whose short-lived instances may still be judged) and rewrites
the windows; only public instances count.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from ..timefmt import DAY, day_of
from .counts import Counts
from .days import Days
from .engine import Cursor, Engine, placeholders
from .model import (
    ENV_COLUMNS,
    INSTALL_EVENTS,
    PRINT_COLUMNS,
    WINDOWS,
    day_rollup,
    hour_rollup,
    installer_rollup,
    installer_windows,
    window_rollup,
)
from .schema import PLUGIN_EVENTS, SET_META

# Windows move with the clock: rewritten at least this often even with no ingest.
WINDOW_MAX_AGE = 60.0


class Lifetime(NamedTuple):
    """The lifetime rule (issue 13): an instance whose first and last reports lie
    less than ``min_lifetime`` seconds apart, and which has been silent for more
    than ``gone_after`` seconds, appeared and vanished within minutes, as the fakes
    of the 2024 manipulation did. It is kept but enters no public number; one that
    is still reporting is not judged yet. The rule itself is :data:`PUBLIC`."""

    min_lifetime: float = 1800.0
    gone_after: float = 3600.0

    def args(self, now: float) -> tuple[float, float, float]:
        """The parameters of :data:`PUBLIC` at ``now``."""
        return (self.min_lifetime, now, self.gone_after)


# Public = not held and not ephemeral (the lifetime rule, written only here).
# Parameters: Lifetime.args(now).
PUBLIC = "i.held IS NULL AND NOT (i.last_seen - i.first_seen < ? AND ? - i.last_seen > ?)"
_PUBLIC_DAY = (
    " FROM instance_days d JOIN instances i ON i.id = d.instance_id"
    " WHERE d.day = ? AND " + PUBLIC
)
_SUMS = ", ".join(f"SUM((d.hours >> {h}) & 1)" for h in range(24))
_HOUR_SUMS = "SELECT " + _SUMS + _PUBLIC_DAY
# The same per Python major (2, 3, anything else 0): a partition of each hour's
# instances, by the latest Python the instance reported (when the day's rollup is
# computed: that day, for a day recomputed as it goes).
_PYTHON_HOUR_SUMS = (
    "SELECT CASE WHEN i.python LIKE '2.%' THEN 2 WHEN i.python LIKE '3.%' THEN 3"
    f" ELSE 0 END, {_SUMS}{_PUBLIC_DAY} GROUP BY 1"
)
_PUBLIC_PRINT_HOURS = (
    " FROM print_hours p JOIN instances i ON i.id = p.instance_id"
    " WHERE p.day = ? AND " + PUBLIC
)
_PUBLIC_EVENTS = " FROM events e JOIN instances i ON i.id = e.instance_id WHERE "
_ENV = ", ".join(ENV_COLUMNS)
_ENV_DAY = ", ".join(
    "COALESCE(d.version, i.version)" if c == "version" else "i." + c for c in ENV_COLUMNS
)


@dataclass(eq=False)
class Rollups:
    engine: Engine
    days: Days
    lifetime: Lifetime
    counts: Counts

    def settle_seconds(self) -> float:
        """How long after an instance's last report the lifetime rule may still
        change whether it counts: a day's rollups can change until then."""
        return sum(self.lifetime) + WINDOW_MAX_AGE

    def final_day(self, now: float, max_age: float) -> int:
        """The latest UTC day whose rollups nothing can change any more at ``now``
        but an operator's decision: no report may be dated into it (``max_age``,
        the ``age`` cap) and its short-lived instances have all been judged."""
        return day_of(now - max_age - self.settle_seconds()) - 1

    def refresh(
        self,
        now: float | None = None,
        force: bool = False,
        budget: float | None = None,
    ) -> bool:
        """Recompute dirty days and the windows; False when nothing was due.

        Several processes may call this: one refreshes at a time (the others
        skip unless ``force``), and it claims the dirty days atomically
        (DELETE ... RETURNING); a day dirtied meanwhile is marked again.

        ``budget`` (the background refresher's): the share of wall time all
        processes together may spend refreshing; after a refresh that took T
        seconds none runs for T * (1 / budget - 1), so a big fleet's rollups lag a
        little more instead of the refresh taking over a CPU.
        """
        now = time.time() if now is None else now
        with self.engine.refresh_lock(wait=force) as mine:
            if not mine:
                return False
            if budget and not force:
                with self.engine.read() as q:
                    after = q.rows("SELECT value FROM meta WHERE key = 'refresh_after'")
                if after and time.time() < after[0][0]:
                    return False
            started = time.time()
            done = self._refresh(now, force)
            if done and budget:
                took = time.time() - started
                with self.engine.write() as q:
                    q.run(SET_META, ("refresh_after", started + took / budget))
            return done

    def _refresh(self, now: float, force: bool) -> bool:
        with self.engine.write() as q:
            dirty = self.days.claim(q)
            stamp = q.rows("SELECT value FROM meta WHERE key = 'windows_at'")
            due = (
                force
                or bool(dirty)
                or not stamp
                or not 0 <= now - stamp[0][0] < WINDOW_MAX_AGE
            )
            if due:
                q.run(SET_META, ("windows_at", now))
        if not due:
            return False
        # The days whose ephemeral instances may still be judged since the last
        # refresh: an instance active on day D is judged by the end of D plus
        # min_lifetime plus gone_after at the latest, so D is recomputed until then.
        settle = self.settle_seconds()
        dirty = sorted(set(dirty) | set(range(day_of(now - settle), day_of(now) + 1)))
        try:
            for day in dirty:
                self._recompute_day(day, now)
            self._rewrite_windows(now)
        except BaseException:
            with self.engine.write() as q:
                self.days.mark(q, dirty)
            raise
        return True

    def recompute(self, days: Iterable[int] | None = None) -> None:
        """Recompute the rollups of ``days`` (None: every day in the store) now."""
        with self.engine.write() as q:
            if days is None:
                self.days.mark_all(q)
            else:
                self.days.mark(q, sorted(set(days)))
        self.refresh(force=True)

    def _recompute_day(self, day: int, now: float) -> None:
        public = self.lifetime.args(now)
        with self.engine.read() as q:
            # The version run that day, else the latest known.
            rows = q.rows(f"SELECT {_ENV_DAY}" + _PUBLIC_DAY, (day, *public))
            hours = q.rows(_HOUR_SUMS, (day, *public))[0]
            prints = q.rows(
                "SELECT COALESCE(d.version, i.version), COUNT(*), "
                + ", ".join(f"SUM(d.{c})" for c in (*PRINT_COLUMNS, "print_seconds"))
                + _PUBLIC_DAY
                + " AND "
                + " + ".join(f"d.{c}" for c in PRINT_COLUMNS)
                + " > 0 GROUP BY COALESCE(d.version, i.version)",
                (day, *public),
            )
            events = q.rows(
                "SELECT e.event, e.key, COUNT(*)" + _PUBLIC_EVENTS + "e.day = ? AND "
                f"{PUBLIC} GROUP BY e.event, e.key",
                (day, *public),
            )
            # Install events are few (a plugin install is a rare act), so their
            # versions are read from the stored fields rather than a column.
            installs = q.rows(
                "SELECT e.key, e.fields" + _PUBLIC_EVENTS + "e.day = ?"
                f" AND e.event IN {placeholders(INSTALL_EVENTS)}"
                f" AND e.key IS NOT NULL AND {PUBLIC}",
                (day, *INSTALL_EVENTS, *public),
            )
            counter = day_rollup(rows, hours, prints, events, installs)
            self._day_extras(q, counter, day, public)
        with self.engine.write() as q:
            q.run("DELETE FROM rollups WHERE day = ?", (day,))
            q.many(
                "INSERT INTO rollups (day, metric, key, value) VALUES (?, ?, ?, ?)",
                [(day, m, k, v) for (m, k), v in sorted(counter.items())],
            )

    @staticmethod
    def _day_extras(q: Cursor, counter: Counter, day: int, public: tuple) -> None:
        """A day's hourly Python and print figures and its distinct (un)installing
        instances, read in the day's read transaction (one snapshot with the rest)."""
        hour_rollup(
            counter,
            q.rows(_PYTHON_HOUR_SUMS, (day, *public)),
            q.rows(
                "SELECT p.hour, SUM(p.seconds), COUNT(*)"
                + _PUBLIC_PRINT_HOURS
                + " GROUP BY p.hour",
                (day, *public),
            ),
            q.rows("SELECT COUNT(DISTINCT p.instance_id)" + _PUBLIC_PRINT_HOURS,
                   (day, *public))[0][0] or 0,
        )  # fmt: skip
        installer_rollup(
            counter,
            q.rows(
                "SELECT DISTINCT e.event, e.key, e.instance_id" + _PUBLIC_EVENTS
                + f"e.day = ? AND e.{PLUGIN_EVENTS} AND e.key IS NOT NULL AND {PUBLIC}",
                (day, *public),
            ),
        )  # fmt: skip

    def _rewrite_windows(self, now: float) -> None:
        with self.engine.read() as q:
            rows = q.rows(
                f"SELECT {_ENV}, last_seen, last_print FROM instances i"
                f" WHERE last_seen >= ? AND {PUBLIC}",
                (now - max(WINDOWS) * DAY, *self.lifetime.args(now)),
            )
            installers = q.rows(
                "SELECT e.event, e.key, e.instance_id, MAX(e.ts)" + _PUBLIC_EVENTS
                + f"e.{PLUGIN_EVENTS} AND e.day >= ? AND e.key IS NOT NULL"
                f" AND {PUBLIC} GROUP BY e.event, e.key, e.instance_id",
                (day_of(now - max(WINDOWS) * DAY), *self.lifetime.args(now)),
            )  # fmt: skip
        windows = window_rollup(rows, now)
        for window, counter in installer_windows(installers, now).items():
            windows[window].update(counter)
        with self.engine.write() as q:
            # The transparency report's held instances: a snapshot with each
            # rewrite of the windows (the day's last one is its figure).
            self.counts.snapshot_held(q, now)
            q.run("DELETE FROM window_rollups")
            q.many(
                "INSERT INTO window_rollups (win, metric, key, value)"
                " VALUES (?, ?, ?, ?)",
                [
                    (w, m, k, v)
                    for w, counter in windows.items()
                    for (m, k), v in sorted(counter.items())
                ],
            )
