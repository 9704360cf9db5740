"""The owner's decisions, each written once: decide, switch off (and ask the server to
forget), decline an update, decline everything new, reset the id; and what the
administrator's policy decides in their place.

The API, the settings dialog and the CLI all call these. A store is where the values
go: the plugin's settings in the server, ``config.yaml`` in the CLI. A setting the
machine's policy locks is refused here, once, for all of them.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Dict, List, Optional, Protocol

from . import secret, settings
from .core import catalog
from .core.address import instance_id
from .core.catalog import N_
from .core.policy import Policy
from .delivery import Target, files

#: The one message of a refused change; ``%(setting)s`` is one of ``SETTING_NAMES``.
LOCKED = N_(
    "%(setting)s is set by the administrator of this machine and cannot be changed here."
)
SETTING_NAMES = {
    "enabled": N_("Anonymous usage tracking"),
    "events": N_("What is sent"),
    "server": N_("The tracking server"),
}


class Store(Protocol):
    policy: Policy

    def data(self) -> Dict[str, Any]:
        """The settings in force (``settings.merged``: this machine's policy applied)."""

    def get(self, key: str) -> Any:
        """The value in force: the policy's where it locks the setting."""

    def write(self, values: Dict[str, Any]) -> None:
        """Set and save these values together."""


class Locked(Exception):
    """A change to settings the machine's policy locks."""

    def __init__(self, keys: List[str]):
        self.keys = keys
        super().__init__(locked_message(keys))


def locked_message(keys: List[str], translate: Callable[[str], str] = str) -> str:
    return " ".join(
        translate(LOCKED) % {"setting": translate(SETTING_NAMES[k])} for k in keys
    )


class PluginSettingsStore:
    """The store in the server: our ``PluginSettings``, saved at once. One per
    server: the plugin, its API and its tracker share it."""

    def __init__(self, plugin_settings: Any, policy: Policy):
        self.plugin_settings = plugin_settings
        self.policy = policy

    def stored(self) -> Any:
        """What config.yaml holds, without OctoPrint's defaults."""
        return self.plugin_settings.get_all_data(merged=False, incl_defaults=False)

    def data(self) -> Dict[str, Any]:
        return settings.merged(self.stored(), self.policy)

    def get(self, key: str) -> Any:
        return self.data().get(key)

    def write(self, values: Dict[str, Any]) -> None:
        # force: a decision is stored as the owner's own even where it equals a
        # default, so that a later default (the policy's) does not override it.
        for key, value in values.items():
            self.plugin_settings.set([key], value, force=True)
        self.plugin_settings.save()

    def keep_owner_choices(
        self, submitted: Any, before: Dict[str, Any], stored: Any
    ) -> None:
        """After the settings dialog's save (which stores only what differs from
        OctoPrint's defaults): store the owner's choices among the settings the
        policy sets without locking, and nothing else of those (``settings.
        owner_choices``)."""
        paths = settings.policy_paths(self.policy)
        if not paths:
            return  # nothing of the policy's to sort out: the dialog's save stands
        chosen = settings.owner_choices(self.policy, submitted, before, stored)
        for path in paths:
            if path in chosen:
                self.plugin_settings.set(list(path), chosen[path], force=True)
            else:
                self.plugin_settings.remove(list(path))
        self.plugin_settings.save()


def _write(store: Store, values: Dict[str, Any]) -> None:
    """Every decision is written here: a change to a locked setting is refused."""
    refused = locked_changes(store, values)
    if refused:
        raise Locked(refused)
    store.write(values)


def locked_changes(store: Store, values: Dict[str, Any]) -> List[str]:
    """The locked settings that writing ``values`` would change."""
    effective = {key: store.get(key) for key in store.policy.locked}
    return store.policy.locked_changes(effective, values)


def without_locked(store: Store, values: Dict[str, Any]) -> List[str]:
    """For the settings dialog, which saves many settings at once: drop the locked
    ones from ``values`` (the owner's own value under a lock stays as it is) and
    return those whose change is refused."""
    refused = locked_changes(store, values)
    for key in store.policy.locked:
        values.pop(key, None)
    return refused


def decide(store: Store, enabled: bool, decline_new: Optional[bool] = None) -> None:
    """Yes or no. Saying yes accepts what this version sends (its consent version).
    ``decline_new``: given with the decision (the wizard's details), written with it
    or, if the decision is refused, not at all."""
    values: Dict[str, Any] = {"enabled": enabled}
    if enabled:
        values["consent_version"] = catalog.CONSENT_VERSION
    if decline_new is not None:
        values["decline_new"] = decline_new
    _write(store, values)


def switch_off(
    store: Store,
    data_folder: str,
    target: Optional[Target],
    forget: bool,
    then: Callable[[], None] = lambda: None,
    decline_new: Optional[bool] = None,
) -> bool:
    """No, and, if the owner chose it, ask the server to delete what it holds about
    this instance. Returns whether that request is now on its way.

    The "no" is written and acted on (``then``: the server empties its queue) before
    the request is, so that once the ``DELETE`` can go nothing queued before it can
    follow. ``target``: where reports went until now."""
    decide(store, False, decline_new)
    then()
    address = deletion_address(target, data_folder) if forget else None
    if address is not None:
        request_deletion(data_folder, address)
    return address is not None


def decline_update(store: Store, decline_new: Optional[bool] = None) -> None:
    """Keep sending what was agreed before, without the new data, and stop asking."""
    values: Dict[str, Any] = {"consent_declined": catalog.CONSENT_VERSION}
    if decline_new is not None:
        values["decline_new"] = decline_new
    _write(store, values)


def set_decline_new(store: Store, on: bool) -> None:
    """Nothing new without asking, and don't ask me: what was accepted is still
    sent; every later consent version is declined as it comes, and never asked for."""
    _write(store, {"decline_new": on})


def apply_policy(store: Store) -> bool:
    """The administrator's yes accepts what the installed version sends. Returns
    whether the accepted consent version was raised.

    While the policy's ``enabled: true`` is in force (locked, or not overruled by the
    owner), the administrator, who installs the plugin's versions on the machine,
    has decided: the owner is not asked, and a new version's fields are accepted
    with it. Unless ``decline_new`` is on: then what was accepted first stays
    accepted, and every later version is declined as for any owner."""
    if store.policy.enabled is not True or store.get("enabled") is not True:
        return False
    accepted = store.get("consent_version")
    accepted = accepted if isinstance(accepted, int) else 0
    if accepted >= catalog.CONSENT_VERSION:
        return False
    if accepted > 0 and store.get("decline_new") is True:
        return False
    store.write({"consent_version": catalog.CONSENT_VERSION})
    return True


def reset_id(store: Store, data_folder: str) -> Optional[str]:
    """A new instance id and a new file-hash key; returns the old id.

    The caller empties the queue and spool after this: anything built before must not
    go out under the new id."""
    old = store.get("unique_id")
    # The key first: a running server reloads the key when it sees the id change (its
    # config watch may see the write at once), so the new key must already be there.
    secret.replace(data_folder)
    store.write({"unique_id": str(uuid.uuid4())})
    files.start_delivery_record(data_folder)  # the new id has delivered nowhere
    return instance_id(old)


def ensure_id(store: Store, data_folder: str) -> Optional[str]:
    """Make a new random id where there is none or it is malformed (a number a hand
    edit left, any non-UUID): such an id would silence the plugin. Returns None when
    the id is fine, else what was wrong (``missing`` or ``malformed``), for the log;
    never the value."""
    value = store.get("unique_id")
    if instance_id(value) is not None:
        return None
    reset_id(store, data_folder)
    return "missing" if value is None or value == "" else "malformed"


def deletion_address(target: Optional[Target], data_folder: str) -> Optional[str]:
    """Where the server may be asked to delete what it holds about this instance:
    its address on an allowed server (``target``), and only if that address ever
    took a report (``files.delivered_to``). An instance that never delivered
    anything has nothing to delete there, and its id must not go out to ask.

    The one rule: the wizard, Settings, the API and the CLI offer the choice, and
    act on it, by this."""
    if target is None or target.config.unique_id is None:
        return None
    address = target.instance_address
    return address if files.delivered_to(data_folder, address) else None


def forget_address(target: Optional[Target], data_folder: str) -> Optional[str]:
    """Before Reset ID (``target`` still has the old id): where to ask the server to
    forget the old id afterwards. Only while tracking is on, by the same rule."""
    if target is None or not target.config.active:
        return None
    return deletion_address(target, data_folder)


def request_deletion(data_folder: str, address: Optional[str]) -> None:
    """Ask the server to forget the instance at ``address``: one ``DELETE``, kept in
    the plugin's data folder and sent by the server's delivery worker, retried with
    backoff across restarts until the server answers. The CLI asks the same way."""
    if address is not None:
        files.write_deletion_request(data_folder, address)
