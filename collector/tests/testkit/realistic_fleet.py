"""A realistic fleet of about 100 instances over 30 days, sent to a collector over HTTP.

What the readers' tests feed a real collector: thirty days of activity dated back
with ``age`` (the collector runs with ``--max-age-days 31``), pings at random
hours, a pong per active day (environment, plugins, achievements), web UI loads,
prints with ``elapsed``, plugin installs. Long tails as a real fleet has them:
rare OctoPrint and Python versions, a few Windows, macOS and FreeBSD hosts,
in-house plugins on one to three instances, rare firmware and browsers, instances
that never pong, and one in ten that stopped reporting 8 to 25 days ago (in the
30-day figures only). Every report comes from loopback, so the collector runs
with ``--new-ids-per-source 0`` (the admission would hold new ids beyond 50 a day
from one address).
"""

from __future__ import annotations

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

DAY = 86400
HOUR = 3600
SERVE_ARGS = ["--max-age-days", "31", "--new-ids-per-source", "0"]

# (OctoPrint, Python, weight): plausible pairs only (see trust/plausibility.py).
VERSIONS = [
    ("1.11.8", "3.11.2", 40), ("1.11.7", "3.11.2", 12), ("1.11.8", "3.9.2", 10),
    ("1.10.3", "3.9.2", 12), ("1.10.3", "3.7.3", 4), ("1.9.3", "3.11.2", 6),
    ("1.8.7", "3.7.3", 3), ("2.0.0rc3", "3.12.3", 4), ("1.11.0rc4", "3.11.2", 2),
    ("1.7.3", "2.7.16", 2),
]  # fmt: skip
OS = [("linux", 92), ("windows", 4), ("macos", 2), ("freebsd", 1)]
BITS = [("64", 72), ("32", 28)]
CORES = [("4", 70), ("2", 9), ("8", 8), ("1", 3), ("16", 3), ("12", 2), ("6", 1)]
PI = [
    ("Raspberry Pi 4 Model B Rev 1.4", 38), ("Raspberry Pi 3 Model B Plus Rev 1.3", 22),
    ("Raspberry Pi 5 Model B Rev 1.0", 8), ("Raspberry Pi Zero 2 W Rev 1.0", 5),
    ("Raspberry Pi 3 Model B Rev 1.2", 4),
]  # fmt: skip
OCTOPI = [("1.0.0", 40), ("0.18.0", 25), ("1.1.0", 9), ("0.17.0", 3), (None, 23)]
OCTOPIUPTODATE = [
    ("0.18.0-1.7.2-20220318105810", 20), ("1.0.0-1.9.3-20230907111011", 25),
    ("1.1.0-1.10.2-20240401120000", 9), (None, 46),
]  # fmt: skip
FIRMWARE = [
    ("Marlin 2.1.2.1", 28), ("Prusa-Firmware 3.13.2", 20), ("Klipper", 14),
    ("Marlin bugfix-2.1.x", 10), ("Creality Ender-3 V2 1.0.1", 9), ("TH3D U1.R2.B5", 3),
    ("RepRapFirmware 3.4.6", 2), ("Smoothieware", 1), ("Repetier_1.0.4", 1), (None, 12),
]  # fmt: skip
BROWSERS = [
    ("Chrome", ("120.0.6099.71", "121.0.6167.85", "119.0.6045.199"), 55),
    ("Firefox", ("121.0", "115.6.0"), 20), ("Edge", ("120.0.2210.91",), 10),
    ("Safari", ("17.2",), 6), ("Mobile Safari", ("16.6",), 3), ("Opera", ("105.0",), 1),
    ("Samsung Browser", ("23.0",), 1),
]  # fmt: skip
CLIENT_OS = [("Windows", 55), ("Mac OS", 15), ("Linux", 15), ("Android", 8), ("iOS", 5)]
# (plugin id, versions, share of instances)
PLUGINS = [
    ("octolapse", ("0.4.5", "0.4.2"), 0.38), ("bedlevelvisualizer", ("1.1.1",), 0.27),
    ("printtimegenius", ("2.3.3", "2.3.1"), 0.22), ("themeify", ("1.2.2",), 0.16),
    ("displaylayerprogress", ("1.28.0",), 0.13), ("firmwareupdater", ("1.14.0",), 0.11),
    ("dashboard", ("1.19.11",), 0.10), ("spoolmanager", ("1.7.4",), 0.06),
    ("uicustomizer", ("0.1.9.91",), 0.04),
]  # fmt: skip
# In-house plugins: their names must never be published (fewer than 10 instances).
PRIVATE_PLUGINS = [("acme_inhouse_tool", "0.0.3", 2), ("my_local_hack", "?", 1)]
ACHIEVEMENTS = [
    ("the_wizard", 0.9), ("one_small_step_for_man", 0.8), ("adventurer", 0.45),
    ("all_beginnings_are_hard", 0.5), ("the_manufacturer_i", 0.4), ("tgif", 0.35),
    ("half_marathon", 0.2), ("marathon", 0.08), ("night_owl", 0.3),
    ("santas_little_helper", 0.05), ("crossover_episode", 0.03),
]  # fmt: skip


