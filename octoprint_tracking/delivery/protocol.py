"""The wire protocol of the tracking server: where reports go and how they are written.

The bundled plugin's protocol: ``GET`` with a url-encoded query (spaces as ``%20``), a
form-encoded ``POST`` body for large reports, ``DELETE`` on the instance's address to
forget it. Which servers are allowed, and how an answer is read, also live here.
"""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlencode, urlsplit

from ..core.catalog import N_
from ..core.consent import Config
from ..core.model import wire_value

TRACKING_URL = "https://tracking.octoprint.org/track/{id}/{event}/"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
SERVER_RULE = N_(
    "The tracking server must be an https:// address, or http:// to a loopback "
    "address, with {id} and {event} in it."
)
#: The server's ``Retry-After`` is honoured up to an hour: a broken header must not
#: silence a report for days.
RETRY_AFTER_CAP = 3600.0


@dataclass(frozen=True)
class Target:
    """Where reports may go and under which consent: the snapshot delivery is given."""

    url: str
    config: Config

    def url_for(self, event: str) -> str:
        return self.url.format(id=self.config.unique_id, event=event)


def is_loopback(url: Any) -> bool:
    """Whether ``url`` points at this machine."""
    try:
        host = urlsplit(url).hostname or ""
    except (TypeError, ValueError, AttributeError):
        return False
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def server_allowed(url: Any) -> bool:
    """``server`` must be https, or http to a loopback address (a local collector).

    Reports are anonymous, but the instance id in the URL is a stable identifier:
    it must not travel in clear text across a network.
    """
    if not isinstance(url, str) or "{id}" not in url or "{event}" not in url:
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    try:
        url.format(id="x", event="y")
    except (KeyError, IndexError, ValueError):
        return False  # other placeholders: it could never be filled in
    if parts.scheme == "https" and host:
        return True
    return parts.scheme == "http" and is_loopback(url)


def forget_url(server: str, instance: str) -> str:
    """``DELETE`` address of an instance on the tracking server."""
    return server.split("{event}")[0].format(id=instance)


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


def outcome(
    status: int, headers: Dict[str, str], now: float
) -> Tuple[str, Optional[float]]:
    """What an HTTP answer means: delivered, retry (with the server's delay, if any)
    or rejected (any other 4xx: undeliverable, dropped)."""
    if 200 <= status < 300:
        return "delivered", None
    if status >= 500 or status in (408, 429):
        delay = retry_after(headers.get("Retry-After"), now)
        return "retry", None if delay is None else min(delay, RETRY_AFTER_CAP)
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
