"""Taking over from OctoPrint's bundled tracking plugin, and handing back on uninstall.

Ours adopts the bundled plugin's decision and id, silences it for this run and
disables it from the next start on. Silencing touches the bundled plugin's private
methods; each use is guarded and names the OctoPrint versions that need it.
"""

from __future__ import annotations

from typing import Any, Optional

BUNDLED = "tracking"

#: Methods of the bundled ``TrackingPlugin`` that send or schedule something. Private
#: ones (``_track``, ``_do_track``, ``_start_tracking``) exist in OctoPrint 1.10 to
#: 2.0; a missing one is skipped (setattr on an instance cannot fail for a name).
SILENCED = (
    "_track",
    "_do_track",
    "_start_tracking",
    "on_after_startup",
    "on_shutdown",
    "on_event",
    "on_api_command",
)


def take_over(settings: Any, plugin_manager: Any, decision_locked: bool = False) -> bool:
    """Make ours the only tracker; adopt the bundled plugin's decision and id.
    ``settings`` is our ``PluginSettings``; ``decision_locked``: the machine policy
    locks the decision. Returns whether there was one to take over."""
    info = plugin_manager.get_plugin_info(BUNDLED, require_enabled=False)
    if info is None:
        return False
    theirs = settings.global_get(["plugins", BUNDLED]) or {}
    if isinstance(theirs.get("enabled"), bool):
        # What is stored here, not a default: a policy value that is not locked is
        # only this machine's default, and the owner's decision given to the bundled
        # plugin wins over it (not asked twice). A locked one decides instead.
        ours = settings.get(["enabled"], incl_defaults=False)
        if not isinstance(ours, bool) and not decision_locked:
            # force: stored even where it equals a default, as the owner's own.
            settings.set(["enabled"], theirs["enabled"], force=True)
        if theirs.get("unique_id") and not settings.get(
            ["unique_id"], incl_defaults=False
        ):
            # The same instance id, whoever decides here (the owner, or a machine
            # policy that sets the decision): the server keeps seeing one instance.
            settings.set(["unique_id"], theirs["unique_id"], force=True)
    if info.implementation is not None:
        silence(info.implementation)
    disabled = list(settings.global_get(["plugins", "_disabled"]) or [])
    if BUNDLED not in disabled:
        # From the next start on it is not even loaded.
        settings.global_set(["plugins", "_disabled"], disabled + [BUNDLED])
    settings.save()
    return True


def hand_back(settings: Any, enabled: Optional[bool], unique_id: Optional[str]) -> None:
    """On uninstall: hand over to the bundled plugin with the decision in force (the
    administrator's, where the policy locks it) and the id, so that uninstalling ours
    neither asks again nor sends against a "no"."""
    disabled = [
        p for p in settings.global_get(["plugins", "_disabled"]) or [] if p != BUNDLED
    ]
    settings.global_set(["plugins", "_disabled"], disabled)
    # force: a disabled plugin's defaults are not registered, and a plain set
    # outside of defaults is dropped silently.
    for key, value in (("enabled", enabled), ("unique_id", unique_id)):
        settings.global_set(["plugins", BUNDLED, key], value, force=True)
    settings.save()


def _noop(*args, **kwargs):
    return None


def silence(implementation: Any) -> None:
    """Keep the bundled plugin from sending anything or asking anything, this run,
    and hide its settings pane: two panes of the same name would confuse the owner."""
    original = getattr(implementation, "get_template_configs", None)
    if callable(original):

        def hidden_templates():
            configs = [dict(c) for c in original() if c.get("type") != "wizard"]
            for config in configs:
                config["styles"] = ["display: none;"]
            return configs

        implementation.get_template_configs = hidden_templates
    for name in SILENCED:
        setattr(implementation, name, _noop)
    implementation.is_wizard_required = lambda: False