@dataclass
class Instance:
    id: str
    env: dict
    pong: bool
    plugins: str
    achievements: str | None
    firmware: str | None
    browser: tuple
    client_os: str
    webui: bool
    printer: bool
    installs: list
    start: float
    end: float


def _pick(rng: random.Random, table):
    return rng.choices([row[:-1] if len(row) > 2 else row[0] for row in table],
                       [row[-1] for row in table])[0]  # fmt: skip


def _environment(n: int, rng: random.Random) -> dict:
    version, python = _pick(rng, VERSIONS)
    os_ = "linux" if n % 25 else _pick(rng, OS)
    os_ = {7: "windows", 31: "windows", 58: "macos", 77: "freebsd"}.get(n, os_)
    is_pi = os_ == "linux" and rng.random() < 0.78
    env = {
        "version": version,
        "python": python,
        "os": os_,
        "bits": _pick(rng, BITS),
        "cores": "4" if is_pi else _pick(rng, CORES),
    }
    if is_pi:
        env["pi_model"] = _pick(rng, PI)
        octopi = _pick(rng, OCTOPI)
        if octopi:
            env["octopi_version"] = octopi
            build = _pick(rng, OCTOPIUPTODATE)
            if build:
                env["octopiuptodate_build"] = build
    return env


def _instance(n: int, rng: random.Random, now: float, days: int) -> Instance:
    env = _environment(n, rng)
    plugins = [f"{p}:{rng.choice(v)}" for p, v, share in PLUGINS if rng.random() < share]
    plugins += [f"{p}:{v}" for p, v, count in PRIVATE_PLUGINS if n < count]
    achievements = ",".join(a for a, share in ACHIEVEMENTS if rng.random() < share)
    newer = tuple(int(x) for x in env["version"].split(".")[:2]) >= (1, 10)
    start = now - rng.uniform(1, days) * DAY if n % 6 else now - days * DAY + HOUR
    churned = n % 10 == 3
    end = now - rng.uniform(8, 25) * DAY if churned else now - rng.uniform(0, 2) * HOUR
    if end <= start + DAY:
        end = min(now - 60, start + DAY + HOUR)
    name, versions, _ = rng.choices(BROWSERS, [b[-1] for b in BROWSERS])[0]
    return Instance(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        env=env,
        pong=n % 33 != 5,  # a few never pong: unknown environment
        plugins=",".join(plugins),
        achievements=achievements if newer and rng.random() < 0.7 else None,
        firmware=_pick(rng, FIRMWARE),
        browser=(name, versions),
        client_os=_pick(rng, CLIENT_OS),
        webui=rng.random() < 0.8,
        printer=rng.random() < 0.55,
        installs=[p.split(":")[0] for p in plugins if rng.random() < 0.15],
        start=start,
        end=end,
    )


