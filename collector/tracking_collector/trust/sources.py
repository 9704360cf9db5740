"""Report sources: the client's network, kept only as a keyed hash under a daily key.

The source of a report is the network it came from: the /24 of an IPv4 address, the
/48 of an IPv6 address (an IPv4-mapped IPv6 address counts as its IPv4 address).
The admission policy needs to tell sources apart within one day, and nothing more.

Privacy: there are only 2**24 IPv4 /24 networks, so a plain hash of one could be
reversed by trying them all. The hash is therefore an HMAC-SHA256 under a random
key of the current UTC day, truncated to 64 bits. The key is random (never derived
from anything that outlives it), so once the key of a day is deleted nobody,
including the operator, can tell which network a hash of that day stood for. Keys
live in the database because every worker process and machine of one collector
must hash alike; :class:`SourceKeys` deletes a day's key once the day is over. The
address itself is only ever a local variable of the request.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import threading
import time
from typing import Any, Callable, Protocol

from ..timefmt import utc_day

KEY_BYTES = 32
HASH_HEX = 16
IPV4_PREFIX = 24
IPV6_PREFIX = 48


def _message(version: int, prefix: int, packed: bytes) -> bytes:
    # Version and prefix length are part of the message so that an IPv4 network and
    # an IPv6 network with the same leading bytes can never collide.
    return bytes([version, prefix]) + packed


def source_hash(key: bytes, ip: Any) -> str | None:
    """Keyed hash of a client address's network (/24 or /48): 16 hex digits, the
    same for every address in it; None without an address."""
    message = _network_message(ip)
    if message is None:
        return None
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:HASH_HEX]


def _network_message(ip: Any) -> bytes | None:
    """The message :func:`source_hash` hashes: the address's network (IPv4-mapped
    addresses as IPv4), built from the packed address directly: this runs once per
    report, and building an ``ip_network`` costs more than the HMAC."""
    if isinstance(ip, str):
        try:
            ip = ipaddress.ip_address(ip.strip())
        except ValueError:
            return None
    if ip is None:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    packed = ip.packed
    if ip.version == 4:
        return _message(4, IPV4_PREFIX, packed[:3] + bytes(1))
    return _message(6, IPV6_PREFIX, packed[:6] + bytes(10))


class KeyBackend(Protocol):
    """Where the keys of the days live: shared by every process of one collector."""

    def key_for_day(self, day: str, candidate: bytes) -> bytes:
        """The key of ``day``; stores ``candidate`` first if the day has none yet.

        Must be atomic across processes: two processes offering different
        candidates for the same day both get the one that was stored first.
        """
        ...

    def delete_keys_before(self, day: str) -> int:
        """Destroy the keys of every day before ``day``; return how many."""
        ...


class SourceKeys:
    """Hashes client addresses to source hashes under the key of the current day.

    The key of the day is cached in this process. The first use on a new UTC day
    fetches (or creates) that day's key, drops the cached old one and deletes every
    older key from the backend, so a day's key is gone as soon as any process of the
    collector sees the next day; :meth:`rotate` does the same from the purge loop so
    an idle collector does not keep yesterday's key either.
    """

    def __init__(
        self,
        backend: KeyBackend,
        clock: Callable[[], float] = time.time,
        random: Callable[[int], bytes] = os.urandom,
    ):
        self._backend = backend
        self._clock = clock
        self._random = random
        self._lock = threading.Lock()
        self._day: str | None = None
        self._key: bytes | None = None

    def day(self) -> str:
        return utc_day(self._clock())

    def _current(self) -> tuple[bytes, int]:
        """Today's key, and how many older keys were destroyed on the way."""
        today = self.day()
        with self._lock:
            deleted = 0
            if self._day != today or self._key is None:
                self._key = self._backend.key_for_day(today, self._random(KEY_BYTES))
                self._day = today
                deleted = self._backend.delete_keys_before(today)
            return self._key, deleted

    def rotate(self) -> int:
        """Make sure today's key exists and no older one; returns keys deleted."""
        _, deleted = self._current()
        return deleted + self._backend.delete_keys_before(self.day())

    def token(self, text: str) -> str:
        """Keyed hash of an identifier under today's key (16 hex digits).

        The per-source counts of new instance ids store these instead of the ids:
        once the day's key is gone they cannot be matched to an instance, and a
        forgotten instance leaves no id behind in them."""
        key, _ = self._current()
        return hmac.new(key, b"id:" + text.encode(), hashlib.sha256).hexdigest()[
            :HASH_HEX
        ]

    def source(self, ip: Any) -> str | None:
        """The source hash of a client address under today's key; None without one."""
        if ip is None:
            return None
        key, _ = self._current()
        return source_hash(key, ip)
