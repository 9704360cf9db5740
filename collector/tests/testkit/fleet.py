"""Replay generator: an organic fleet beside the stats manipulation of 2024.

The organic fleet is what a collector of real instances sees: long-lived instances
with real environments that ping every 15 minutes and pong once a day, a few of
them with a commercial plugin, and a print farm of dozens of instances behind ONE
address. The attack is the pattern OctoPrint's maintainer described (blog posts of
2024-06-28 and 2024-07-04): a few sources create fake instance ids by the hundred,
each pushing one commercial plugin plus random popular ones and "installing" it,
most living under 30 minutes and some up to 12 hours, many with environments that
cannot exist.

Every address is from the documentation ranges (RFC 5737 TEST-NET-1/2/3 and RFC
3849 2001:db8::/32); they travel only in ``X-Forwarded-For`` to a collector on
loopback that trusts 127.0.0.1.
"""

from __future__ import annotations

import http.client
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

DAY = 86400.0
HOUR = 3600.0

COMMERCIAL = "acme_cloudprint"
POPULAR = (
    "octolapse",
    "bedlevelvisualizer",
    "printtimegenius",
    "themeify",
    "displaylayerprogress",
    "firmwareupdater",
    "octoprint_deploy",
    "dashboard",
    "spoolmanager",
    "obico_like_monitor",
    "prusaslicerthumbnails",
    "uicustomizer",
)

FARM_ADDRESS = "192.0.2.10"
ATTACK_V4 = "198.51.100."  # one /24, many hosts
ATTACK_V6 = "2001:db8:bad:"  # one /48, many hosts
SHARED_ISP_V4 = "203.0.113."  # one /24 shared by unrelated organic households

# Real environments (OctoPrint version, Python) as they occur in the fleet.
REAL_ENVIRONMENTS = (
    ("1.11.8", "3.11.2"),
    ("1.11.8", "3.9.2"),
    ("1.11.7", "3.13.1"),
    ("1.10.3", "3.9.2"),
    ("1.10.3", "3.7.3"),
    ("1.9.3", "3.11.2"),
    ("1.8.7", "3.7.3"),
    ("1.7.3", "2.7.16"),  # legacy, but real: 1.7 still ran on Python 2.7
    ("2.0.0rc3", "3.12.3"),
)
# What the fakes claimed: OctoPrint 1.8+ on Python 2.7, and versions that do not add
# up (the version field disagrees with the User-Agent of the same request).
IMPOSSIBLE_ENVIRONMENTS = (
    ("1.9.3", "2.7.18", None),
    ("1.10.2", "2.7.18", None),
    ("1.11.8", "3.9.2", "1.8.0"),
)


@dataclass(frozen=True)
class Request:
    """One report as a client sends it (the address goes in X-Forwarded-For)."""

    ts: float
    method: str
    instance: str
    event: str
    fields: dict
    user_agent: str
    client: str


@dataclass
class Fleet:
    requests: list[Request]
    organic: set[str]
    farm: set[str]
    fakes: set[str]
    commercial_organic: set[str]
    start: float
    end: float

    @property
    def truth(self) -> int:
        return len(self.organic)


@dataclass
class _Instance:
    id: str
    client: Callable[[random.Random], str]
    version: str
    python: str
    plugins: list[str]
    first: float
    last: float
    ping_every: float
    ua_version: str | None = None
    install: str | None = None
    octopi: str | None = None
    extra: dict = field(default_factory=dict)


def user_agent(version: str) -> str:
    return f"OctoPrint/{version} UsageTracking/0.1.0"


def _environment(inst: _Instance) -> dict:
    env = {"version": inst.version, "os": "linux", "python": inst.python, "bits": "64"}
    if inst.octopi:
        env["octopi_version"] = inst.octopi
    return env


def _requests(inst: _Instance, rng: random.Random) -> Iterator[Request]:
    ua = user_agent(inst.ua_version or inst.version)

    def req(ts: float, event: str, fields: dict, method: str = "GET") -> Request:
        return Request(ts, method, inst.id, event, fields, ua, inst.client(rng))

    yield req(inst.first, "startup", _environment(inst))
    plugins = ",".join(f"{p}:1.0.{rng.randint(0, 9)}" for p in inst.plugins)
    next_pong = inst.first + 60
    if inst.install:
        yield req(
            inst.first + 30,
            "install_plugin",
            {"plugin": inst.install, "plugin_version": "1.0.0"},
        )
    ts = inst.first
    while ts <= inst.last:
        if ts >= next_pong:
            yield req(ts, "pong", {**_environment(inst), "plugins": plugins}, "POST")
            next_pong = ts + DAY
        yield req(ts, "ping", {"octoprint_uptime": str(int(ts - inst.first))})
        ts += inst.ping_every
    if next_pong == inst.first + 60 and inst.last >= next_pong:
        yield req(inst.last, "pong", {**_environment(inst), "plugins": plugins}, "POST")


