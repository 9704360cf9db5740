"""The machine policy: what the administrator of this machine decided for every owner.

Pure: the text of the policy file in, a ``Policy`` out, never an exception.
``settings.load_policy`` reads the file (``usage_tracking_policy.yaml`` in OctoPrint's
basedir, or the path in ``OCTOPRINT_TRACKING_POLICY``); everything else decides with
the value returned here.

A policy sets any of ``enabled``, ``events`` (category -> true/false) and ``server``,
and ``locked`` lists those of them the owner may not change. What it sets without
locking is this machine's default: the owner's own choice wins over it. A policy
that cannot be used is a ``Policy`` with a ``problem``: under it nothing is sent and
the owner is not asked (``Config.policy_failed``), whatever else was decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Mapping, Optional

import yaml

from . import catalog
from .address import SERVER_RULE, server_allowed
from .catalog import N_

KEYS = ("enabled", "events", "server", "locked")
#: The settings a policy may lock (each is a key of ``plugins.usage_tracking``).
LOCKABLE = ("enabled", "events", "server")

#: Where a policy came from, for messages (never the path: it often holds a user name).
SOURCES = {
    "basedir": N_("usage_tracking_policy.yaml in OctoPrint's basedir"),
    "environment": N_("the file named in OCTOPRINT_TRACKING_POLICY"),
}


@dataclass(frozen=True)
class Problem:
    """Why a policy cannot be used, worded for the owner.

    ``text`` is marked for translation and has ``%(name)s`` placeholders for
    ``args``, so that the settings pane and the CLI can say it in the owner's
    language; ``english()`` is the log's wording. Neither ever holds the server."""

    text: str
    args: Mapping[str, str] = field(default_factory=dict)

    def english(self) -> str:
        return self.text % dict(self.args)

    def as_dict(self) -> Dict[str, Any]:
        return {"text": self.text, "args": dict(self.args), "english": self.english()}


@dataclass(frozen=True)
class Policy:
    enabled: Optional[bool] = None
    events: Mapping[str, bool] = field(default_factory=dict)
    """Only the categories the policy names."""
    server: Optional[str] = None
    locked: FrozenSet[str] = frozenset()
    source: Optional[str] = None
    """``basedir`` or ``environment``: where the file was; None without one."""
    problem: Optional[Problem] = None

    @property
    def failed(self) -> bool:
        return self.problem is not None

    def values(self) -> Dict[str, Any]:
        """The settings this policy sets, locked or not."""
        out: Dict[str, Any] = {}
        if self.enabled is not None:
            out["enabled"] = self.enabled
        if self.events:
            out["events"] = dict(self.events)
        if self.server is not None:
            out["server"] = self.server
        return out

    def defaults(self, base: Mapping[str, Any]) -> Dict[str, Any]:
        """``base`` (the plugin's defaults) with what this policy sets: the defaults
        of this machine, under the owner's own choices."""
        out = dict(base)
        for key, value in self.values().items():
            out[key] = {**out.get(key, {}), **value} if key == "events" else value
        return out

    def overlay(self, data: Mapping[str, Any]) -> Dict[str, Any]:
        """``data`` (the settings as stored) with the locked values in force.

        Locked ``events`` fix every switch: those the policy names to its value, the
        others to the plugin's default, so that every instance of a farm sends the
        same, whatever its owner had switched before."""
        out = dict(data)
        for key in self.locked:
            if key == "events":
                out["events"] = {**catalog.default_events(), **self.events}
            else:
                out[key] = self.values()[key]
        return out

    def locked_changes(
        self, effective: Mapping[str, Any], values: Mapping[str, Any]
    ) -> List[str]:
        """The locked settings that writing ``values`` would change; ``effective``
        is what is in force now (``overlay`` applied). Writing a locked value as it
        is changes nothing and is not refused."""
        changed = []
        for key in LOCKABLE:
            if key not in self.locked or key not in values:
                continue
            new, now = values[key], effective.get(key)
            if key == "events":
                now = now if isinstance(now, Mapping) else {}
                same = isinstance(new, Mapping) and all(
                    now.get(k) == v for k, v in new.items()
                )
            else:
                same = new == now
            if not same:
                changed.append(key)
        return changed

    def as_dict(self) -> Dict[str, Any]:
        """For the status API and ``status --json``: never the server's value (it is
        shown where the server is shown, to those who may see it)."""
        return {
            "source": self.source,
            "sets": sorted(self.values()),
            "locked": sorted(self.locked),
            "events_off": sorted(k for k, v in self.events.items() if v is False),
            "problem": self.problem.as_dict() if self.problem else None,
        }


NONE = Policy()


def failed(source: Optional[str], text: str, **args: Any) -> Policy:
    return Policy(
        source=source, problem=Problem(text, {k: str(v) for k, v in args.items()})
    )


def parse(text: Optional[str], source: Optional[str] = None) -> Policy:
    """The policy in ``text`` (a YAML document), or a failed one that says why.

    Strict on purpose: an unknown key, a misspelt category or a quoted "true" is a
    problem, not something to guess at, because a farm relies on what it wrote."""
    try:
        return _parse(text, source)
    except Exception:  # pragma: no cover - whatever YAML does, never raise
        return failed(source, N_("The policy file could not be read."))


def _parse(text: Optional[str], source: Optional[str]) -> Policy:
    try:
        data = yaml.safe_load(text or "")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            return failed(
                source,
                N_("The policy file is not valid YAML (line %(line)s)."),
                line=mark.line + 1,
            )
        return failed(source, N_("The policy file is not valid YAML."))
    except (yaml.YAMLError, ValueError, RecursionError):
        return failed(source, N_("The policy file is not valid YAML."))
    if data is None:
        # An empty file (or comments only) decides nothing.
        return Policy(source=source)
    if not isinstance(data, dict):
        return failed(
            source, N_("The policy file must hold settings as key: value lines.")
        )
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        return failed(
            source,
            N_("Unknown key in the policy file: %(key)s (known: %(known)s)."),
            key=_shown(unknown[0]),
            known=", ".join(KEYS),
        )
    enabled = data.get("enabled")
    if "enabled" in data and not isinstance(enabled, bool):
        return failed(source, N_("%(key)s must be true or false."), key="enabled")
    events = data.get("events", {})
    if not isinstance(events, dict):
        return failed(source, N_("events must map categories to true or false."))
    for key, value in events.items():
        if key not in catalog.CATEGORY_KEYS:
            return failed(
                source, N_("Unknown category in events: %(key)s."), key=_shown(key)
            )
        if not isinstance(value, bool):
            return failed(
                source, N_("%(key)s must be true or false."), key=f"events.{key}"
            )
    server = data.get("server")
    if "server" in data and not server_allowed(server):
        # The rule, worded once; the value itself is never repeated: it must not
        # reach octoprint.log.
        return failed(source, SERVER_RULE)
    locked = data.get("locked", [])
    if not isinstance(locked, list) or not all(k in LOCKABLE for k in locked):
        return failed(
            source,
            N_("locked must be a list of %(lockable)s."),
            lockable=", ".join(LOCKABLE),
        )
    for key in locked:
        if key not in data:
            return failed(
                source,
                N_("locked names %(key)s, which the policy file does not set."),
                key=key,
            )
    return Policy(
        enabled=enabled,
        events=dict(events),
        server=server,
        locked=frozenset(locked),
        source=source,
    )


def _shown(key: Any) -> str:
    """A key from the file as it may be repeated in a message: short and printable."""
    text = "".join(c if c.isprintable() else "?" for c in str(key))
    return text[:40] + ("..." if len(text) > 40 else "")
