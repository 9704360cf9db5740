"""What each real reader of the exports does with them, field by field, as checks.

From the readers' own code: data.octoprint.org (OctoPrint/data.octoprint.org,
branch ``react``: ``src/components/*.js``, and the newer ``AchievementStats.js``),
plugins.octoprint.org (``.github/scripts/populate_additional_metadata.py``
``build_stats``, ``_layouts/plugin.html``, ``_includes/format_number``) and the
shields.io dynamic JSON badge (``$.plugins.<id>.instances``).

``check(stem, document)`` lists the problems as "path: what the reader does with
it"; none means every field a reader computes with is a JSON number where it must
be. The site sums values and formats them with ``millify``, which throws on
anything that is not a number, and a throw while rendering unmounts the page.
"""

from __future__ import annotations

from numbers import Number
from typing import Any

SITE_OS = {"linux", "windows", "macos", "freebsd"}  # ServerStats.js LOOKUP
REMAINDER_KEYS = {"unknown", "other"}


def is_number(x: Any) -> bool:
    """A JSON number: not a bool, not a numeric string, not NaN."""
    return isinstance(x, Number) and not isinstance(x, bool) and x == x


def _envelope(doc: dict, out: list[str]) -> None:
    for key in ("_since", "_generated"):
        if not isinstance(doc.get(key), str):
            out.append(f"{key}: Stats.js shows 'Based on usage data from ...'")


def _instances_map(doc: dict, field: str, out: list[str], keys_in=None) -> None:
    """{key: {"instances": n}}: every key a pie slice, values summed and millified."""
    value = doc.get(field)
    if not isinstance(value, dict):
        # Object.keys(undefined) throws in onData: the card spins forever.
        out.append(f"{field}: missing or not an object")
        return
    for key, entry in value.items():
        n = entry.get("instances") if isinstance(entry, dict) else None
        if not is_number(n):
            out.append(f"{field}.{key}.instances = {n!r}: millify throws, page unmounts")
        if key in REMAINDER_KEYS:
            out.append(f"{field}.{key}: a remainder inside the map shows as a slice")
        if keys_in is not None and key not in keys_in:
            out.append(f"{field}.{key}: not in the site's lookup, shown as 'undefined'")


def _histogram(doc: dict, fields: tuple[str, ...], out: list[str]) -> None:
    hist = doc.get("histogram")
    if not isinstance(hist, list):
        out.append("histogram: missing; d.histogram.slice(1, -1) throws")
        return
    for i, entry in enumerate(hist):
        if not isinstance(entry, dict) or not isinstance(entry.get("start"), str):
            out.append(f"histogram[{i}]: no start (moment(start) on the X axis)")
            continue
        for f in fields:
            if f in entry and not is_number(entry[f]):
                out.append(f"histogram[{i}].{f} = {entry[f]!r}: the tooltip throws")


def _count_map(doc: dict, field: str, out: list[str]) -> None:
    value = doc.get(field)
    if not isinstance(value, dict):
        out.append(f"{field}: missing")
        return
    for key, n in value.items():
        if not is_number(n):
            out.append(f"{field}.{key} = {n!r}: summed into 'Others' and millified")
        if key in REMAINDER_KEYS:
            out.append(f"{field}.{key}: a remainder inside the map shows as a slice")


def _site(stem: str, doc: dict, out: list[str]) -> None:
    if stem == "instance_stats":
        if "count" in doc and not is_number(doc["count"]):
            out.append(f"count = {doc['count']!r}: 'Total unique instances'")
        _count_map(doc, "versions", out)
        _histogram(doc, ("count",), out)
    elif stem == "printing_stats":
        if "total" in doc and not is_number(doc["total"]):
            # null shows as "a few seconds"
            out.append(f"total = {doc['total']!r}: moment.duration(total * 1000)")
        _histogram(doc, ("count",), out)
    elif stem == "python_stats":
        _instances_map(doc, "versions", out)
        _histogram(doc, ("python2", "python3"), out)
    elif stem == "server_environment_stats":
        _instances_map(doc, "os", out, keys_in=SITE_OS)
        _instances_map(doc, "bits", out)
        _instances_map(doc, "cores", out)
    elif stem == "client_environment_stats":
        for field in ("browser", "os", "browser_version"):
            _instances_map(doc, field, out)
        for key in doc.get("browser_version") or {}:
            browser, _, major = key.partition("/")
            if not major.isdigit() or browser not in (doc.get("browser") or {}):
                out.append(f"browser_version.{key}: counted as 'Unknown ES9 support'")
    elif stem == "rpi_stats":
        for field in ("models", "octopi_versions", "octopiuptodate_builds"):
            _instances_map(doc, field, out)
    elif stem == "firmware_stats":
        _instances_map(doc, "names", out)
    elif stem == "achievements_stats":
        n = doc.get("instances")
        if "instances" in doc and not (is_number(n) and n > 0):
            out.append(f"instances = {n!r}: 'value / instances * 100' %")
        _count_map(doc, "unlocked", out)


def _plugins(doc: dict, out: list[str]) -> None:
    """plugins.octoprint.org: stats = plugins.get(id.lower()), then .get("instances",
    0), .get("install_events", 0) and versions[v]["instances"] (KeyError if
    missing), compared and sorted by Liquid; shields: $.plugins.<id>.instances."""
    plugins = doc.get("plugins")
    if not isinstance(plugins, dict):
        out.append("plugins: missing; _plugin_stats['plugins'] raises")
        return
    for pid, entry in plugins.items():
        if pid != pid.lower() or pid in REMAINDER_KEYS:
            out.append(f"plugins.{pid}: not a plugin id as looked up")
        if not isinstance(entry, dict) or not is_number(entry.get("instances")):
            out.append(f"plugins.{pid}.instances: the badge and the sort need a number")
            continue
        for f in ("install_events", "uninstall_events"):
            if f in entry and not is_number(entry[f]):
                out.append(f"plugins.{pid}.{f} = {entry[f]!r}: Liquid compares it")
        for v, ve in (entry.get("versions") or {}).items():
            if not isinstance(ve, dict) or not is_number(ve.get("instances")):
                out.append(f"plugins.{pid}.versions.{v}: build_stats reads ['instances']")


def check(stem: str, doc: dict) -> list[str]:
    out: list[str] = []
    _envelope(doc, out)
    if stem == "plugin_stats":
        _plugins(doc, out)
    else:
        _site(stem, doc, out)
    return out


def shields_value(doc: dict, plugin_id: str) -> Any:
    """What the badge's JSONPath ``$.plugins.<id>.instances`` finds (None: "no
    result", a hidden or unknown plugin)."""
    return (doc.get("plugins") or {}).get(plugin_id, {}).get("instances")


def leaves(doc: Any, key: str = "") -> list[Any]:
    """Every value in ``doc`` but the envelope and the histograms' ``start``: what
    readers compute with (each should be a JSON number)."""
    if isinstance(doc, dict):
        return [
            leaf
            for k, v in doc.items()
            if not k.startswith("_") and k != "start"
            for leaf in leaves(v, k)
        ]
    if isinstance(doc, list):
        return [leaf for item in doc for leaf in leaves(item, key)]
    return [doc]
