"""The dated archive: what was published each UTC day, immutable and checksummed.

Two kinds of file, both kept beyond the raw retention (aggregates only, under the
small-group rule like everything published):

- right after each UTC midnight, every export file (``<name>_{7,30}d``) as it is
  served at that moment, dated the day that just ended;
- for each closed day, once nothing can change its rollups any more (no report can
  be dated into it, its short-lived instances are judged), its aggregate file
  ``day_stats`` (``daily.day_stats``).

The refresher writes them (``Archiver.run`` after each refresh) under the refresh
lock, so one process at a time does it; a file, once written, never changes
(``Store.archive``). Closed days are read from here by the plugin pages, so a
later forget or purge does not rewrite a day already published. A day the
collector was not running right after its midnight has no export snapshot (a
window cannot be rebuilt later); its ``day_stats`` is still written.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from ..timefmt import DAY, HOUR, day_iso, day_of, parse_day
from . import daily

log = logging.getLogger(__name__)

# The shape of the archived documents: raised when a published shape changes, so a
# reader of years of files can tell which shape each one has (see openapi.json).
SCHEMA_VERSION = 1
DAY_STATS = "day_stats"
# The key under which the fleet's part of a ``day_stats`` file is kept apart
# (``Store.archived_entries``); every other key is a plugin id, never empty.
FLEET = ""
# An export snapshot is taken only this soon after midnight; later its windows
# would already hold part of the next day.
SNAPSHOT_GRACE = HOUR
# Closed days archived per run at most: a first start on a full store catches up
# over a few refresh intervals instead of holding the refresh lock for long.
DAYS_PER_RUN = 7
_NAME = re.compile(r"[a-z0-9_]{1,64}")


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes a document is archived and served as (and its sha256 is of)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


class Archiver:
    """Writes what the archive is due at a given time; run by the refresher."""

    def __init__(
        self,
        store: Any,
        documents: Callable[[list[str]], dict[str, dict[str, Any]]],
        names: Sequence[str],
        min_group: int,
        max_age: float,
    ):
        self.store = store
        # The publisher's exports of one snapshot (Publisher.documents).
        self.documents = documents
        self.names = list(names)
        self.min_group = min_group
        self.max_age = max_age
        # What the last complete run covered: (snapshot day, last final day). Until
        # either moves on, a run has nothing to do and reads nothing.
        self._done: tuple[int | None, int] | None = None

    def run(self, now: float) -> list[str]:
        """Archive what is due at ``now``; returns ``<date>/<name>`` of each file
        written (none if another process holds the refresh lock)."""
        today = day_of(now)
        snapshot = today - 1 if now - today * DAY < SNAPSHOT_GRACE else None
        final = self.store.final_day(now, self.max_age)
        if self._done == (snapshot, final):
            return []
        with self.store.refresh_lock(wait=False) as mine:
            if not mine:
                return []
            written = []
            if snapshot is not None:
                written += self._snapshot(snapshot)
            due, waiting = self._closed_days_due(final)
            for day in due[:DAYS_PER_RUN]:
                written += self._day_stats(day, now)
            if len(due) <= DAYS_PER_RUN and not waiting:
                self._done = (snapshot, final)
        if written:
            log.info("Archived %d files", len(written))
        return written

    def _snapshot(self, day: int) -> list[str]:
        if day in self.store.archive_days(self.names[0]):
            return []
        documents = self.documents(self.names)
        files = [
            (name, SCHEMA_VERSION, canonical(documents[name])) for name in self.names
        ]
        return [f"{day_iso(day)}/{n}" for n in self.store.archive(day, files)]

    def _closed_days_due(self, final: int) -> tuple[list[int], bool]:
        """Closed days with rollups and no aggregate file yet (oldest first), and
        whether others wait for a refresh of their rollups (a later run's)."""
        known = self.store.daily(["active"], 0, final).get("active", {})
        if not known:
            return [], False
        done = self.store.archive_days(DAY_STATS)
        missing = [d for d in range(min(known), final + 1) if d not in done]
        dirty = self.store.dirty_days()
        due = [d for d in missing if d not in dirty]
        return due, len(due) < len(missing)

    def _day_stats(self, day: int, now: float) -> list[str]:
        rollups = self.store.daily(daily.METRICS, day, day)
        body = daily.day_stats(rollups, day, now, self.min_group)
        parts = {FLEET: daily.fleet(body), **body["plugins"]}
        entries = [(key, canonical(part).decode()) for key, part in parts.items()]
        files = [(DAY_STATS, SCHEMA_VERSION, canonical(body))]
        written = self.store.archive(day, files, entries)
        return [f"{day_iso(day)}/{n}" for n in written]


def index(files: Sequence[Any], base: str) -> dict[str, Any]:
    """``/export/archive/``: every archived file by day, with its sha256, size, URL
    (``base`` + ``<date>/<name>.json``) and the shape (schema) version it has."""
    days: dict[int, list[dict[str, Any]]] = {}
    for f in files:
        days.setdefault(f.day, []).append(
            {
                "name": f"{f.name}.json",
                "schema_version": f.schema_version,
                "sha256": f.sha256,
                "bytes": f.bytes,
                "url": f"{base}{day_iso(f.day)}/{f.name}.json",
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "days": [{"day": day_iso(d), "files": fs} for d, fs in sorted(days.items())],
    }


def sha256sums(files: Sequence[Any]) -> str:
    """``SHA256SUMS``: one line per file, paths relative to ``/export/archive/``,
    so ``sha256sum -c`` checks a mirrored copy of the archive."""
    return "".join(f"{f.sha256}  {day_iso(f.day)}/{f.name}.json\n" for f in files)


def overlay(
    rows: list[dict[str, Any]], entries: Mapping[int, str], archived: set[int]
) -> list[dict[str, Any]]:
    """History rows (``{"day": "YYYY-MM-DD", ...}``) with every archived day as the
    archive has it: its entry (JSON, from ``Store.archived_entries``) under the
    row's day, or nothing where the day is archived without one (not shown then).
    Closed days thus stay what was published, whatever a later forget changes."""
    result = []
    for row in rows:
        day = parse_day(row["day"])
        if day in archived:
            row = {"day": row["day"], **json.loads(entries.get(day, "{}"))}
        result.append(row)
    return result
