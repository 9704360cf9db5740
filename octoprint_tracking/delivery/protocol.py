"""The wire protocol of the tracking server: where reports go and how they are written.

The bundled plugin's protocol: ``GET`` with a url-encoded query (spaces as ``%20``), a
form-encoded ``POST`` body for large reports, ``DELETE`` on the instance's address to
forget it. Ours adds ``GET`` on that address: what the server holds about the
instance, where the server offers it. How each answer is read also lives here; which
servers are allowed is the core's rule (``core.address``).
"""

from __future__ import annotations

import email.utils
import json
import random
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Optional, Tuple
from urllib.parse import urlencode

from ..core.address import instance_url
from ..core.consent import Config
from ..core.model import wire_value

TRACKING_URL = "https://tracking.octoprint.org/track/{id}/{event}/"
#: The server's ``Retry-After`` is honoured up to an hour: a broken header must not
#: silence a report for days.
RETRY_AFTER_CAP = 3600.0
#: Largest answer read from ``GET`` on the instance's address. The reference
#: collector's document (90 days, recent events) is a few tens of kB; a server that
#: sends more is not one whose answer we show.
SERVER_DATA_LIMIT = 1 << 20


@dataclass(frozen=True)
class Target:
    """Where reports may go and under which consent: the snapshot delivery is given."""

    url: str
    config: Config

    def url_for(self, event: str) -> str:
        return self.url.format(id=self.config.unique_id, event=event)

    @property
    def instance_address(self) -> str:
        """The instance's address on this server (``DELETE`` there forgets it)."""
        return instance_url(self.url, self.config.unique_id or "")


@dataclass(frozen=True)
class Deletion:
    """The owner's request that the server forget an instance: one ``DELETE`` on the
    instance's address, kept in a file of its own until the server answers."""

    key: str
    """Name of its file in the plugin's data folder (``files``)."""
    address: str
    requested: float

    #: How the journal names it; it carries no fields.
    name: ClassVar[str] = "deletion_request"

    @property
    def fields(self) -> Dict[str, Any]:
        return {}


def encode(fields: Dict[str, Any]) -> str:
    """Query string or form body of a report, spaces as ``%20`` as the bundled plugin
    sends them."""
    return urlencode({k: wire_value(v) for k, v in fields.items()}).replace("+", "%20")


def retry_after(value: Optional[str], now: float) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def _delay(headers: Dict[str, str], now: float) -> Optional[float]:
    delay = retry_after(headers.get("Retry-After"), now)
    return None if delay is None else min(delay, RETRY_AFTER_CAP)


def outcome(
    status: int, headers: Dict[str, str], now: float
) -> Tuple[str, Optional[float]]:
    """What an HTTP answer means: delivered, retry (with the server's delay, if any)
    or rejected (any other 4xx: undeliverable, dropped)."""
    if 200 <= status < 300:
        return "delivered", None
    if _retryable(status):
        return "retry", _delay(headers, now)
    return "rejected", None


def deletion_outcome(
    status: int, headers: Dict[str, str], body: Optional[bytes], now: float
) -> Tuple[str, Optional[float]]:
    """What the answer to a deletion request means: ``confirmed`` (the server forgot
    the instance, or holds nothing under it), ``unsupported`` (it does not offer
    deletion: 404, 405, 501, or a redirect, which is not followed: the id must not be
    carried elsewhere), ``rejected`` (any other 4xx) or ``retry`` (no answer yet:
    5xx, 408, 429, with the server's delay, if any)."""
    if 200 <= status < 300:
        return "confirmed", None
    if status == 404 and _unknown_instance(_json_object(body)):
        return "confirmed", None
    if status in (404, 405, 501) or 300 <= status < 400:
        return "unsupported", None
    if _retryable(status):
        return "retry", _delay(headers, now)
    return "rejected", None


class Backoff:
    """Exponential backoff with full jitter between ``base`` and ``cap`` seconds."""

    def __init__(self, base: float = 5.0, cap: float = 3600.0, rng=random.random):
        self.base, self.cap, self.rng = base, cap, rng
        self.failures = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 32)))
        self.failures += 1
        # Full jitter, but never below the base: a fleet that lost its server at the
        # same moment spreads out instead of coming back in lockstep.
        return self.base + self.rng() * max(0.0, ceiling - self.base)

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True)
class ServerData:
    """What the tracking server said when asked what it holds about this instance."""

    state: str
    """``ok`` (``data`` holds the server's document), ``unknown`` (it holds nothing
    for this id), ``unsupported`` (it does not offer this), ``limited`` (asked too
    often: ``retry_after`` seconds), ``unreachable`` (no usable answer) or ``off``
    (nothing was asked: tracking is off, or the server is not allowed)."""
    data: Optional[Dict[str, Any]] = None
    status: Optional[int] = None
    """The HTTP status of the answer, when there was one."""
    retry_after: Optional[float] = None
    reason: Optional[str] = None
    """Why ``off``: ``tracking_off`` or ``server_not_allowed``."""

    def as_dict(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def server_data_answer(
    instance: str,
    status: int,
    headers: Dict[str, str],
    body: Optional[bytes],
    now: float,
) -> ServerData:
    """What an answer to ``GET`` on the instance's address means.

    ``body`` is None when the answer was larger than ``SERVER_DATA_LIMIT``. Only a
    JSON object that names this instance is data: a server that answers anything
    else (HTML, the default server's pages, a generic ``{"ok": true}``, a redirect)
    does not offer the view, and another instance's data is never shown as ours.
    """
    document = _json_object(body)
    if status == 200:
        if document is None or document.get("instance_id") != instance:
            return ServerData("unsupported", status=status)
        return ServerData("ok", data=document, status=status)
    if status == 404:
        # A collector says *which* thing is unknown; a bare 404 is a server without
        # the route, which is not the same as "we hold nothing about you".
        if _unknown_instance(document):
            return ServerData("unknown", status=status)
        return ServerData("unsupported", status=status)
    if status in (429, 503) and headers.get("Retry-After"):
        delay = retry_after(headers.get("Retry-After"), now)
        if delay is not None:
            return ServerData(
                "limited", status=status, retry_after=min(delay, RETRY_AFTER_CAP)
            )
    if status == 429:
        return ServerData("limited", status=status)
    if status >= 500 and status != 501:
        return ServerData("unreachable", status=status)
    # 3xx (not followed: the id must not be carried elsewhere), 405, 501, other 4xx.
    return ServerData("unsupported", status=status)


def _unknown_instance(document: Optional[Dict[str, Any]]) -> bool:
    """A collector's 404 that says *which* thing is unknown: this instance."""
    return document is not None and document.get("error") == "unknown_instance"


def _json_object(body: Optional[bytes]) -> Optional[Dict[str, Any]]:
    if not body:
        return None
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None
