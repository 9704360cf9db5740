"""Validation of incoming tracking requests: ids, event names, fields and limits.

A broken rule raises :class:`ValidationError`, answered as the collector's JSON
error (and counted as a refused report, by its code).
"""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qsl

from ..errors import ApiError

MAX_FIELDS = 64
MAX_VALUE_BYTES = 1024
MAX_BODY_BYTES = 64 * 1024
MAX_QUERY_BYTES = 64 * 1024
MAX_KEY_LENGTH = 64

UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
EVENT_RE = re.compile(r"[a-z0-9_]{1,64}")
REDACTED_ID = "<id>"
KEY_RE = re.compile(rf"[A-Za-z0-9_.:\-]{{1,{MAX_KEY_LENGTH}}}")
UA_VERSION_RE = re.compile(r"OctoPrint/([0-9A-Za-z.+_\-]{1,64})")

FORM_TYPES = ("", "application/x-www-form-urlencoded", "text/plain")


class ValidationError(ApiError):
    """A report that breaks a rule (or cannot be stored): a refused report."""


def redact_ids(text: str) -> str:
    """``text`` with every instance id replaced by ``<id>``: for anything that goes
    to a log (request paths, error messages), which never names an instance."""
    return UUID_RE.sub(REDACTED_ID, text)


def instance_id(value: str) -> str:
    """Canonical (lower case, hyphenated) UUID or ValidationError."""
    if not UUID_RE.fullmatch(value or ""):
        raise ValidationError(400, "invalid_instance_id", "instance id must be a UUID")
    return value.lower()


def event_name(value: str) -> str:
    if not EVENT_RE.fullmatch(value or ""):
        raise ValidationError(400, "invalid_event", "event must match [a-z0-9_]{1,64}")
    return value


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(400, "invalid_encoding", f"{what} is not UTF-8") from None


def parse_pairs(raw: bytes, what: str) -> list[tuple[str, str]]:
    """Parse an urlencoded string into pairs, enforcing the field count early."""
    text = _decode(raw, what)
    if not text:
        return []
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise ValidationError(
            400, "invalid_encoding", f"{what} contains percent-encoded non-UTF-8"
        ) from None
    except ValueError:
        raise ValidationError(
            400, "too_many_fields", f"at most {MAX_FIELDS} fields are allowed"
        ) from None


def fields(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Validate pairs and fold them into a dict (a repeated key keeps its last value)."""
    if len(pairs) > MAX_FIELDS:
        raise ValidationError(
            400, "too_many_fields", f"at most {MAX_FIELDS} fields are allowed"
        )
    result: dict[str, str] = {}
    for key, value in pairs:
        if not KEY_RE.fullmatch(key):
            raise ValidationError(
                400,
                "invalid_field_name",
                f"field names must match [A-Za-z0-9_.:-]{{1,{MAX_KEY_LENGTH}}}",
            )
        if len(value.encode("utf-8", errors="surrogatepass")) > MAX_VALUE_BYTES:
            raise ValidationError(
                400, "value_too_long", f"field {key!r} exceeds {MAX_VALUE_BYTES} bytes"
            )
        # NUL is the one character PostgreSQL's text cannot hold (SQLite's can):
        # refused alike on both, before it reaches a batch of other reports.
        # (Other values PostgreSQL could not store do not get this far: the
        # decoding above is strict UTF-8, which has no surrogates.)
        if "\x00" in value:
            raise ValidationError(
                400, "invalid_value", f"field {key!r} contains a NUL character"
            )
        result[key] = value
    return result


def age_seconds(value: str | None, max_age: float) -> float:
    """The optional ``age`` field: seconds the report was delayed, clamped to max_age."""
    if value is None:
        return 0.0
    try:
        age = float(value)
    except ValueError:
        raise ValidationError(
            400, "invalid_age", "age must be a number of seconds"
        ) from None
    if not math.isfinite(age) or age < 0:
        raise ValidationError(400, "invalid_age", "age must be a non-negative number")
    return min(age, max_age)


def ua_version(user_agent: str | None) -> str | None:
    """The OctoPrint version in a User-Agent (``OctoPrint/<version> ...``)."""
    match = UA_VERSION_RE.search(user_agent or "")
    return match.group(1) if match else None


def version_from(fields: dict[str, str], user_agent: str | None) -> str | None:
    """OctoPrint version: the ``version`` field, else the one in the User-Agent."""
    return fields.get("version") or ua_version(user_agent)
