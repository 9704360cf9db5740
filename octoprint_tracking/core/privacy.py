"""Privacy rules: how values from OctoPrint are made safe to leave the machine.

Every function here is pure and decides what survives of a value. Each says why.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Optional

#: Cap for free text that comes from the printer or the host (error messages).
TEXT_CAP = 120

_PATH = re.compile(r"(?:[A-Za-z]:[\\/]|~?/|\\\\)[^\s'\"<>|,;]*")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_IPV6 = re.compile(r"\b(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_FILENAME = re.compile(
    r"\b[\w.-]+\.(?:gcode|gco|g|stl|3mf|obj|bgcode|ufp|mp4|mpg|jpg|png|yaml|log)\b",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TOKEN = re.compile(r"^[A-Za-z0-9_.+:-]{1,64}$")
_REASON = re.compile(r"^[a-z0-9_]{1,32}$")
#: Serial ports whose names carry no serial number or user data.
_SIMPLE_PORT = re.compile(
    r"^(?:/dev/)?(?:tty[A-Za-z]{1,8}\d{0,3}|cu\.[A-Za-z]{1,16}\d{0,3}|rfcomm\d{1,2})$"
    r"|^COM\d{1,3}$|^VIRTUAL$|^AUTO$"
)


def hash_path(path: object, key: bytes) -> Optional[str]:
    # A keyed hash (HMAC-SHA1) of the path tells repeated prints of one file on this
    # instance apart without sending its name. The key is a local secret that never
    # leaves the machine: the server knows the instance id, so a hash salted with the
    # id would let it test guesses ("benchy.gcode"). A new key on "Reset ID" keeps the
    # same file from matching across ids.
    if not isinstance(path, str) or not path or not key:
        return None
    return hmac.new(key, path.encode("utf-8", "replace"), hashlib.sha1).hexdigest()


def scrub_text(value: object, cap: int = TEXT_CAP) -> Optional[str]:
    # Printer and host messages are free text: they can quote file names, paths,
    # addresses or URLs (a failed upload, a network printer). Those are replaced by
    # placeholders and the rest is capped, so an error stays recognisable but says
    # nothing about the owner.
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = _CONTROL.sub(" ", text)
    text = _URL.sub("<url>", text)
    text = _EMAIL.sub("<email>", text)
    text = _PATH.sub("<path>", text)
    text = _FILENAME.sub("<file>", text)
    text = _IPV4.sub("<ip>", text)
    text = _IPV6.sub("<ip>", text)
    text = " ".join(text.split())
    if len(text) > cap:
        text = text[: cap - 1] + "…"
    return text or None


def scrub_port(value: object) -> Optional[str]:
    # /dev/serial/by-id/... names carry the printer's USB serial number, and a
    # network port carries an address: only well-known simple device names are sent
    # as they are, anything else only as "other".
    if not isinstance(value, str) or not value:
        return None
    return value if _SIMPLE_PORT.match(value) else "other"


def token(value: object) -> Optional[str]:
    """An identifier or version (plugin id, slicer, achievement key) or None.

    Identifiers are short and plain; anything else (a path, a sentence) is not an
    identifier and is not sent.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and _TOKEN.match(value):
        return value
    return None


def reason(value: object) -> str:
    """A machine reason (``timeout``, ``firmware``) safe to put into a report name."""
    if isinstance(value, str) and _REASON.match(value):
        return value
    return "other"


def seconds(value: object) -> Optional[int]:
    """A non-negative whole number of seconds, or None."""
    if isinstance(value, bool):
        return None
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 < number < 10**9 else None


def flag(value: object) -> Optional[bool]:
    return value if isinstance(value, bool) else None
