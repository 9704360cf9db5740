"""The plugin's settings: defaults (written once), migration, the immutable snapshot,
kill switches and the watch on ``config.yaml`` that notices the CLI's changes."""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any, Dict, Mapping, Optional, Tuple

from .core import catalog
from .core.consent import Config
from .delivery import Options
from .delivery.protocol import TRACKING_URL

VERSION = 2

#: Environment variables that switch tracking off, in the order they are checked.
#: OCTOPRINT_DISABLE_TRACKING is what OctoPrint's bundled code reads,
#: OCTOPRINT_TRACKING_DISABLED what its docs name; we honour both.
KILL_SWITCHES = (
    "CI",
    "OCTOPRINT_DISABLE_TRACKING",
    "OCTOPRINT_TRACKING_DISABLED",
    "DO_NOT_TRACK",
)

#: Defaults of ``plugins.usage_tracking``; keys as in the bundled plugin, plus ours.
DEFAULTS: Dict[str, Any] = {
    "enabled": None,
    "unique_id": None,
    "consent_version": None,
    "consent_declined": None,
    "server": TRACKING_URL,
    "ping": 15 * 60,
    "pong": 24 * 60 * 60,
    "events": catalog.default_events(),
    "delivery": {
        k: v for k, v in dataclasses.asdict(Options()).items() if k != "max_age"
    },
}


def defaults() -> Dict[str, Any]:
    return copy.deepcopy(DEFAULTS)


def merged(stored: Any) -> Dict[str, Any]:
    """Stored settings over the defaults (the CLI has no PluginSettings to do it)."""
    out = defaults()
    if isinstance(stored, Mapping):
        for key, value in stored.items():
            if isinstance(value, Mapping) and isinstance(out.get(key), dict):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return out


def kill_switch(environ: Mapping[str, str]) -> Optional[str]:
    """The name of the first kill switch set in ``environ``, or None.

    A variable counts as set with any value but empty or ``0`` (DO_NOT_TRACK's
    convention; also applied to the others, so ``CI=0`` does not kill tracking).
    """
    for name in KILL_SWITCHES:
        value = environ.get(name)
        if value is not None and value.strip() not in ("", "0"):
            return name
    return None


def snapshot(data: Mapping[str, Any], environ: Mapping[str, str]) -> Config:
    """The immutable snapshot the hot path reads."""
    return Config.from_settings(data, kill_switch(environ))


def interval(data: Mapping[str, Any], key: str) -> int:
    """``ping`` or ``pong`` in seconds; anything but a positive number is the default."""
    try:
        number = int(data.get(key))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULTS[key]
    return number if number > 0 else DEFAULTS[key]


def intervals(data: Mapping[str, Any]) -> Tuple[int, int]:
    return interval(data, "ping"), interval(data, "pong")


def migrate(settings: Any, current: Optional[int]) -> None:
    """Bring stored settings (a ``PluginSettings``) up to ``VERSION``."""
    # Version 1 kept the bundled plugin's layout: a yes without a consent version
    # and intervals that could be strings. Make the implicit consent explicit (the
    # bundled plugin's data, version 1) and the intervals numbers.
    if current is None or current < 2:
        if settings.get(["enabled"]) is True and not isinstance(
            settings.get(["consent_version"]), int
        ):
            settings.set(["consent_version"], 1)
        for key in ("ping", "pong"):
            value = settings.get([key])
            if value is not None and not isinstance(value, int):
                settings.set([key], interval({key: value}, key))
        events = settings.get(["events"], merged=True) or {}
        for key in list(events):
            if key not in catalog.CATEGORY_KEYS:
                settings.remove(["events", key])


class ConfigWatch:
    """Notices changes that another process (the CLI) made to ``config.yaml``.

    Uses OctoPrint's ``Settings.last_modified`` (public) and, to tell the server's own
    unsaved changes from outside ones, ``_dirty`` and ``_mtime`` (private, present
    in OctoPrint 1.10 to 2.0; guarded with getattr, missing means "look again")."""

    def __init__(self, settings: Any, logger: logging.Logger):
        self._settings = settings
        self._logger = logger
        self._mtime = self._file_mtime()

    def _file_mtime(self):
        try:
            return self._settings.last_modified
        except Exception:
            return None

    def mark_seen(self) -> None:
        self._mtime = self._file_mtime()

    def changed(self) -> bool:
        """Whether config.yaml changed since the last look (and is now loaded)."""
        mtime = self._file_mtime()
        if mtime is None or mtime == self._mtime:
            return False
        if getattr(self._settings, "_dirty", False):
            return False  # unsaved changes of the server itself: look again next round
        if getattr(self._settings, "_mtime", None) != mtime:
            # Changed outside: read it. (OctoPrint also reloads on its next set(),
            # so the file may already be loaded: then only the snapshot is stale.)
            try:
                self._settings.load()
            except Exception:
                self._logger.error("Could not reload config.yaml; keeping the settings")
                return False
        self._mtime = mtime
        return True
