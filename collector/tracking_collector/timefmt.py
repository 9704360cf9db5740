"""Time in the collector: UTC days and hours, and every way a time is written out.

Stored times are Unix seconds (float) and days are whole days since the epoch
(UTC); everything that turns either into text is here, so an export, the own-data
document, the admin page and the source keys' day names cannot drift apart.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone

DAY = 86400
HOUR = 3600


def day_of(ts: float) -> int:
    """The UTC day (days since the epoch) of a Unix time."""
    return int(ts // DAY)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


@functools.lru_cache(maxsize=1024)
def day_iso(day: int) -> str:
    """A day number as ``YYYY-MM-DD``."""
    return _utc(day * DAY).strftime("%Y-%m-%d")


def parse_day(text: str) -> int | None:
    """``YYYY-MM-DD`` exactly as :func:`day_iso` writes it -> day number; None for
    anything else (so one day has one spelling, e.g. in an archive URL)."""
    if len(text) != 10 or not text.isascii():
        return None
    try:
        parsed = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return None
    day = day_of(parsed.replace(tzinfo=timezone.utc).timestamp())
    return day if day_iso(day) == text else None


def month_day(text: str) -> str:
    """A ``YYYY-MM-DD`` day as the charts label it: ``MM-DD``."""
    return text[5:]


def utc_day(ts: float) -> str:
    """The UTC calendar day of a Unix time, as ``YYYY-MM-DD``."""
    return day_iso(day_of(ts))


def iso(ts: float) -> str:
    """ISO 8601 to the second, UTC, with ``Z`` (exports, history, own data)."""
    return _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def minute(ts: float) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC), for people: the operator's cohort listing."""
    return _utc(ts).strftime("%Y-%m-%d %H:%M")
