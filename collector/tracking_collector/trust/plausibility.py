"""Plausibility rules: environment combinations that no real OctoPrint instance reports.

Each rule is a small pure function of one report that answers whether the report is
impossible, under a stable reason code. A report that breaks a rule is not dropped:
the admission policy holds its instance out of the public numbers (reason
``implausible:<code>``) where the operator can still see it and release it.

The rules only flag what cannot happen. Anything that is merely unusual (an old
Python on a new Raspberry Pi, a development build, a missing field) passes, because
a false positive hides a real instance and the public numbers must count every one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable, Optional

from .. import plugins
from ..ingest.validation import ua_version

_RELEASE_RE = re.compile(r"v?(\d{1,4})\.(\d{1,4})")

# Python versions each OctoPrint release can be installed on, from the
# ``requires_python`` of its releases on PyPI (checked 2026-11):
#   up to 1.3.x  ">=2.7.9,<3"                         Python 2 only
#   1.4 - 1.7    ">=2.7.9, !=3.0.* ... !=3.5.*, <4"    Python 2.7 or >= 3.6
#   1.8          ">=3.7, <4"                           Python 3 only
#   1.9 - 1.11   ">=3.7, <3.12" ... "<3.14,>=3.7"
#   2.0          ">=3.9, <3.15"
# Rows: (first OctoPrint release, oldest Python 2, oldest Python 3); None = that
# major version cannot run it at all. Only lower bounds are rules: an upper bound
# means "not tested yet", and a venv kept across a distribution upgrade or an
# install with --ignore-requires-python does run on a newer Python.
_Floor = Optional[tuple[int, int]]
_PYTHON_FLOOR: tuple[tuple[tuple[int, int], _Floor, _Floor], ...] = (
    ((1, 0), (2, 7), None),
    ((1, 4), (2, 7), (3, 6)),
    ((1, 8), None, (3, 7)),
    ((2, 0), None, (3, 9)),
)

# A live report carries the version of the process that sends it, in the field and
# in the User-Agent alike. A report that waited in the plugin's spool across an
# OctoPrint update legitimately carries the old version in its field, so the
# comparison applies only to reports delivered within this many seconds.
LIVE_AGE = 300.0

# Third-party plugin identifiers as OctoPrint's plugin manager and our plugin send
# them: the plugin key (a Python identifier or entry point name, so letters, digits,
# "_", "-" and "."), a colon, and its version or "?".
_PLUGIN_ENTRY_RE = re.compile(plugins.ID_PATTERN + r":[A-Za-z0-9_.+!\-?]{1,64}")


def release(text: object) -> tuple[int, int] | None:
    """(major, minor) at the start of a version string ("1.11.8", "3.9.2rc1"), or None."""
    if not isinstance(text, str):
        return None
    match = _RELEASE_RE.match(text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass(frozen=True)
class Sample:
    """What the rules look at in one report."""

    fields: Mapping[str, str]
    """The report's fields as received (``version``, ``python``, ``plugins``, ...)."""

    user_agent: str | None = None
    """The request's User-Agent header (``OctoPrint/<version> UsageTracking/<x>``)."""

    age: float = 0.0
    """Seconds the report says it was delayed (its ``age`` field), 0 if live."""


def python_unsupported(sample: Sample) -> bool:
    """The reported Python cannot run the reported OctoPrint version (Python 2.7
    with OctoPrint 1.8 or later, Python 3 with 1.3, Python 3.7 with 2.0, ...)."""
    octoprint = release(sample.fields.get("version") or ua_version(sample.user_agent))
    python = release(sample.fields.get("python"))
    # Before 1.0 is no release that reports usage: a development build that lost
    # its version ("0+unknown", "0.0.0") says nothing about its Python.
    if octoprint is None or python is None or octoprint < (1, 0):
        return False
    floors = [row for row in _PYTHON_FLOOR if octoprint >= row[0]][-1]
    floor = floors[1] if python[0] == 2 else floors[2] if python[0] == 3 else None
    # Python 1 or 4+ does not run any OctoPrint either.
    return floor is None or python < floor


def version_mismatch(sample: Sample) -> bool:
    """A live report whose ``version`` field differs from ``OctoPrint/x`` in its
    User-Agent: both come from the same running process."""
    field = sample.fields.get("version")
    agent = ua_version(sample.user_agent)
    if not field or not agent or sample.age > LIVE_AGE:
        return False
    return field.strip().lower() != agent.strip().lower()


def malformed_plugins(sample: Sample) -> bool:
    """``plugins`` is not a list of ``id:version`` with distinct ids, as a real plugin
    manager would report it."""
    value = sample.fields.get("plugins")
    if value is None or value == "":
        return False
    ids = set()
    for entry in plugins.split(value):
        if not _PLUGIN_ENTRY_RE.fullmatch(entry):
            return True
        key = plugins.entry(entry)[0].lower()
        if key in ids:
            return True
        ids.add(key)
    return False


def octopi_not_linux(sample: Sample) -> bool:
    """An OctoPi version on an operating system other than Linux: OctoPi is a
    Raspberry Pi OS image, and the field is only read from its image files.

    The other half of "the Python of OctoPi without OctoPi" is not a rule: OctoPi
    ships the Python of Raspberry Pi OS / Debian, so a Pi with that exact Python and
    no OctoPi is an ordinary manual install."""
    if not sample.fields.get("octopi_version"):
        return False
    os_ = (sample.fields.get("os") or "").strip().lower()
    return bool(os_) and os_ != "linux"


@dataclass(frozen=True)
class Rule:
    code: str
    """Stable reason code; the hold reason is ``implausible:<code>``."""

    check: Callable[[Sample], bool]
    """True when the report is impossible."""

    first_report_only: bool = False
    """Judge only an instance's first report (see version_mismatch)."""


RULES: tuple[Rule, ...] = (
    Rule("python_version", python_unsupported),
    # A report spooled by the plugin at shutdown and delivered within a minute by
    # the updated OctoPrint carries no age and the old version in its field: for an
    # instance the store already has, a mismatch is an update, not a fake.
    Rule("version_mismatch", version_mismatch, first_report_only=True),
    Rule("plugin_ids", malformed_plugins),
    Rule("octopi_os", octopi_not_linux),
)


def violations(
    sample: Sample, first_report: bool = True, rules: tuple[Rule, ...] = RULES
) -> list[str]:
    """Codes of the rules the sample breaks, in rule order; empty if plausible.
    ``first_report``: the sample is the first report of its instance."""
    return [
        rule.code
        for rule in rules
        if (first_report or not rule.first_report_only) and rule.check(sample)
    ]
