"""OctoPrint-UsageTracking: the plugin class, thin wiring from OctoPrint to the core.

Everything that decides what is sent lives in ``catalog``, ``reports``, ``consent`` and
``privacy``; all I/O lives in ``delivery``. This module only translates OctoPrint's mixin
calls and events into calls on them.
"""

from __future__ import annotations

import collections
import os
import threading
import time
import uuid

import octoprint.plugin
from flask import abort, jsonify
from flask_babel import gettext

from . import catalog, cli, consent, delivery, host, preview, reports
from .consent import Config
from .logsafe import RedactFilter

BUNDLED = "tracking"
SETTINGS_VERSION = 2
#: More web UI loads than this in a minute are refused (429): a page load is a
#: report, and a script could otherwise push real reports out of the queue.
WEBUI_LOADS_PER_MINUTE = 30
#: Longest pause of the timer: how soon a change to config.yaml by the CLI is noticed.
WATCH_INTERVAL = 2.0
SERVER_RULE = (
    "The tracking server must be an https:// address, or http:// to a loopback "
    "address, with {id} and {event} in it."
)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("OctoPrint-UsageTracking")
    except Exception:
        return "0.0.0"


class UsageTrackingPlugin(
    octoprint.plugin.SettingsPlugin,
    octoprint.plugin.EnvironmentDetectionPlugin,
    octoprint.plugin.StartupPlugin,
    octoprint.plugin.ShutdownPlugin,
    octoprint.plugin.TemplatePlugin,
    octoprint.plugin.AssetPlugin,
    octoprint.plugin.WizardPlugin,
    octoprint.plugin.EventHandlerPlugin,
    octoprint.plugin.SimpleApiPlugin,
):
    def __init__(self):
        self._state = reports.HostState()
        self._config = Config()
        self._delivery = None
        self._environment = None
        self._env_fields = {}
        self._started = time.monotonic()
        self._next_ping = 0.0
        self._next_pong = 0.0
        self._ping_interval = 900
        self._pong_interval = 86400
        self._took_over = False
        self._online = True
        self._config_mtime = None
        self._change_lock = threading.RLock()
        self._webui_loads = collections.deque(maxlen=WEBUI_LOADS_PER_MINUTE)
        self._throttle_checked = False
        self._redact = RedactFilter()

    def initialize(self):
        self._took_over = self._take_over_bundled()
        if not self._settings.get(["unique_id"]):
            self._settings.set(["unique_id"], str(uuid.uuid4()))
            self._settings.save()
        self._refresh()
        self._config_mtime = self._config_file_mtime()
        self._redact.install()
        options = self._settings.get(["delivery"], merged=True) or {}
        self._delivery = delivery.Delivery(
            data_folder=self.get_plugin_data_folder(),
            get_target=self._target,
            user_agent=f"OctoPrint/{host.octoprint_version()} UsageTracking/{_version()}",
            logger=self._logger,
            capacity=int(options.get("queue_size", 1000)),
            timeout=float(options.get("timeout", 3.05)),
            backoff_base=float(options.get("backoff_base", 5)),
            backoff_max=float(options.get("backoff_max", 3600)),
            spool_interval=float(options.get("spool_interval", 60)),
            on_tick=self._tick,
        )

    ##~~ settings cache

    def _refresh(self):
        """Read the settings once into an immutable snapshot (never on the hot path)."""
        data = self._settings.get_all_data(merged=True) or {}
        self._config = Config.from_settings(data, consent.kill_switch(os.environ))
        self._state.salt = self._config.unique_id or ""
        self._ping_interval = _positive(data.get("ping"), 900)
        self._pong_interval = _positive(data.get("pong"), 86400)
        server = data.get("server")
        self._server = server if delivery.server_allowed(server) else None
        if server and self._server is None:
            self._logger.warning(
                "The configured tracking server is neither https nor http to a loopback "
                "address; nothing will be sent to it"
            )
        # Added, never replaced: an old id (before "Reset ID") must stay out of the log.
        self._redact.add(s for s in (self._config.unique_id, server) if s)

    def _target(self):
        config = self._config
        if not config.active or self._server is None:
            return None
        return self._server, config

    ##~~ takeover of the bundled plugin

    def _take_over_bundled(self) -> bool:
        """Make ours the only tracker; adopt the bundled plugin's decision and id."""
        info = self._plugin_manager.get_plugin_info(BUNDLED, require_enabled=False)
        if info is None:
            return False
        theirs = self._settings.global_get(["plugins", BUNDLED]) or {}
        if self._settings.get(["enabled"]) is None and isinstance(
            theirs.get("enabled"), bool
        ):
            # The owner already decided there: not asked twice, same instance id.
            self._settings.set(["enabled"], theirs["enabled"])
            if theirs.get("unique_id"):
                self._settings.set(["unique_id"], theirs["unique_id"])
        if info.implementation is not None:
            _neutralise(info.implementation)
        disabled = list(self._settings.global_get(["plugins", "_disabled"]) or [])
        if BUNDLED not in disabled:
            # From the next start on it is not even loaded.
            self._settings.global_set(["plugins", "_disabled"], disabled + [BUNDLED])
        self._settings.save()
        return True

    def on_plugin_pending_uninstall(self):
        # Hand over to the bundled plugin with the owner's decision and id, so that
        # uninstalling ours neither asks again nor sends against a "no".
        disabled = [
            p
            for p in self._settings.global_get(["plugins", "_disabled"]) or []
            if p != BUNDLED
        ]
        self._settings.global_set(["plugins", "_disabled"], disabled)
        # force: a disabled plugin's defaults are not registered, and a plain set
        # outside of defaults is dropped silently.
        for key in ("enabled", "unique_id"):
            self._settings.global_set(
                ["plugins", BUNDLED, key], self._settings.get([key]), force=True
            )
        self._settings.save()

    ##~~ SettingsPlugin API

    def get_settings_version(self):
        return SETTINGS_VERSION

    def get_settings_defaults(self):
        return consent.settings_defaults()

    def on_settings_migrate(self, target, current):
        # Version 1 kept the bundled plugin's layout: a yes without a consent version
        # and intervals that could be strings. Make the implicit consent explicit (the
        # bundled plugin's data, version 1) and the intervals numbers.
        if current is None or current < 2:
            if self._settings.get(["enabled"]) is True and not isinstance(
                self._settings.get(["consent_version"]), int
            ):
                self._settings.set(["consent_version"], 1)
            for key, default in (("ping", 900), ("pong", 86400)):
                value = self._settings.get([key])
                if value is not None and not isinstance(value, int):
                    self._settings.set([key], _positive(value, default))
            events = self._settings.get(["events"], merged=True) or {}
            for key in list(events):
                if key not in catalog.CATEGORY_KEYS:
                    self._settings.remove(["events", key])

    def get_settings_restricted_paths(self):
        # Non-admins never see the instance id, where reports go, or the switches.
        return {
            "admin": [
                ["enabled"],
                ["unique_id"],
                ["consent_version"],
                ["consent_declined"],
                ["events"],
                ["server"],
            ],
            "never": [["ping"], ["pong"], ["delivery"]],
        }

    def on_settings_save(self, data):
        if isinstance(data, dict) and "server" in data:
            if not delivery.server_allowed(data["server"]):
                # Refused, and said so in the UI. The URL itself is not logged.
                data.pop("server")
                self._logger.warning(f"Refused a new tracking server. {SERVER_RULE}")
                self._plugin_manager.send_plugin_message(
                    self._identifier, {"type": "server_refused"}
                )
        before = self._config
        result = octoprint.plugin.SettingsPlugin.on_settings_save(self, data)
        if self._settings.get(["enabled"]) is True and before.enabled is not True:
            # Saying yes (wizard or settings) accepts what this version sends.
            self._settings.set(["consent_version"], catalog.CONSENT_VERSION)
            self._settings.save()
        self._refresh_and_apply()
        return result

    def _refresh_and_apply(self, wait: float = 1.0):
        """Re-read the settings and act on what changed. Serialised: the request
        thread (settings dialog) and the worker (config.yaml watch) may both get here,
        and each change must be acted on once."""
        with self._change_lock:
            before = self._config
            self._refresh()
            self._apply_change(before, wait)

    def _apply_change(self, before: Config, wait: float = 1.0):
        after = self._config
        if before.active and (not after.active or before.unique_id != after.unique_id):
            # Switched off, or a new id (nothing queued under the old one may go out
            # under the new): empty queue and spool.
            self._delivery.purge(wait=wait)
        if before.active and not after.active:
            self._logger.info("Usage tracking switched off: queue and spool emptied")
        elif after.active and not before.active:
            self._logger.info("Usage tracking switched on")
            self._next_ping = 0.0
            self._queue(self._environment_report("startup"))
        self._set_online(self._online)
        self._delivery.wake()

    ##~~ EnvironmentDetectionPlugin

    def on_environment_detected(self, environment, *args, **kwargs):
        self._environment = environment
        self._env_fields = reports.environment_fields(
            environment, host.octoprint_version()
        )

    ##~~ StartupPlugin

    def on_after_startup(self):
        if self._config.kill:
            self._logger.info(f"Usage tracking is switched off by {self._config.kill}")
        elif self._config.enabled is None:
            self._logger.info("Usage tracking is off until the owner decides")
        checker = getattr(self, "_connectivity_checker", None)
        if checker is not None:
            self._set_online(checker.online)
        self._queue(self._environment_report("startup"))
        self._delivery.start()

    ##~~ ShutdownPlugin

    def on_shutdown(self):
        if self._delivery is None:
            return
        final = consent.gate(self._environment_report("shutdown"), self._config)
        self._delivery.shutdown(final, deadline=2.0)

    ##~~ EventHandlerPlugin

    def on_event(self, event, payload):
        # The host's event thread: a dict look-up, a pure builder, a queue append.
        try:
            if event == "ConnectivityChanged":
                new = payload.get("new") if isinstance(payload, dict) else None
                if isinstance(new, bool):
                    self._set_online(new)
                return
            if not self._config.active:
                return
            self._queue(reports.build(self._state, event, payload))
        except Exception:
            self._logger.debug(
                "Ignored an event the tracker could not handle", exc_info=True
            )

    def _set_online(self, online: bool):
        # OctoPrint's connectivity check is about the internet; a collector on this
        # machine is reachable either way.
        self._online = online
        self._delivery.set_online(online or delivery.is_loopback(self._server))

    def _queue(self, report):
        report = consent.gate(report, self._config)
        if report is not None and self._delivery is not None:
            self._delivery.put(report)

    ##~~ timers (run on the delivery worker, never on the host's thread)

    def _tick(self) -> float:
        self._watch_config()
        now = time.monotonic()
        if not self._config.active:
            return WATCH_INTERVAL
        if not self._throttle_checked:
            self._throttle_checked = True
            self._read_throttle_state()
        self._queue(reports.due(self._state, now))
        if now >= self._next_ping:
            self._next_ping = now + self._ping_interval
            self._queue(self._ping_report())
        if now >= self._next_pong:
            self._next_pong = now + self._pong_interval
            self._queue(self._pong_report())
        waits = [self._next_ping - now, self._next_pong - now]
        if self._state.connection is not None:
            waits.append(reports.FIRMWARE_WAIT - (now - self._state.connected_at))
        return max(0.1, min(waits + [WATCH_INTERVAL]))

    def _config_file_mtime(self):
        try:
            return self._settings.settings.last_modified
        except Exception:
            return None

    def _watch_config(self):
        """Pick up changes the CLI made to config.yaml (worker thread)."""
        mtime = self._config_file_mtime()
        if mtime is None or mtime == self._config_mtime:
            return
        settings = self._settings.settings
        if getattr(settings, "_dirty", False):
            return  # unsaved changes of the server itself: look again next round
        if getattr(settings, "_mtime", None) != mtime:
            # Changed outside: read it. (OctoPrint also reloads on its next set(),
            # so the file may already be loaded: then only the snapshot is stale.)
            try:
                settings.load()
            except Exception:
                self._logger.error("Could not reload config.yaml; keeping the settings")
                return
        self._config_mtime = mtime
        self._refresh_and_apply(wait=0)

    def _read_throttle_state(self):
        # The Pi support plugin's helper runs vcgencmd: only ever on this worker.
        helpers = self._plugin_manager.get_helpers("pi_support", "get_throttled")
        if helpers and "get_throttled" in helpers:
            try:
                reports.throttle(self._state, "", helpers["get_throttled"](run_now=True))
            except Exception:
                self._logger.debug("Could not read the throttle state", exc_info=True)

    ##~~ report factories that need the host

    def _environment_report(self, name):
        return reports.make(name, **self._env_fields)

    def _ping_report(self):
        try:
            state = self._printer.get_state_id()
        except Exception:
            state = None
        return reports.ping(time.monotonic() - self._started, state)

    def _pong_report(self):
        return host.pong(self._env_fields, self._plugin_manager, self._settings.settings)

    ##~~ preview and status (shared by API, CLI and settings pane)

    def preview(self):
        """The reports that would be sent now, as the plugin builds them."""
        live = {
            "startup": self._environment_report("startup"),
            "shutdown": self._environment_report("shutdown"),
            "ping": self._ping_report(),
            "pong": self._pong_report(),
        }
        return preview.build(live, self._config)

    def status(self):
        config = self._config
        return {
            "enabled": config.enabled,
            "active": config.active,
            "kill_switch": config.kill,
            "consent": {"accepted": config.accepted, "current": catalog.CONSENT_VERSION},
            "wizard_required": config.wizard_required,
            "took_over_bundled": self._took_over,
            "server_allowed": self._server is not None,
            "delivery": self._delivery.status() if self._delivery else None,
        }

    ##~~ SimpleApiPlugin

    def is_api_protected(self):
        return True

    def get_api_commands(self):
        return {
            "track": ["event"],
            "reset_id": [],
            "decide": ["enabled"],
            "decline_update": [],
        }

    def on_api_get(self, request):
        if not self._is_admin():
            return abort(403)
        what = request.values.get("what", "status")
        if what == "preview":
            return jsonify(preview=self.preview())
        if what == "journal":
            return jsonify(journal=self._delivery.journal())
        return jsonify(self.status())

    def on_api_command(self, command, data):
        if command == "track":
            # Any logged-in web UI may report its own load; nothing else is accepted.
            if data.get("event") != "webui_load":
                return abort(400, description="Only webui_load can be tracked")
            report = reports.webui_load(data.get("payload"))
            if report is None:
                return abort(400, description="Invalid webui_load payload")
            now = time.monotonic()
            if (
                len(self._webui_loads) == self._webui_loads.maxlen
                and now - self._webui_loads[0] < 60
            ):
                return abort(429, description="Too many web interface loads")
            self._webui_loads.append(now)
            self._queue(report)
            return jsonify(queued=self._config.active)
        if not self._is_admin():
            return abort(403)
        if command == "reset_id":
            old, target = self._config.unique_id, self._target()
            # New id first, then purge: an event in between is built with the new salt
            # and never goes out under the old id.
            self._settings.set(["unique_id"], str(uuid.uuid4()))
            self._settings.save()
            self._refresh_and_apply()  # purges: see _apply_change
            if old and target is not None:
                self._delivery.forget(cli.forget_url(target[0], old))
            return jsonify(self.status())
        if command == "decide":
            enabled = data.get("enabled")
            if not isinstance(enabled, bool):
                return abort(400, description="enabled must be true or false")
            self._settings.set(["enabled"], enabled)
            if enabled:
                self._settings.set(["consent_version"], catalog.CONSENT_VERSION)
            self._settings.save()
            self._refresh_and_apply()
            return jsonify(self.status())
        if command == "decline_update":
            # Keep sending what was agreed before, without the new data, and stop asking.
            self._settings.set(["consent_declined"], catalog.CONSENT_VERSION)
            self._settings.save()
            self._refresh_and_apply()
            return jsonify(self.status())

    def _is_admin(self):
        try:
            from octoprint.access.permissions import Permissions

            return Permissions.PLUGIN_USAGE_TRACKING_ADMIN.can()
        except Exception:
            return False

    ##~~ hooks

    def get_additional_permissions(self, *args, **kwargs):
        return [
            {
                "key": "ADMIN",
                "name": "Usage tracking admin",
                "description": gettext(
                    "Allows to see and change what anonymous usage tracking sends"
                ),
                "roles": ["admin"],
                "dangerous": True,
                "default_groups": ["admins"],
            }
        ]

    def get_update_information(self, *args, **kwargs):
        return {
            "usage_tracking": {
                "displayName": "Anonymous Usage Tracking (UsageTracking)",
                "displayVersion": self._plugin_version,
                "type": "github_release",
                "user": "OctoPrint-UsageTracking",
                "repo": "OctoPrint-UsageTracking",
                "current": self._plugin_version,
                "pip": "https://github.com/OctoPrint-UsageTracking/OctoPrint-UsageTracking"
                "/archive/{target_version}.zip",
            }
        }

    ##~~ WizardPlugin

    def is_wizard_required(self):
        return self._config.wizard_required

    def get_wizard_version(self):
        return catalog.CONSENT_VERSION

    def get_wizard_details(self):
        return {
            "required": self._config.wizard_required,
            "accepted": self._config.accepted,
            "enabled": self._config.enabled,
        }

    ##~~ TemplatePlugin

    def get_template_vars(self):
        return {
            "sections": catalog.by_category(),
            # Fields delivery may add to any report (``age``): listed on their own.
            "common_fields": catalog.COMMON_FIELDS,
            "consent_version": catalog.CONSENT_VERSION,
        }

    def is_template_autoescaped(self):
        return True

    def get_template_configs(self):
        return [
            {
                "type": "settings",
                "name": gettext("Anonymous Usage Tracking"),
                "template": "usage_tracking_settings.jinja2",
                "custom_bindings": True,
            },
            {
                "type": "wizard",
                "name": gettext("Anonymous Usage Tracking"),
                "template": "usage_tracking_wizard.jinja2",
                "custom_bindings": True,
                "mandatory": True,
            },
        ]

    ##~~ AssetPlugin

    def get_assets(self):
        return {
            "js": ["js/usage_tracking.js"],
            "clientjs": ["clientjs/usage_tracking.js"],
            "css": ["css/usage_tracking.css"],
        }


