"""The client address: trusted-proxy resolution and GeoLite2 country/city lookup.

Privacy: the client IP only ever lives in local variables of a request. It is turned
into a country and city here and then dropped; nothing in this module stores or
logs it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, Protocol

UNKNOWN = "unknown"


class Reader(Protocol):
    def get(self, ip: str) -> Any: ...

    def close(self) -> None: ...


def parse_networks(specs: Iterable[str]) -> list[Any]:
    """Parse trusted proxy specs ("10.0.0.1", "10.0.0.0/8", "::1", comma lists)."""
    nets = []
    for spec in specs:
        for part in str(spec).split(","):
            part = part.strip()
            if part:
                nets.append(ipaddress.ip_network(part, strict=False))
    return nets


def _parse_ip(value: str | None) -> Any:
    if not value:
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(ip: Any, networks: list[Any]) -> bool:
    if ip is None:
        return False
    if getattr(ip, "ipv4_mapped", None) is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def client_ip(
    remote_addr: str | None, forwarded_for: str | None, trusted: list[Any]
) -> Any:
    """The address to geolocate.

    ``X-Forwarded-For`` is honoured only when the direct peer is a trusted proxy:
    otherwise any client could claim any origin. The header is walked from the
    right, skipping further trusted proxies; the first untrusted hop is the client.
    """
    peer = _parse_ip(remote_addr)
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        ip = _parse_ip(hop)
        if ip is None:
            # Garbage in the chain: do not guess, the peer is all we can vouch for.
            return peer
        if not _trusted(ip, trusted):
            return ip
    return _parse_ip(hops[0]) if hops else peer


class GeoLookup:
    """Maps an IP to (country ISO code, city name) using a GeoLite2 City database."""

    def __init__(self, path: str | None = None, reader: Reader | None = None):
        self.path = path
        self._reader = reader
        if reader is None and path:
            import maxminddb

            self._reader = maxminddb.open_database(path)

    def lookup(self, ip: Any) -> tuple[str, str]:
        if self._reader is None or ip is None:
            return UNKNOWN, UNKNOWN
        if getattr(ip, "ipv4_mapped", None) is not None:
            ip = ip.ipv4_mapped
        try:
            record = self._reader.get(str(ip))
        except Exception:  # noqa: BLE001 - a bad lookup must never fail a report
            return UNKNOWN, UNKNOWN
        if not isinstance(record, dict):
            return UNKNOWN, UNKNOWN
        country = _dig(record, "country", "iso_code") or _dig(
            record, "registered_country", "iso_code"
        )
        city = _dig(record, "city", "names", "en")
        return (str(country) if country else UNKNOWN, str(city) if city else UNKNOWN)

    def close(self) -> None:
        if self._reader is not None:
            try:
                self._reader.close()
            except Exception:  # noqa: BLE001, S110 - best effort on shutdown
                pass


def _dig(record: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record
