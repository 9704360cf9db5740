"""Where reports may go: the rule for tracking servers, and an instance's address on one.

Pure, and in the core because more than delivery decides with it: the machine policy
refuses a server that breaks the rule, and a deletion request is only ever kept for
an address that keeps it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Optional
from urllib.parse import urlsplit

from .catalog import N_

SERVER_RULE = N_(
    "The tracking server must be an https:// address, or http:// to a loopback "
    "address, with {id} and {event} in it."
)
#: What this plugin makes as an instance id (uuid4), and what the reference collector
#: accepts: any canonical UUID.
_UUID = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE
)


def is_loopback(url: Any) -> bool:
    """Whether ``url`` points at this machine: ``localhost`` or a loopback address
    (127.0.0.0/8, ::1). A name is not looked at any further: ``127.example.org`` is
    anyone's host, and the id would travel to it in clear text."""
    try:
        host = urlsplit(url).hostname or ""
    except (TypeError, ValueError, AttributeError):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _private_enough(url: str) -> bool:
    # Reports are anonymous, but the instance id in the URL is a stable identifier:
    # it must not travel in clear text across a network.
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme == "https" and host:
        return True
    return parts.scheme == "http" and is_loopback(url)


def server_allowed(url: Any) -> bool:
    """``server`` must be https, or http to a loopback address (a local collector),
    and a template with ``{id}`` and ``{event}`` and nothing else to fill in."""
    if not isinstance(url, str) or "{id}" not in url or "{event}" not in url:
        return False
    try:
        url.format(id="x", event="y")
    except (KeyError, IndexError, ValueError):
        return False  # other placeholders: it could never be filled in
    return _private_enough(url)


def address_allowed(url: Any) -> bool:
    """Whether an instance's address (a filled-in URL, no template) may be asked."""
    return isinstance(url, str) and "{" not in url and _private_enough(url)


def instance_url(server: str, instance: str) -> str:
    """The instance's address on the tracking server: the template cut before
    ``{event}``. ``DELETE`` there forgets the instance, ``GET`` shows what is held."""
    return server.split("{event}")[0].format(id=instance)


def instance_id(value: Any) -> Optional[str]:
    """``value`` if it is a well-formed instance id (a UUID), else None.

    Anything else (a number a hand edit left, an empty string, a name) is no id to
    report under: the plugin replaces it with a new random one."""
    if isinstance(value, str) and _UUID.match(value):
        return value
    return None
