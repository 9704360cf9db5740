"""Row 2: delivery throughput to a keep-alive server on loopback, HTTP and HTTPS.

``N`` plugin-install events are handed to each plugin at once; the time is taken from
the first ``on_event`` until the receiver has answered all ``N`` reports. For HTTPS the
receiver has a self-signed certificate for 127.0.0.1, and ``REQUESTS_CA_BUNDLE`` points
at it for the duration (requests honours it for both plugins). Our plugin has sent its
startup, ping and pong before the clock starts, so its connection is already open; the
bundled plugin calls ``requests.get`` for every report (a new connection, and for HTTPS
a new TLS handshake, every time).
"""

from __future__ import annotations

import os
import time
from typing import List, Optional, Tuple

from . import common
from .common import Row
from .tls import CountingServer, make_certificate

N = common.sized(500, 50)
TIMEOUT = 120.0
EVENT = "plugin_pluginmanager_install_plugin"
REPORT = "install_plugin"
GOAL = "ours ≥ 3× bundled over HTTPS"


def _measure(plugin, server: CountingServer) -> Tuple[float, int]:
    """(reports/s, reports that arrived)."""
    before = server.count(REPORT)
    start = time.perf_counter()
    for _ in range(N):
        plugin.on_event(event=EVENT, payload=common.PLUGIN_INSTALL)
    server.wait_for(REPORT, before + N, TIMEOUT)
    elapsed = time.perf_counter() - start
    arrived = server.count(REPORT) - before
    return arrived / elapsed, arrived


def _one(scheme: str, cert=None, key=None) -> Tuple[float, float, int, int]:
    server = CountingServer(cert, key).start()
    previous: Optional[str] = os.environ.get("REQUESTS_CA_BUNDLE")
    if cert is not None:
        os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
    try:
        ours = common.ours(server.url)
        try:
            for name in ("startup", "ping", "pong"):
                if not server.wait_for(name, 1, 30):
                    raise RuntimeError(f"our {name} did not arrive over {scheme}")
            ours_rate, ours_n = _measure(ours, server)
        finally:
            common.stop_ours(ours)
        theirs = common.bundled(server.url)
        try:
            theirs_rate, theirs_n = _measure(theirs, server)
        finally:
            common.stop_bundled(theirs)
    finally:
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous
        server.stop()
    return ours_rate, theirs_rate, ours_n, theirs_n


def run() -> List[Row]:
    cert, key = make_certificate(common.scratch("tls"))
    rows = []
    for scheme, pem in (("HTTP", None), ("HTTPS", (cert, key))):
        ours_rate, theirs_rate, ours_n, theirs_n = _one(scheme, *(pem or (None, None)))
        https = scheme == "HTTPS"
        rows.append(
            Row(
                "2",
                f"Delivery throughput, {scheme} keep-alive server, {N} reports "
                "(reports/s)",
                common.fmt(ours_rate, digits=0) + _partial(ours_n),
                common.fmt(theirs_rate, digits=0) + _partial(theirs_n),
                common.ratio(ours_rate, theirs_rate),
                GOAL if https else "(info)",
                ours_rate >= 3 * theirs_rate if https else None,
            )
        )
    return rows


def _partial(arrived: int) -> str:
    return "" if arrived >= N else f" (only {arrived}/{N} in {TIMEOUT:.0f} s)"
