"""Values and small helpers the collector's tests share: ids, clocks, addresses."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
UA = "OctoPrint/1.11.8 UsageTracking/0.1.0"
TRUSTED_PROXY = "127.0.0.1"
CLIENT_IP = "203.0.113.7"


def new_id() -> str:
    return str(uuid.uuid4())


class Clock:
    """A clock a test moves by hand (``now``), callable like ``time.time``."""

    def __init__(self, now: float | None = None):
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pong(client, iid, version="1.11.8", python="3.11.7", os="linux", plugins="", age=0):
    """A pong through a Flask test client, as OctoPrint posts it; asserts 200."""
    body = f"version={version}&python={python}&os={os}&plugins={plugins}&age={age}"
    assert client.post(f"/track/{iid}/pong/", data=body).status_code == 200


def artifacts_dir() -> Path:
    """Where tests leave screenshots ($TEST_ARTIFACTS, else test-artifacts/)."""
    path = Path(os.environ.get("TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_geo_db(path: Path) -> Path:
    """A tiny MaxMind DB in GeoLite2-City layout, written with mmdb-writer."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-City",
        languages=["en"],
        description="test city db",
    )
    cities = {
        "203.0.113.0/24": ("DE", "Berlin"),
        "198.51.100.0/24": ("FR", "Paris"),
        "192.0.2.0/24": ("JP", "Tokyo"),
        "2001:db8::/32": ("NL", "Amsterdam"),
    }
    for net, (iso, city) in cities.items():
        writer.insert_network(
            IPSet([net]),
            {
                "country": {"iso_code": iso, "names": {"en": iso}},
                "city": {"names": {"en": city}},
            },
        )
    writer.to_db_file(str(path))
    return path
