"""What the collector holds about one instance, for that instance (``GET /track/<id>/``).

The instance id is the key, as it is for ``DELETE /track/<id>/``: whoever knows the
random id is the instance (or its owner). The document is built from the one
instance record the store returns for that id, so it cannot contain another
instance; and the store holds no address, so it cannot contain one either. Derived
country and city are shown, because they are held.

Quarantine state (issue 13) is deliberately left out: it is the operator's
judgement, not data the instance sent, and showing it would let whoever fakes
instances test which of them got caught.
"""

from __future__ import annotations

from typing import Any

from .. import plugins
from ..store.model import ENV_COLUMNS
from ..timefmt import day_iso, iso

# Every environment column the store keeps (written once, in store/model.py), but the
# plugin and achievement lists, which are shown as lists below.
ENVIRONMENT = tuple(c for c in ENV_COLUMNS if c not in ("plugins", "achievements"))


def _plugins(value: str | None) -> list[dict[str, str]]:
    # Stored normalised (plugins.normalize): every entry has an id and a version.
    return [{"id": p, "version": v} for p, v in plugins.entries(value)]


def _hours(mask: int) -> list[int]:
    return [h for h in range(24) if mask >> h & 1]


def _ts(value: float | None) -> str | None:
    return None if value is None else iso(value)


def document(instance_id: str, record: Any) -> dict[str, Any]:
    """The JSON answer for ``instance_id`` from its ``InstanceRecord``."""
    finished: dict[int, dict[str, int]] = {}
    for day, hour, seconds in record.print_hours:
        finished.setdefault(day, {})[str(hour)] = int(seconds)
    env = record.env
    environment = {key: env.get(key) for key in ENVIRONMENT}
    environment["plugins"] = _plugins(env.get("plugins"))
    listed = env.get("achievements")
    environment["achievements"] = (
        None if listed is None else [k for k in listed.split(",") if k]
    )
    return {
        "instance_id": instance_id,
        "first_seen": _ts(record.first_seen),
        "last_seen": _ts(record.last_seen),
        "last_print": _ts(record.last_print),
        "environment": environment,
        "days": [
            {
                "day": day_iso(day),
                "active_hours": _hours(hours or 0),
                "version": version,
                "prints": {
                    "started": started or 0,
                    "done": done or 0,
                    "failed": failed or 0,
                    "cancelled": cancelled or 0,
                },
                # UTC hour -> seconds of the prints that finished in it
                "finished_print_seconds": finished.get(day, {}),
            }
            for day, hours, version, started, done, failed, cancelled in record.days
        ],
        "events": [
            {
                "ts": iso(event.ts),
                "event": event.event,
                "version": event.version,
                "fields": dict(event.fields or {}),
            }
            for event in record.events
        ],
    }
