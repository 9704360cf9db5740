"""Sources: networks, keyed hashes and daily keys that are destroyed after their day."""

from __future__ import annotations

import ipaddress

import pytest
from testkit import MemoryKeys

from tracking_collector.trust import sources as s

DAY = 86400.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % DAY)  # a UTC midnight


class Clock:
    def __init__(self, now: float = T0 + 3600):
        self.now = now

    def __call__(self) -> float:
        return self.now


KEY = b"k" * 32


@pytest.mark.parametrize(
    "ip,net",
    [
        ("203.0.113.7", "203.0.113.0/24"),
        ("203.0.113.254", "203.0.113.0/24"),
        ("2001:db8:1:2:3::4", "2001:db8:1::/48"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        (ipaddress.ip_address("192.0.2.1"), "192.0.2.0/24"),
    ],
)
def test_source_is_the_slash_24_or_slash_48(ip, net):
    """Every address of the network hashes alike, the next network's do not."""
    network = ipaddress.ip_network(net)
    first, last = network.network_address, network.broadcast_address
    assert s.source_hash(KEY, ip) == s.source_hash(KEY, first) == s.source_hash(KEY, last)
    assert s.source_hash(KEY, ip) != s.source_hash(KEY, last + 1)
    assert s.source_hash(KEY, ip) != s.source_hash(KEY, first - 1)


@pytest.mark.parametrize("ip", [None, "", "not-an-ip"])
def test_no_address_no_source(ip):
    assert s.source_hash(KEY, ip) is None


def test_hash_is_the_same_within_a_network_and_differs_between_networks():
    a = s.source_hash(KEY, "203.0.113.7")
    assert a == s.source_hash(KEY, "203.0.113.200")
    assert a == s.source_hash(KEY, "::ffff:203.0.113.1")
    assert a != s.source_hash(KEY, "203.0.114.7")
    # An IPv6 network whose leading bytes are the IPv4 network's is another source.
    assert a != s.source_hash(KEY, "cb00:7100::1")
    assert len(a) == s.HASH_HEX and int(a, 16) >= 0


def test_hash_depends_on_the_key():
    assert s.source_hash(b"a" * 32, "2001:db8:5::1") != s.source_hash(
        b"b" * 32, "2001:db8:5::1"
    )


def test_processes_sharing_a_backend_hash_alike():
    backend = MemoryKeys()
    clock = Clock()
    one = s.SourceKeys(backend, clock)
    two = s.SourceKeys(backend, clock)
    assert one.source("198.51.100.3") == two.source("198.51.100.99")


def test_key_is_random_and_rotates_with_the_utc_day():
    backend = MemoryKeys()
    clock = Clock()
    keys = s.SourceKeys(backend, clock)
    today = keys.source("198.51.100.3")
    clock.now += DAY
    assert keys.source("198.51.100.3") != today


def test_a_days_key_is_destroyed_once_the_next_day_is_seen():
    backend = MemoryKeys()
    clock = Clock()
    keys = s.SourceKeys(backend, clock)
    keys.source("198.51.100.3")
    first_day = s.utc_day(clock.now)
    assert backend.days() == [first_day]
    clock.now += DAY
    keys.source("198.51.100.3")
    assert backend.days() == [s.utc_day(clock.now)]


def test_rotate_destroys_old_keys_even_without_traffic():
    backend = MemoryKeys()
    clock = Clock()
    backend.key_for_day(s.utc_day(clock.now - DAY), b"y" * 32)
    backend.key_for_day(s.utc_day(clock.now - 2 * DAY), b"z" * 32)
    assert s.SourceKeys(backend, clock).rotate() == 2
    assert backend.days() == [s.utc_day(clock.now)]


def test_key_comes_from_the_random_source_not_from_anything_lasting():
    drawn = []

    def random(n: int) -> bytes:
        drawn.append(n)
        return bytes([len(drawn)]) * n

    backend = MemoryKeys()
    s.SourceKeys(backend, Clock(), random=random).source("192.0.2.1")
    assert drawn == [s.KEY_BYTES]
    assert backend.key_for_day(s.utc_day(Clock()()), b"other") == b"\x01" * 32


def test_first_stored_key_of_a_day_wins_for_every_process():
    backend = MemoryKeys()
    clock = Clock()
    a = s.SourceKeys(backend, clock, random=lambda n: b"a" * n)
    b = s.SourceKeys(backend, clock, random=lambda n: b"b" * n)
    assert (
        a.source("192.0.2.1")
        == b.source("192.0.2.1")
        == s.source_hash(b"a" * 32, "192.0.2.1")
    )


def test_id_tokens_are_keyed_and_do_not_contain_the_id():
    clock = Clock()
    one = s.SourceKeys(MemoryKeys(), clock, random=lambda n: b"a" * n)
    two = s.SourceKeys(MemoryKeys(), clock, random=lambda n: b"b" * n)
    instance = "5a4e7f3c-1111-4222-8333-944445555666"
    assert one.token(instance) == one.token(instance)
    assert one.token(instance) != two.token(instance)
    assert instance[:8] not in one.token(instance)


@pytest.mark.parametrize(
    "ip", ["203.0.113.77", "::ffff:203.0.113.1", "2001:db8:1:2:3::4", "2001:db8::"]
)
def test_a_report_source_is_the_source_hash_under_the_day_key(ip):
    keys = s.SourceKeys(MemoryKeys(), Clock(), random=lambda n: b"k" * n)
    assert keys.source(ip) == s.source_hash(b"k" * 32, ip)
    assert keys.source(ipaddress.ip_address(ip)) == keys.source(ip)
