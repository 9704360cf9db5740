"""Labels for what a tracking server says it holds about this instance (``GET`` on the
instance's address), written once for the settings pane and the CLI.

The keys are those of the reference collector's document, in its order. A key
another server adds is labelled with the catalog's meaning when it names a field this
plugin sends, and shown as it is otherwise: it is the server's word, not ours.
"""

from __future__ import annotations

from typing import Optional, Tuple

from . import catalog
from .catalog import N_

#: The environment the reference collector keeps per instance: (key, label).
ENVIRONMENT: Tuple[Tuple[str, str], ...] = (
    ("version", N_("OctoPrint version")),
    ("python", N_("Python version")),
    ("os", N_("Operating system")),
    ("bits", N_("Bits")),
    ("cores", N_("CPU cores")),
    ("pi_model", N_("Raspberry Pi model")),
    ("octopi", N_("OctoPi version")),
    ("firmware", N_("Printer firmware")),
    ("octopiuptodate_build", N_("OctoPi-UpToDate build")),
    ("browser", N_("Browser")),
    ("browser_version", N_("Browser version")),
    ("client_os", N_("Browser's operating system")),
    ("country", N_("Country")),
    ("city", N_("City")),
    # A list (the keys of the unlocked achievements), shown comma separated.
    ("achievements", N_("Achievements")),
)

#: Facts about the instance as a whole: (key, label).
FACTS: Tuple[Tuple[str, str], ...] = (
    ("first_seen", N_("First seen")),
    ("last_seen", N_("Last seen")),
    ("last_print", N_("Last print")),
)

_LABELS = dict(ENVIRONMENT + FACTS)


def fallbacks() -> Tuple[Tuple[str, str], ...]:
    """Labels of keys another server may add: the fields this plugin sends, by the
    catalog's meaning (the settings pane gets them with the known ones)."""
    seen = dict.fromkeys(_LABELS)
    out = []
    for report in catalog.REPORTS:
        for field in report.fields:
            if field.name not in seen:
                seen[field.name] = None
                out.append((field.name, field.meaning))
    return tuple(out)


#: Every label, the known ones first (built once: the catalog does not change).
_ALL_LABELS = {**dict(fallbacks()), **_LABELS}


def label(key: str) -> Optional[str]:
    """The (untranslated) label of a key of the server's document, or None when it
    is one this plugin does not know."""
    return _ALL_LABELS.get(key)
