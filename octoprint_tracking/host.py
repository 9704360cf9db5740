"""Host facts for startup, shutdown and pong, gathered from OctoPrint's objects.

Shared by the plugin (in the server) and the CLI (on the same basedir), so that the
CLI's preview is built by the very code that builds what the server sends. Only the
tracker's timer thread and the CLI call these: they read the disk.
"""

from __future__ import annotations

import json
import os
from typing import Any, List, Optional, Tuple

import yaml

from .core import builders, privacy
from .core.model import Report, make


def thirdparty_plugins(plugin_manager: Any) -> List[Tuple[str, str]]:
    """Enabled plugins not bundled with OctoPrint, as (identifier, version)."""
    try:
        plugins = list(plugin_manager.enabled_plugins.values())
    except Exception:
        return []
    out = []
    for p in plugins:
        if getattr(p, "bundled", True) or not privacy.token(getattr(p, "key", None)):
            continue
        version = privacy.token(getattr(p, "version", None)) or "?"
        out.append((p.key.lower(), version.lower()))
    return sorted(out)


def counts(settings: Any, plugins: int) -> dict:
    """Counts only, never a name. Read from the basedir, so the CLI counts the same."""
    stats = {"stats_plugins": plugins}
    try:
        folder = settings.getBaseFolder("printerProfiles")
        names = {
            f[: -len(".profile")] for f in os.listdir(folder) if f.endswith(".profile")
        }
        stats["stats_printer_profiles"] = len(names | {"_default"})
    except Exception:
        pass
    try:
        userfile = settings.get(["accessControl", "userfile"]) or os.path.join(
            settings.getBaseFolder("base"), "users.yaml"
        )
        with open(userfile, encoding="utf-8") as f:
            users = yaml.safe_load(f) or {}
        stats["stats_users"] = len(users) if isinstance(users, dict) else 0
    except FileNotFoundError:
        stats["stats_users"] = 0
    except Exception:
        pass
    try:
        stats["stats_files"] = sum(
            1
            for _root, _dirs, files in os.walk(settings.getBaseFolder("uploads"))
            for name in files
            if not name.startswith(".")
        )
    except Exception:
        pass
    try:
        from octoprint.timelapse import get_finished_timelapses

        stats["stats_timelapses"] = len(get_finished_timelapses())
    except Exception:
        pass
    return stats


def achievements(plugin_manager: Any, settings: Any = None) -> Optional[str]:
    """Unlocked achievements: from the achievements plugin's helper in the server,
    from its data file where the plugin is not running (the CLI)."""
    keys = None
    try:
        helpers = plugin_manager.get_helpers("achievements", "get_unlocked_achievements")
        if helpers and "get_unlocked_achievements" in helpers:
            keys = [a.key for a in helpers["get_unlocked_achievements"]()]
    except Exception:
        keys = None
    if keys is None and settings is not None:
        keys = _achievements_from_file(settings)
    if keys is None:
        return None
    tokens = [privacy.token(k.lower()) for k in keys if isinstance(k, str)]
    return ",".join(t for t in tokens if t)


def _achievements_from_file(settings: Any) -> Optional[List[str]]:
    try:
        from octoprint.plugins.achievements.achievements import Achievements

        path = os.path.join(settings.getBaseFolder("data"), "achievements", "data.json")
        with open(path, encoding="utf-8") as f:
            unlocked = (json.load(f) or {}).get("achievements") or {}
        return [k for k in unlocked if Achievements.get(k) is not None]
    except FileNotFoundError:
        return []
    except Exception:
        return None


def pong(env_fields: dict, plugin_manager: Any, settings: Any) -> Report:
    plugins = thirdparty_plugins(plugin_manager)
    fields = dict(env_fields)
    fields["plugins"] = ",".join(f"{key}:{version}" for key, version in plugins)
    fields["achievements"] = achievements(plugin_manager, settings)
    fields.update(counts(settings, len(plugins)))
    fields.update(builders.features(lambda paths: _first_setting(settings, paths)))
    return make("pong", **fields)


def _first_setting(settings: Any, paths) -> Any:
    """The value at the first path this OctoPrint knows. A moved setting is read where
    it is now: reading the old path on 2.0 logs a deprecation warning."""
    for path in paths:
        try:
            return settings.get(list(path), error_on_path=True)
        except Exception:
            continue
    return None


def environment_fields(environment: Any) -> dict:
    """The environment fields of startup, shutdown and pong."""
    return builders.environment_fields(environment, octoprint_version())


def detect_environment(plugin_manager: Any) -> dict:
    """OctoPrint's own environment detection, for the CLI (the server gets it pushed)."""
    from octoprint.environment import EnvironmentDetector

    return EnvironmentDetector(plugin_manager).run_detection(notify_plugins=False) or {}


def octoprint_version() -> str:
    try:
        from octoprint.util.version import get_octoprint_version_string

        return get_octoprint_version_string()
    except Exception:  # pragma: no cover
        return "unknown"
