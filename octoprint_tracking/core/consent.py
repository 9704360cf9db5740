"""The consent gate: whether a report may leave the machine, and with which fields.

A report passes only if no kill switch is set, the machine's policy can be read, the
owner (or the policy) said yes (``enabled`` is True, not merely "not False"), its
category switch is on, and the report and each of its fields are no newer than the
consent version the owner accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Mapping, Optional

from . import catalog
from .address import instance_id
from .model import Report


@dataclass(frozen=True)
class Config:
    """An immutable snapshot of the plugin's settings, read once and refreshed on
    save (``settings.snapshot`` makes it)."""

    enabled: Optional[bool] = None
    unique_id: Optional[str] = None
    accepted: int = 0
    """Consent version the owner accepted (0 = none)."""
    events: Dict[str, bool] = field(default_factory=catalog.default_events)
    kill: Optional[str] = None
    declined: int = 0
    """Newest consent version whose additions the owner declined (keeps the wizard away)."""
    decline_new: bool = False
    """Nothing new without asking, and don't ask me: every consent version after the
    accepted one is declined as it comes."""
    policy_failed: bool = False
    """The machine's policy file cannot be used: like a kill switch, nothing is sent."""
    _allowed: Dict[str, Optional[FrozenSet[str]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_settings(
        cls, data: Mapping[str, Any], kill: Optional[str], policy_failed: bool = False
    ) -> "Config":
        """``data``: the settings in force (the policy's locked values applied).
        Anything of the wrong type reads as its safe default: an id that is no UUID
        as no id, a switch that is not False as on, as the bundled plugin reads it."""
        enabled = data.get("enabled")
        events = data.get("events") if isinstance(data.get("events"), Mapping) else {}
        accepted = data.get("consent_version")
        if not isinstance(accepted, int) or isinstance(accepted, bool):
            # An owner who said yes before consent versions existed (the bundled
            # plugin) accepted what the bundled plugin sends: version 1.
            accepted = 1 if enabled is True else 0
        declined = data.get("consent_declined")
        return cls(
            enabled=enabled if isinstance(enabled, bool) else None,
            unique_id=instance_id(data.get("unique_id")),
            accepted=accepted,
            events={k: events.get(k, True) is not False for k in catalog.CATEGORY_KEYS},
            kill=kill,
            declined=declined if isinstance(declined, int) else 0,
            decline_new=data.get("decline_new") is True,
            policy_failed=policy_failed,
        )

    @property
    def silenced(self) -> bool:
        """Nothing at all may leave the machine, whatever was decided: a kill switch
        is set or the policy file cannot be used. Not even a deletion request."""
        return self.kill is not None or self.policy_failed

    @property
    def active(self) -> bool:
        """Whether reports may be sent at all (``silenced`` spelt out: the host
        thread asks this for every event)."""
        return (
            self.kill is None
            and not self.policy_failed
            and self.enabled is True
            and bool(self.unique_id)
        )

    @property
    def wizard_required(self) -> bool:
        if self.silenced:
            return False
        if self.enabled is None:
            return True
        current = catalog.CONSENT_VERSION
        return (
            self.enabled is True
            and self.accepted < current
            and not self.declines(current)
        )

    def declines(self, since: int) -> bool:
        """Whether what a consent version added is declined (not merely not yet
        accepted): by "Decline the new data", or by ``decline_new`` for any version
        after the accepted one."""
        return since > self.accepted and (self.decline_new or since <= self.declined)

    def allowed_fields(self, name: str) -> Optional[FrozenSet[str]]:
        """Fields a report may carry under this config, or None if it may not be
        sent at all. Cached: the snapshot is immutable, and this is the hot path."""
        try:
            return self._allowed[name]
        except KeyError:
            pass
        spec = catalog.spec(name)
        allowed: Optional[FrozenSet[str]] = None
        if (
            spec is not None
            and spec.since <= self.accepted
            and self.category_on(spec.category)
        ):
            allowed = frozenset(
                f.name
                for f in spec.fields + catalog.COMMON_FIELDS
                if f.since <= self.accepted and self.category_on(f.category)
            )
        self._allowed[name] = allowed
        return allowed

    def category_on(self, key: Optional[str]) -> bool:
        spec = next((c for c in catalog.CATEGORIES if c.key == key), None)
        if key is None:
            return True
        return bool(self.events.get(key, True)) and (
            spec is None or spec.since <= self.accepted
        )


def gate(report: Optional[Report], config: Config) -> Optional[Report]:
    """The report as it may be sent under ``config``, or None if it may not."""
    if report is None or not config.active:
        return None
    allowed = config.allowed_fields(report.name)
    if allowed is None:
        return None
    # Undeclared fields never leave; newer fields wait for the owner's consent.
    if not allowed.issuperset(report.fields):
        fields = {k: v for k, v in report.fields.items() if k in allowed}
        return Report(report.name, fields, report.created)
    return report
