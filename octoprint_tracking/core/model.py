"""The report model: one report on its way out, and what builders remember between events."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

from . import catalog

Fields = Dict[str, Any]


@dataclass
class Report:
    """One report on its way out: a catalog name and its declared fields."""

    name: str
    fields: Fields = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    """Wall-clock time of the event, to compute ``age`` and expire old reports."""

    @property
    def spec(self) -> catalog.ReportSpec:
        found = catalog.spec(self.name)
        assert found is not None, self.name
        return found

    @property
    def post(self) -> bool:
        return self.spec.post

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "fields": dict(self.fields), "created": self.created}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Report":
        """Rebuild a report from the spool; raises ValueError for anything foreign."""
        if not isinstance(data, Mapping):
            raise ValueError("not a mapping")
        name, fields, created = data.get("name"), data.get("fields"), data.get("created")
        if not isinstance(name, str) or not isinstance(fields, dict):
            raise ValueError("not a report")
        if not isinstance(created, (int, float)) or isinstance(created, bool):
            raise ValueError("no creation time")
        catalog.check_fields(name, fields)
        return cls(name, dict(fields), float(created))


def wire_value(value: Any) -> str:
    """How a field value is written on the wire: as the bundled plugin's urlencode."""
    return str(value)


def make(name: str, **fields: Any) -> Report:
    """A report with every field that has no value (None) left out."""
    return Report(name, {k: v for k, v in fields.items() if v is not None})


@dataclass
class HostState:
    """What the builders remember between events."""

    file_key: bytes = b""
    """The local secret that keys file hashes (see ``privacy.hash_path``)."""

    throttle: Optional[Fields] = None
    """Throttle state from the Pi support plugin's last event, already sanitised."""

    connection: Optional[Fields] = None
    """Fields of a connection whose firmware name is still awaited."""

    connected_at: float = 0.0

    lock: threading.Lock = field(
        default_factory=threading.Lock, compare=False, repr=False
    )
    """Guards ``connection``: the firmware event (host thread) and the timeout
    (the timer thread) must not both send ``printer_connected``."""

    def awaiting_firmware_since(self) -> Optional[float]:
        """When the connection whose firmware name is awaited was made, or None."""
        return self.connected_at if self.connection is not None else None
