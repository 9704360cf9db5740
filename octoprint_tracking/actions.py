"""The owner's decisions, each written once: decide, decline an update, reset the id.

The API, the settings dialog and the CLI all call these. A store is where the values
go: the plugin's settings in the server, ``config.yaml`` in the CLI.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, Optional, Protocol

from . import secret
from .core import catalog
from .delivery import Target
from .delivery.protocol import instance_url


class Store(Protocol):
    def get(self, key: str) -> Any: ...

    def write(self, values: Dict[str, Any]) -> None:
        """Set and save these values together."""


class PluginSettingsStore:
    """The store in the server: our ``PluginSettings``, saved at once."""

    def __init__(self, plugin_settings: Any):
        self._settings = plugin_settings

    def get(self, key: str) -> Any:
        return self._settings.get([key])

    def write(self, values: Dict[str, Any]) -> None:
        for key, value in values.items():
            self._settings.set([key], value)
        self._settings.save()


def decide(store: Store, enabled: bool) -> None:
    """Yes or no. Saying yes accepts what this version sends (its consent version)."""
    values: Dict[str, Any] = {"enabled": enabled}
    if enabled:
        values["consent_version"] = catalog.CONSENT_VERSION
    store.write(values)


def decline_update(store: Store) -> None:
    """Keep sending what was agreed before, without the new data, and stop asking."""
    store.write({"consent_declined": catalog.CONSENT_VERSION})


def reset_id(store: Store, data_folder: str) -> Optional[str]:
    """A new instance id and a new file-hash key; returns the old id.

    The caller empties the queue and spool after this: anything built before must not
    go out under the new id."""
    old = store.get("unique_id")
    # The key first: a running server reloads the key when it sees the id change (its
    # config watch may see the write at once), so the new key must already be there.
    secret.replace(data_folder)
    store.write({"unique_id": str(uuid.uuid4())})
    return old if isinstance(old, str) and old else None


def forget_address(old_id: Optional[str], target: Optional[Target]) -> Optional[str]:
    """Where to ask the server to forget the old id: only where reports went (an
    allowed server, while tracking was on)."""
    if old_id is None or target is None or not target.config.active:
        return None
    return instance_url(target.url, old_id)
