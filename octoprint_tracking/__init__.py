"""OctoPrint-UsageTracking: the plugin class, OctoPrint's mixins and hooks translated
into calls on the tracker, the owner's actions, the takeover and the settings.

See the README's Development section for the flow and the table of modules.
"""

from __future__ import annotations

import os

import octoprint.plugin
from flask import abort, jsonify
from flask_babel import gettext
from octoprint.util import RepeatedTimer

from . import actions, cli, host, settings, takeover
from .core import catalog, policy, server_view
from .core.address import SERVER_RULE, server_allowed
from .tracker import Tracker

#: A choice the settings dialog sends with "off", never stored: "and ask the server to
#: delete what it holds about this instance" (on_settings_load offers it as False).
ASK_SERVER_TO_DELETE = "ask_server_to_delete"


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
        self._tracker = None
        self._timer = None
        self._took_over = False
        self._policy = None

    def _machine_policy(self) -> policy.Policy:
        """The machine policy, read once per start: OctoPrint asks for the defaults
        (which it sets) before ``initialize``."""
        if self._policy is None:
            try:
                import octoprint.settings

                basedir = octoprint.settings.settings().getBaseFolder("base")
                self._policy = settings.load_policy(basedir, os.environ)
            except Exception:
                self._policy = policy.failed(
                    None, catalog.N_("The policy file could not be read.")
                )
        return self._policy

    def initialize(self):
        machine = self._machine_policy()
        self._took_over = takeover.take_over(
            self._settings, self._plugin_manager, "enabled" in machine.locked
        )
        self._store = actions.PluginSettingsStore(self._settings, machine)
        if actions.apply_policy(self._store):
            self._logger.info(
                "The administrator's policy accepts what this version of usage "
                f"tracking sends (consent version {catalog.CONSENT_VERSION})"
            )
        self._tracker = Tracker(
            self._store,
            self._plugin_manager,
            self._printer,
            self._logger,
            self.get_plugin_data_folder(),
            f"OctoPrint/{host.octoprint_version()} UsageTracking/{_version()}",
        )

    def on_plugin_pending_uninstall(self):
        config = self._tracker.config
        # The decision in force, the policy's included: an unusable policy hands
        # back a "no", as nothing was sent under it.
        enabled = False if config.policy_failed else config.enabled
        takeover.hand_back(self._settings, enabled, config.unique_id)

    ##~~ SettingsPlugin API

    def get_settings_version(self):
        return settings.VERSION

    def get_settings_defaults(self):
        # Ours only: the policy's values are applied over what is stored
        # (settings.merged), where OctoPrint would not store an owner's choice that
        # equals one of them.
        return settings.defaults()

    def on_settings_migrate(self, target, current):
        settings.migrate(self._settings, current)

    def get_settings_restricted_paths(self):
        # Non-admins never see the instance id, where reports go, or the switches.
        # A permission object, as OctoPrint 2.0's bundled plugin uses (the "admin"
        # string meant the same: the SETTINGS permission).
        from octoprint.access.permissions import Permissions

        admin = ("enabled", "unique_id", "consent_version", "consent_declined",
                 "decline_new", ASK_SERVER_TO_DELETE)  # fmt: skip
        return {
            Permissions.SETTINGS: [[k] for k in admin] + [["events"], ["server"]],
            "never": [["ping"], ["pong"], ["delivery"]],
        }

    def on_settings_load(self):
        data = octoprint.plugin.SettingsPlugin.on_settings_load(self)
        if self._is_settings_admin():
            # What is in force: the policy's values where the owner chose nothing,
            # its locked ones over the owner's.
            effective = self._store.data()
            data.update({key: effective[key] for key in policy.LOCKABLE})
            data[ASK_SERVER_TO_DELETE] = False
        return data

    def on_settings_save(self, data):
        if not isinstance(data, dict):
            return octoprint.plugin.SettingsPlugin.on_settings_save(self, data)
        forget = data.pop(ASK_SERVER_TO_DELETE, None) is True
        refused = actions.without_locked(self._store, data)
        if refused:
            # Refused, and said so in the UI (worded there, in the owner's language).
            self._logger.warning(
                "Refused a change to settings set by the administrator of this "
                f"machine: {', '.join(refused)}"
            )
            self._plugin_manager.send_plugin_message(
                self._identifier, {"type": "locked_refused", "settings": refused}
            )
        if "server" in data and not server_allowed(data["server"]):
            # Refused, and said so in the UI. The URL itself is not logged.
            data.pop("server")
            self._logger.warning(f"Refused a new tracking server. {SERVER_RULE}")
            self._plugin_manager.send_plugin_message(
                self._identifier, {"type": "server_refused"}
            )
        before, target = self._tracker.config.enabled, self._tracker.target
        in_force, stored = self._store.data(), self._store.stored()
        result = octoprint.plugin.SettingsPlugin.on_settings_save(self, data)
        self._store.keep_owner_choices(data, in_force, stored)
        enabled = self._store.get("enabled")
        if enabled is True and before is not True:
            actions.decide(self._store, True)  # wizard or settings said yes
        if enabled is False and forget:
            self._switch_off(target, forget=True)
        else:
            self._tracker.refresh_and_apply()
        return result

    def _switch_off(self, target, forget: bool, decline_new=None) -> bool:
        asked = actions.switch_off(
            self._store, self.get_plugin_data_folder(), target, forget,
            then=self._tracker.refresh_and_apply, decline_new=decline_new,
        )  # fmt: skip
        if asked:
            self._tracker.take_deletions()
        return asked

    ##~~ EnvironmentDetectionPlugin

    def on_environment_detected(self, environment, *args, **kwargs):
        self._tracker.env_fields = host.environment_fields(environment)

    ##~~ StartupPlugin

    def on_after_startup(self):
        config = self._tracker.config
        machine = self._machine_policy()
        if machine.failed:
            # Named without a traceback, and without the file's path or values.
            self._logger.error(settings.describe_policy(machine))
        elif machine.source is not None:
            self._logger.info(settings.describe_policy(machine))
        if config.kill:
            self._logger.info(f"Usage tracking is switched off by {config.kill}")
        elif config.enabled is None:
            self._logger.info("Usage tracking is off until the owner decides")
        checker = getattr(self, "_connectivity_checker", None)
        if checker is not None:
            self._tracker.set_online(checker.online)
        self._tracker.queue(self._tracker.environment_report("startup"))
        self._tracker.delivery.start()
        self._timer = RepeatedTimer(
            self._tracker.next_wait, self._tracker.tick, run_first=True, daemon=True
        )
        self._timer.start()

    ##~~ ShutdownPlugin

    def on_shutdown(self):
        if self._timer is not None:
            self._timer.cancel()
        if self._tracker is not None:
            self._tracker.shutdown()

    ##~~ EventHandlerPlugin

    def on_event(self, event, payload):
        try:
            self._tracker.on_event(event, payload)
        except Exception:
            self._logger.debug(
                "Ignored an event the tracker could not handle", exc_info=True
            )

    ##~~ SimpleApiPlugin

    def is_api_protected(self):
        return True

    def get_api_commands(self):
        return {"track": ["event"], "reset_id": [], "decide": ["enabled"],
                "decline_update": []}  # fmt: skip

    def status(self):
        return {**self._tracker.status(), "took_over_bundled": self._took_over}

    def on_api_get(self, request):
        if not self._is_admin():
            return abort(403)
        what = request.values.get("what", "status")
        if what == "preview":
            return jsonify(preview=self._tracker.preview())
        if what == "journal":
            return jsonify(journal=self._tracker.delivery.journal())
        if what == "server_data":
            # Asks the tracking server, on this request thread, only because the
            # owner pressed the button: never on page load, never on the event thread.
            return jsonify(self._tracker.server_data())
        return jsonify(self.status())

    def on_api_command(self, command, data):
        if command == "track":
            # Any logged-in web UI may report its own load; nothing else is accepted.
            if data.get("event") != "webui_load":
                return abort(400, description="Only webui_load can be tracked")
            refused = self._tracker.webui_load(data.get("payload"))
            if refused == 429:
                return abort(429, description="Too many web interface loads")
            if refused:
                return abort(400, description="Invalid webui_load payload")
            return jsonify(queued=self._tracker.config.active)
        if not self._is_admin():
            return abort(403)
        for key in ("enabled", "decline_new", "forget"):
            if key in data and not isinstance(data[key], bool):
                return abort(400, description=f"{key} must be true or false")
        if "decline_new" in data and command not in ("decide", "decline_update"):
            # It comes with a decision (the wizard's), written with it or not at all.
            return abort(
                400, description="decline_new comes with decide or decline_update"
            )
        try:
            self._command(command, data)
        except actions.Locked as exc:
            return jsonify(error=str(exc), locked=exc.keys), 409
        return jsonify(self.status())

    def _command(self, command, data):
        folder = self.get_plugin_data_folder()
        decline_new = data.get("decline_new")
        if command == "reset_id":
            forget = actions.forget_address(self._tracker.target, folder)
            # New id first, then purge: an event in between is built with the new key
            # and never goes out under the old id.
            actions.reset_id(self._store, folder)
            self._tracker.refresh_and_apply()
            actions.request_deletion(folder, forget)
            self._tracker.take_deletions()
        elif command == "decide" and data["enabled"]:
            actions.decide(self._store, True, decline_new)
            self._tracker.refresh_and_apply()
        elif command == "decide":
            self._switch_off(
                self._tracker.target, data.get("forget") is True, decline_new
            )
        elif command == "decline_update":
            actions.decline_update(self._store, decline_new)
            self._tracker.refresh_and_apply()

    def _is_admin(self):
        return self._can("PLUGIN_USAGE_TRACKING_ADMIN")

    def _is_settings_admin(self):
        return self._can("SETTINGS")

    @staticmethod
    def _can(permission: str) -> bool:
        """Whether the current user has an OctoPrint permission (by its name)."""
        try:
            from octoprint.access.permissions import Permissions

            return getattr(Permissions, permission).can()
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
        return self._tracker.config.wizard_required

    def get_wizard_version(self):
        return catalog.CONSENT_VERSION

    def get_wizard_details(self):
        config = self._tracker.config
        return {"required": config.wizard_required, "accepted": config.accepted,
                "enabled": config.enabled, "decline_new": config.decline_new,
                # "And ask the server to delete" only where there is something to
                # delete: the one rule, as in the status and the CLI.
                "can_ask_deletion": self._tracker.can_ask_deletion()}  # fmt: skip

    ##~~ TemplatePlugin

    def get_template_vars(self):
        machine = self._machine_policy()
        return {
            "sections": catalog.by_category(),
            # Fields delivery may add to any report (``age``): listed on their own.
            "common_fields": catalog.COMMON_FIELDS,
            "consent_version": catalog.CONSENT_VERSION,
            "server_rule": SERVER_RULE,
            # The policy is read at start: the pages are rendered with it.
            "policy": machine.as_dict(),
            # (An unexpected error reading it has no source: named as the usual file.)
            "policy_source": policy.SOURCES[machine.source or "basedir"],
            "locked_names": {k: actions.SETTING_NAMES[k] for k in machine.locked},
            "locked_message": actions.LOCKED,
            "category_titles": [(c.key, c.title) for c in catalog.CATEGORIES],
            "server_labels": server_view.ENVIRONMENT,
            "server_facts": server_view.FACTS,
            "server_fallbacks": server_view.fallbacks(),
        }

    def is_template_autoescaped(self):
        return True

    def get_template_configs(self):
        name = gettext("Anonymous Usage Tracking")
        return [
            {"type": "settings", "name": name, "custom_bindings": True,
             "template": "usage_tracking_settings.jinja2"},
            {"type": "wizard", "name": name, "custom_bindings": True,
             "template": "usage_tracking_wizard.jinja2", "mandatory": True},
        ]  # fmt: skip

    ##~~ AssetPlugin

    def get_assets(self):
        return {
            "js": ["js/usage_tracking.js"],
            "clientjs": ["clientjs/usage_tracking.js"],
            "css": ["css/usage_tracking.css"],
        }


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