def build(
    start: float,
    days: int = 7,
    organic: int = 190,
    farm: int = 40,
    commercial_organic: int = 19,
    fakes: int = 1800,
    ping_every: float = 15 * 60,
    fake_ping_every: float = 10 * 60,
    seed: int = 13,
) -> Fleet:
    """The replay of ``days`` days from ``start``, every request sorted by time."""
    rng = random.Random(seed)
    end = start + days * DAY
    instances: list[_Instance] = []

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def popular(k: int) -> list[str]:
        return rng.sample(POPULAR, k)

    # Organic: the farm behind one address, a shared ISP /24, and households with a
    # /48 of their own. They live through the window; some are installed during it,
    # some stop a day or two before its end: every one is active in the last 7 days.
    organic_ids, farm_ids, commercial_ids = set(), set(), set()
    for n in range(organic):
        version, python = REAL_ENVIRONMENTS[n % len(REAL_ENVIRONMENTS)]
        if n < farm:
            client = _fixed(FARM_ADDRESS)
            version, python = "1.11.8", "3.11.2"
        elif n < farm + 20:
            host = 20 + n - farm
            client = _fixed(f"{SHARED_ISP_V4}{host}")
        else:
            client = _fixed(f"2001:db8:{n:x}::{rng.randint(1, 0xFFFF):x}")
        first = start + (rng.uniform(0, 3 * DAY) if n % 5 == 0 else rng.uniform(0, HOUR))
        last = end - (rng.uniform(DAY, 2 * DAY) if n % 7 == 0 else rng.uniform(0, 600))
        plugins = popular(rng.randint(0, 4))
        install = None
        if len(commercial_ids) < commercial_organic and n >= farm // 2:
            plugins.append(COMMERCIAL)
            install = COMMERCIAL if n % 2 else None
        inst = _Instance(
            uid(),
            client,
            version,
            python,
            plugins,
            first,
            last,
            ping_every,
            install=install,
            octopi="1.0.0" if python == "3.9.2" else None,
        )
        instances.append(inst)
        organic_ids.add(inst.id)
        if n < farm:
            farm_ids.add(inst.id)
        if COMMERCIAL in plugins:
            commercial_ids.add(inst.id)

    # The attack: two sources, days 1 to days-2, fakes that push the commercial
    # plugin. 85 % live under 30 minutes, the rest up to 12 hours; 40 % claim an
    # impossible environment.
    fake_ids = set()
    for n in range(fakes):
        if n % 2:
            client = _random_host(ATTACK_V4, lambda r: str(r.randint(1, 254)))
        else:
            client = _random_host(ATTACK_V6, lambda r: f":{r.randint(1, 0xFFFF):x}")
        first = start + DAY + rng.uniform(0, (days - 3) * DAY)
        life = (
            rng.uniform(60, 29 * 60)
            if rng.random() < 0.85
            else rng.uniform(HOUR, 12 * HOUR)
        )
        ua_version = None
        if rng.random() < 0.4:
            version, python, claimed = rng.choice(IMPOSSIBLE_ENVIRONMENTS)
            if claimed:
                ua_version, version = version, claimed
        else:
            version, python = rng.choice(REAL_ENVIRONMENTS[:4])
        inst = _Instance(
            uid(),
            client,
            version,
            python,
            [COMMERCIAL, *popular(rng.randint(2, 5))],
            first,
            first + life,
            fake_ping_every,
            ua_version=ua_version,
            install=COMMERCIAL,
        )
        instances.append(inst)
        fake_ids.add(inst.id)

    requests = sorted(
        (r for inst in instances for r in _requests(inst, rng) if r.ts < end),
        key=lambda r: r.ts,
    )
    return Fleet(requests, organic_ids, farm_ids, fake_ids, commercial_ids, start, end)


def _fixed(address: str) -> Callable[[random.Random], str]:
    return lambda rng: address


def _random_host(
    prefix: str, host: Callable[[random.Random], str]
) -> Callable[[random.Random], str]:
    return lambda rng: prefix + host(rng)


def addresses(requests: Iterable[Request]) -> set[str]:
    return {r.client for r in requests}


class Sender:
    """Sends requests to a collector on loopback over one keep-alive connection,
    as a trusted proxy that forwards the client address in ``X-Forwarded-For``."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self._conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def send(self, request: Request) -> int:
        path = f"/track/{request.instance}/{request.event}/"
        headers = {"User-Agent": request.user_agent, "X-Forwarded-For": request.client}
        body = None
        if request.method == "POST":
            body = urlencode(request.fields)
        elif request.fields:
            path += "?" + urlencode(request.fields)
        self._conn.request(request.method, path, body=body, headers=headers)
        response = self._conn.getresponse()
        response.read()
        return response.status

    def close(self) -> None:
        self._conn.close()