def _day_reports(inst: Instance, rng: random.Random, lo: float, hi: float, now: float):
    hours = sorted(rng.sample(range(24), rng.randint(2, 6)))
    day = int(lo // DAY)
    stamps = [day * DAY + h * HOUR + rng.uniform(0, HOUR) for h in hours]
    stamps = [t for t in stamps if lo <= t <= hi] or [lo + 1]
    out = [(t, "GET", "ping", {"version": inst.env["version"]}) for t in stamps]
    if inst.pong:
        body = {**inst.env, "plugins": inst.plugins}
        if inst.achievements is not None:
            body["achievements"] = inst.achievements
        out.append((stamps[0] + 5, "POST", "pong", body))
    if inst.firmware and rng.random() < 0.3:
        fields = {"firmware_name": inst.firmware}
        out.append((stamps[0] + 10, "GET", "printer_connected", fields))
    if inst.webui and rng.random() < 0.5:
        name, versions = inst.browser
        fields = {
            "browser_name": name,
            "browser_version": rng.choice(versions),
            "os_name": inst.client_os,
        }
        out.append((stamps[-1], "GET", "webui_load", fields))
    if inst.printer and rng.random() < 0.6:
        for _ in range(rng.randint(1, 3)):
            t0 = rng.uniform(lo, hi)
            elapsed = int(rng.lognormvariate(8.6, 0.9))  # ~1.5 h median
            if t0 + elapsed > min(hi, now - 30):
                continue
            out.append((t0, "GET", "print_started", {"origin": "local"}))
            outcome = rng.choices(
                ["print_done", "print_failed", "print_cancelled"], [80, 8, 12]
            )[0]
            fields = {"origin": "local", "elapsed": elapsed}
            out.append((t0 + elapsed, "GET", outcome, fields))
    return out


def reports(inst: Instance, rng: random.Random, now: float) -> list[tuple]:
    """(ts, method, event, fields) of one instance, oldest first."""
    out = [(inst.start, "GET", "startup", dict(inst.env))]
    for day in range(int(inst.start // DAY), int(inst.end // DAY) + 1):
        lo, hi = max(inst.start, day * DAY), min(inst.end, (day + 1) * DAY)
        if hi - lo >= 600:
            out += _day_reports(inst, rng, lo, hi, now)
    versions = dict(p.split(":") for p in inst.plugins.split(",") if p)
    for plugin in inst.installs:
        t = rng.uniform(inst.start, inst.end)
        fields = {"plugin": plugin, "plugin_version": versions.get(plugin, "1.0.0")}
        out.append((t, "GET", "install_plugin", fields))
    return sorted(out, key=lambda r: r[0])


def _send(url: str, inst: Instance, rng: random.Random, now: float) -> int:
    with requests.Session() as http:
        version = inst.env["version"]
        http.headers["User-Agent"] = f"OctoPrint/{version} UsageTracking/0.1.0"
        sent = 0
        for ts, method, event, fields in reports(inst, rng, now):
            age = max(0, int(time.time() - ts))
            target = f"{url}/track/{inst.id}/{event}/"
            if method == "POST":
                data = urlencode({**fields, "age": age}).replace("+", "%20")
                r = http.post(target, data=data, timeout=30)
            else:
                r = http.get(target, params={**fields, "age": age}, timeout=30)
            assert r.status_code == 200, (event, r.status_code, r.text)
            sent += 1
    return sent


def build(size: int = 100, seed: int = 18, days: int = 30) -> tuple[list, float]:
    now = time.time()
    rng = random.Random(seed)
    return [_instance(n, rng, now, days) for n in range(size)], now


def send_fleet(url: str, size: int = 100, seed: int = 18, days: int = 30) -> list:
    """Build the fleet and send it to the collector at ``url``; the instances."""
    fleet, now = build(size, seed, days)
    rng = random.Random(seed + 1)
    seeds = [rng.randrange(2**32) for _ in fleet]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(
            lambda p: _send(url, p[0], random.Random(p[1]), now), zip(fleet, seeds)
        ))  # fmt: skip
    return fleet
