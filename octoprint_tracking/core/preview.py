"""The preview: every report as it would be sent now, each field explained.

Live reports (startup, shutdown, ping, pong) come in built by the caller with this
instance's real values; the others are built from the catalog's realistic samples.
Used by the settings pane, the "Download preview" file and ``preview --json``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from . import catalog, consent
from .model import Fields, Report, make, wire_value


def live(environment: Fields, ping: Report, pong: Optional[Report]) -> Dict[str, Report]:
    """The reports built with this instance's real values (the server's and the CLI's
    preview alike); ``pong`` may not be there yet."""
    out = {
        "startup": make("startup", **environment),
        "shutdown": make("shutdown", **environment),
        "ping": ping,
    }
    if pong is not None:
        out["pong"] = pong
    return out


def build(live: Dict[str, Report], config: consent.Config) -> List[Dict[str, Any]]:
    # Under the owner's current switches, but as if every consent version were
    # accepted: the preview shows what saying yes would send. What the owner declined
    # (a newer version's additions, by "Decline" or by "nothing new") is listed apart,
    # under ``declined``: it is never sent.
    everything = consent.Config(
        enabled=True,
        unique_id=config.unique_id or "preview",
        accepted=catalog.CONSENT_VERSION,
        events=config.events,
    )
    out = []
    for spec in catalog.REPORTS:
        report = live.get(spec.name) or make(
            spec.name.replace("<reason>", "timeout"),
            **{f.name: f.example for f in spec.fields},
        )
        sendable = consent.gate(report, everything)
        shown = (sendable or report).fields
        specs = {name: catalog.field_spec(report.name, name) for name in shown}
        declined = {name for name, f in specs.items() if config.declines(f.since)}
        out.append(
            {
                "report": report.name,
                "description": spec.description,
                "category": spec.category,
                "method": "POST" if spec.post else "GET",
                "sample": spec.name not in live,
                "sent": sendable is not None and not config.declines(spec.since),
                "fields": {
                    name: wire_value(value)
                    for name, value in shown.items()
                    if name not in declined
                },
                "declined": {
                    name: wire_value(value)
                    for name, value in shown.items()
                    if name in declined
                },
                "meanings": {name: f.meaning for name, f in specs.items()},
                # Shown as "(on/off only)" next to the meaning, translated on its own.
                "on_off": [name for name, f in specs.items() if f.on_off],
            }
        )
    return out
