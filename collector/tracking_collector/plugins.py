"""The plugin list: OctoPrint's ``id:version,...`` field, parsed here and nowhere else.

A pong carries the third-party plugins of an instance as ``id:version`` entries
separated by commas. The store keeps the list normalised (ids in lower case, sorted,
each once, bundled plugins dropped), rollups count ``id:version`` keys, and the
exports, the own-data document, the operator's cohort view and the plausibility
rule all read entries through the functions below.
"""

from __future__ import annotations

import re

# OctoPrint reports only third-party plugins already; these bundled ids are
# dropped defensively in case another client sends them.
BUNDLED = frozenset(
    {
        "achievements",
        "action_command_notification",
        "action_command_prompt",
        "announcements",
        "appkeys",
        "backup",
        "corewizard",
        "discovery",
        "errortracking",
        "eventmanager",
        "file_check",
        "firmware_check",
        "gcodeviewer",
        "health_check",
        "logging",
        "pluginmanager",
        "softwareupdate",
        "tracking",
        "uploadmanager",
        "virtual_printer",
    }
)
UNKNOWN_VERSION = "unknown"
# A plugin id (OctoPrint's plugin key: a Python identifier or an entry point name):
# the one rule for ids the store keeps, the plausibility check and the URLs that ask
# about a plugin, so every plugin the collector publishes can be asked about.
ID_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}"
_ID_RE = re.compile(ID_PATTERN)


def split(value: str | None) -> list[str]:
    """The raw entries of a list, as sent (empty list for none)."""
    return value.split(",") if value else []


def entry(text: str) -> tuple[str, str]:
    """``"id:version"`` -> (id, version); the version is "" when there is none."""
    plugin_id, _, version = text.partition(":")
    return plugin_id, version


def entries(value: str | None) -> list[tuple[str, str]]:
    """Third-party (id, version) pairs of a list: ids in lower case, each once (the
    first wins), a missing version as "unknown"; an entry whose id is not one
    (:func:`valid_id`) is dropped."""
    seen: dict[str, str] = {}
    for text in split(value):
        plugin_id, version = entry(text)
        plugin_id = plugin_id.strip().lower()
        if valid_id(plugin_id) and plugin_id not in BUNDLED and plugin_id not in seen:
            seen[plugin_id] = version.strip() or UNKNOWN_VERSION
    return list(seen.items())


def normalize(value: str | None) -> str:
    """A list as the store keeps it: "id:version" of third-party plugins, ids in
    lower case, sorted, each once (so rollups count it without parsing)."""
    return ",".join(f"{p}:{v}" for p, v in sorted(entries(value)))


def key(plugin_id: str, version: str | None) -> str:
    """The rollup key of one plugin version (``id:version``)."""
    return f"{key_prefix(plugin_id)}{version or UNKNOWN_VERSION}"


def key_prefix(plugin_id: str) -> str:
    """What the rollup key of every version of ``plugin_id`` starts with."""
    return f"{plugin_id}:"


def valid_id(plugin_id: str) -> bool:
    """A plugin id as kept and asked about: lower case letters, digits, ``_-.``,
    at most 64 characters, not starting with ``.`` or ``-`` (:data:`ID_PATTERN`
    in lower case)."""
    return plugin_id == plugin_id.lower() and bool(_ID_RE.fullmatch(plugin_id))
