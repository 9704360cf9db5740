"""The plugin's settings: defaults (written once), the machine policy file, migration,
the immutable snapshot, kill switches and the watch on ``config.yaml`` that notices
the CLI's changes."""

from __future__ import annotations

import copy
import dataclasses
import enum
import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .core import catalog, policy
from .core.catalog import N_
from .core.consent import Config
from .core.policy import Policy
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

#: The machine policy: this file in OctoPrint's basedir, or the file this variable
#: names (then it must exist; a relative path is taken from the basedir).
POLICY_NAME = "usage_tracking_policy.yaml"
POLICY_ENV = "OCTOPRINT_TRACKING_POLICY"
#: A policy is a few lines; anything this large is not one.
POLICY_MAX_BYTES = 64 * 1024

#: Defaults of ``plugins.usage_tracking``; keys as in the bundled plugin, plus ours.
DEFAULTS: Dict[str, Any] = {
    "enabled": None,
    "unique_id": None,
    "consent_version": None,
    "consent_declined": None,
    "decline_new": False,
    "server": TRACKING_URL,
    "ping": 15 * 60,
    "pong": 24 * 60 * 60,
    "events": catalog.default_events(),
    "delivery": {
        k: v for k, v in dataclasses.asdict(Options()).items() if k != "max_age"
    },
}


def defaults() -> Dict[str, Any]:
    """OctoPrint's defaults of our settings: ours alone. The policy is not among them:
    OctoPrint does not store a value equal to a default, and an owner's own choice
    must count as theirs whatever the policy says (or later says)."""
    return copy.deepcopy(DEFAULTS)


def merged(stored: Any, machine: Policy = policy.NONE) -> Dict[str, Any]:
    """The settings in force, the one place where they are put together (the server's
    store and the CLI's): our defaults, under them nothing; over them the values this
    machine's policy sets, as a fallback; over that what is stored (the owner's own
    choices); over everything the policy's locked values.

    ``stored``: what config.yaml holds, never merged with defaults."""
    out = copy.deepcopy(machine.defaults(DEFAULTS))
    if isinstance(stored, Mapping):
        for key, value in stored.items():
            if isinstance(value, Mapping) and isinstance(out.get(key), dict):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return machine.overlay(out)


Path = Tuple[str, ...]


def policy_paths(machine: Policy) -> List[Path]:
    """The settings this machine's policy sets without locking them, each a path in
    ``plugins.usage_tracking`` (a category switch is ``("events", key)``)."""
    out: List[Path] = []
    for key, value in machine.values().items():
        if key in machine.locked:
            continue
        if key == "events":
            out += [("events", category) for category in value]
        else:
            out.append((key,))
    return out


def _at(data: Any, path: Path) -> Tuple[bool, Any]:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return False, None
        data = data[key]
    return True, data


def owner_choices(
    machine: Policy, submitted: Any, before: Mapping[str, Any], stored: Any
) -> Dict[Path, Any]:
    """What the owner chose, after a save of the settings dialog, among the settings
    the policy sets without locking: a value changed from the one in force
    (``before``), else the one stored before. A value the dialog merely repeats is
    not stored, so that it stays the administrator's default."""
    out: Dict[Path, Any] = {}
    for path in policy_paths(machine):
        sent, value = _at(submitted, path)
        if sent and value != _at(before, path)[1]:
            out[path] = value
            continue
        was, value = _at(stored, path)
        if was:
            out[path] = value
    return out


