"""Builds a tracking plugin outside a running server, with OctoPrint's real settings on a
temporary basedir and small stand-ins for the printer and the plugin manager.

Used by the unit-level tests of the plugin class and by the benchmark, which builds both
our plugin and the bundled one with the same injected objects.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

import octoprint.settings
from octoprint.plugin import PluginSettings

_SETTINGS = None


def real_settings():
    """OctoPrint's settings singleton on a temporary basedir (one per process)."""
    global _SETTINGS
    if _SETTINGS is None:
        try:
            _SETTINGS = octoprint.settings.settings()
        except ValueError:
            basedir = tempfile.mkdtemp(prefix="usage-tracking-settings-")
            _SETTINGS = octoprint.settings.settings(init=True, basedir=basedir)
    return _SETTINGS


class Printer:
    def get_state_id(self):
        return "OPERATIONAL"


class PluginManager:
    enabled_plugins: Dict[str, Any] = {}

    def get_helpers(self, name, *helpers):
        return None

    def get_plugin_info(self, identifier, require_enabled=True):
        return None


class Connectivity:
    online = True


class Profiles:
    def get_all(self):
        return {"_default": {}}


class Users:
    def get_all_users(self):
        return [object(), object()]


def build(
    cls,
    identifier: str,
    data_folder: Path,
    values: Optional[Dict[str, Any]] = None,
    logger: Optional[logging.Logger] = None,
    initialize: bool = True,
    plugin_manager: Any = None,
    global_values: Optional[Dict[str, Any]] = None,
):
    settings = real_settings()
    plugin = cls()
    plugin._identifier = identifier
    plugin._plugin_name = identifier
    plugin._plugin_version = "0"
    plugin._basefolder = str(data_folder)
    plugin._data_folder = str(data_folder)
    plugin._logger = logger or logging.getLogger(f"tests.{identifier}")
    plugin._printer = Printer()
    plugin._plugin_manager = plugin_manager or PluginManager()
    plugin._connectivity_checker = Connectivity()
    plugin._printer_profile_manager = Profiles()
    plugin._user_manager = Users()
    # As OctoPrint's settings_plugin_inject_factory does: the defaults become an
    # overlay, without which a set() outside of them is dropped.
    settings.add_overlay(
        {"plugins": {identifier: plugin.get_settings_defaults()}},
        at_end=True,
        key=f"defaults-{identifier}",
        replace=True,
    )
    plugin._settings = PluginSettings(
        settings, identifier, defaults=plugin.get_settings_defaults()
    )
    settings.remove(["plugins", identifier])
    for key, value in (values or {}).items():
        settings.set(["plugins", identifier, key], value, force=True)
    for path, value in (global_values or {}).items():
        settings.set(list(path), value, force=True)
    if initialize:
        plugin.initialize()
    return plugin