def _positive(value, default):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def _noop(*args, **kwargs):
    return None


def _neutralise(implementation):
    """Keep the bundled plugin from sending anything or asking anything, this run,
    and hide its settings pane: two panes of the same name would confuse the owner."""
    original = implementation.get_template_configs

    def hidden_templates():
        configs = [dict(c) for c in original() if c.get("type") != "wizard"]
        for config in configs:
            config["styles"] = ["display: none;"]
        return configs

    implementation.get_template_configs = hidden_templates
    for name in (
        "_track",
        "_do_track",
        "_start_tracking",
        "on_after_startup",
        "on_shutdown",
        "on_event",
        "on_api_command",
    ):
        setattr(implementation, name, _noop)
    implementation.is_wizard_required = lambda: False


__plugin_name__ = "Anonymous Usage Tracking (UsageTracking)"
__plugin_description__ = (
    "Opt-in anonymous usage tracking that shows exactly what it sends, "
    "never blocks OctoPrint, and loses nothing to a short outage"
)
__plugin_author__ = "OctoPrint-UsageTracking developers"
__plugin_url__ = "https://github.com/OctoPrint-UsageTracking/OctoPrint-UsageTracking"
__plugin_license__ = "AGPLv3"
__plugin_pythoncompat__ = ">=3.9,<4"
__plugin_implementation__ = UsageTrackingPlugin()
__plugin_hooks__ = {
    "octoprint.access.permissions": __plugin_implementation__.get_additional_permissions,
    "octoprint.cli.commands": cli.commands,
    "octoprint.plugin.softwareupdate.check_config": (
        __plugin_implementation__.get_update_information
    ),
}