def load_policy(basedir: str, environ: Mapping[str, str]) -> Policy:
    """The machine policy: read once, at OctoPrint's start (and by each CLI command).

    Reading is the only thing done here; ``core.policy.parse`` decides. Whatever goes
    wrong comes back as a failed policy with the reason, never as an exception."""
    named = (environ.get(POLICY_ENV) or "").strip()
    source = "environment" if named else "basedir"
    # A relative path from the basedir, not the working directory: the server and
    # the CLI run in different ones, and must read the same file. (An absolute
    # path stays as it is.)
    path = os.path.join(basedir, named or POLICY_NAME)
    try:
        with open(path, "rb") as f:
            raw = f.read(POLICY_MAX_BYTES + 1)
    except FileNotFoundError:
        if named:
            return policy.failed(
                source, N_("The policy file named in %(variable)s does not exist."),
                variable=POLICY_ENV,
            )  # fmt: skip
        return policy.NONE
    except OSError as exc:
        # The kind of error only: its text holds the path.
        return policy.failed(
            source, N_("The policy file could not be read (%(error)s)."),
            error=type(exc).__name__,
        )  # fmt: skip
    if len(raw) > POLICY_MAX_BYTES:
        return policy.failed(source, N_("The policy file is too large to be one."))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return policy.failed(source, N_("The policy file is not UTF-8 text."))
    return policy.parse(text, source)


def describe_policy(machine: Policy) -> str:
    """One line for octoprint.log: where the policy is and what it decides, without
    any value (the server must not reach the log)."""
    where = policy.SOURCES.get(machine.source or "", "")
    if machine.failed:
        return (
            f"The usage tracking policy ({where}) cannot be used: "
            f"{machine.problem.english()} Nothing is sent until it is fixed."
        )
    sets = ", ".join(sorted(machine.values())) or "nothing"
    locked = ", ".join(sorted(machine.locked)) or "nothing"
    return f"Usage tracking policy ({where}): sets {sets}; locks {locked}"


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


def snapshot(
    effective: Mapping[str, Any], environ: Mapping[str, str], policy_failed: bool = False
) -> Config:
    """The immutable snapshot the hot path reads. ``effective``: the settings in force
    (``merged``: the policy already applied, once)."""
    return Config.from_settings(
        effective, kill_switch(environ), policy_failed=policy_failed
    )


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


class Look(enum.Enum):
    """What a look at ``config.yaml`` saw."""

    UNCHANGED = "unchanged"
    CHANGED = "changed"
    """Changed since the last look, and now loaded."""
    DEFERRED = "deferred"
    """Changed, but not taken yet (unsaved changes of the server itself, or the file
    could not be loaded): looked at again next round. Until then, what the change
    may have said (an "off") is not known."""


class ConfigWatch:
    """Notices changes that another process (the CLI) made to ``config.yaml``.

    Uses OctoPrint's ``Settings.last_modified`` (public) and, to tell the server's own
    unsaved changes from outside ones, ``_dirty`` and ``_mtime`` (private, present
    in OctoPrint 1.10 to 2.0; guarded with getattr, missing means "look again")."""

    def __init__(self, settings: Any, logger: logging.Logger):
        self._settings = settings
        self._logger = logger
        self._mtime = self._file_mtime()
        self._failed: Any = None

    def _file_mtime(self):
        try:
            return self._settings.last_modified
        except Exception:
            return None

    def mark_seen(self) -> None:
        self._mtime = self._file_mtime()

    def look(self) -> Look:
        """Whether config.yaml changed since the last look, and could be taken."""
        mtime = self._file_mtime()
        if mtime is None or mtime == self._mtime:
            return Look.UNCHANGED
        if getattr(self._settings, "_dirty", False):
            return Look.DEFERRED  # unsaved changes of the server itself
        if getattr(self._settings, "_mtime", None) != mtime:
            # Changed outside: read it. (OctoPrint also reloads on its next set(),
            # so the file may already be loaded: then only the snapshot is stale.)
            try:
                self._settings.load()
            except Exception:
                if self._failed != mtime:  # once per version of the file
                    self._failed = mtime
                    self._logger.error(
                        "Could not reload config.yaml; keeping the settings, and "
                        "trying again in a moment"
                    )
                return Look.DEFERRED
        self._mtime = mtime
        return Look.CHANGED
