"""Support for the collector's tests: values, store probes, servers, fleets.

``fixtures`` holds the pytest fixtures (``conftest.py`` imports them), ``values``
ids, clocks and addresses, ``stores`` what a test may ask a store that its API does
not answer, ``servers`` the collector processes, ``schemas`` the published JSON
Schemas, ``fleet`` the replay of the 2024 manipulation, ``known_fleet`` a fleet
with known figures and ``browser`` a Chromium page confined to loopback. Tests
import what they use from here; nothing here edits ``sys.path``.
"""

from harness.wait import eventually

from .admitting import MemoryKeys, MemoryState, admit
from .servers import Gunicorn, Server, located_live_args, writer_reruns
from .stores import (
    count_rows,
    day_counts,
    hold,
    instance_count,
    open_test_store,
    refreshed_at,
    rows,
    scrub,
    snapshot,
    source_keys,
    store_of_schema,
    stored,
    uuids,
)
from .values import (
    CLIENT_IP,
    REPO_ROOT,
    TRUSTED_PROXY,
    UA,
    Clock,
    artifacts_dir,
    new_id,
    pong,
)

__all__ = [
    "MemoryKeys",
    "MemoryState",
    "admit",
    "CLIENT_IP",
    "REPO_ROOT",
    "TRUSTED_PROXY",
    "UA",
    "Clock",
    "Gunicorn",
    "Server",
    "artifacts_dir",
    "count_rows",
    "day_counts",
    "eventually",
    "instance_count",
    "located_live_args",
    "new_id",
    "open_test_store",
    "pong",
    "refreshed_at",
    "rows",
    "scrub",
    "snapshot",
    "source_keys",
    "hold",
    "store_of_schema",
    "stored",
    "uuids",
    "writer_reruns",
]
