"""The dated archive: one set per UTC day, checksums that verify, files that never
change, kept beyond retention, nothing below the minimum group.

Days are driven with the test's clock (the archive's snapshot is taken right after
midnight); the app refreshes its rollups on read, and the test runs the archiver
as the refresher would after each refresh.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from testkit import new_id, pong
from testkit.schemas import check_schema

from tracking_collector.publish import exports
from tracking_collector.publish.archive import DAY_STATS
from tracking_collector.runtime import get_collector
from tracking_collector.timefmt import day_iso, day_of, iso, parse_day

DAY = 86400
FLEET = 12  # on 1.11.8
OTHER = 8  # on 1.10.3: below the minimum, but with RARE a remainder that is not
RARE = 3  # instances of a plugin and of a version below the minimum group
SNAPSHOT = set(exports.export_names())


def just_after_midnight(clock, days_later: int = 1) -> None:
    clock.now = (day_of(clock.now) + days_later) * DAY + 300


def report_day(client, fleet: list[str], rare_version: str = "1.9.3") -> None:
    """Every instance of ``fleet`` sends its pong now, all with octolapse: FLEET on
    1.11.8, OTHER on 1.10.3 with a small plugin, the last RARE on a rare OctoPrint
    version with a rare plugin (both plugins below the minimum, together not)."""
    for n, iid in enumerate(fleet):
        rare = n >= len(fleet) - RARE
        version = rare_version if rare else "1.11.8" if n < FLEET else "1.10.3"
        extra = ",inhouse:1.0" if rare else "" if n < FLEET else ",smallone:2.0"
        pong(client, iid, version=version, plugins="octolapse:0.4.5" + extra)


def archive(app, clock) -> list[str]:
    collector = get_collector(app)
    collector.store.refresh(clock.now, force=True)
    return collector.archive(clock.now)


@pytest.fixture
def fleet():
    return [new_id() for _ in range(FLEET + OTHER + RARE)]


def test_each_day_gets_one_dated_set_whose_checksums_verify(make_app, clock, fleet):
    app = make_app()
    client = app.test_client()
    dated = []
    for _ in range(3):
        just_after_midnight(clock)
        report_day(client, fleet)
        written = archive(app, clock)
        day = day_iso(day_of(clock.now) - 1)
        assert sorted(written) == sorted(f"{day}/{name}" for name in SNAPSHOT)
        # Once written, the day is done: running again writes nothing.
        assert archive(app, clock) == []
        dated.append((day, iso(clock.now)))

    index = client.get("/export/archive/")
    assert index.headers["Access-Control-Allow-Origin"] == "*"
    doc = index.get_json()
    check_schema(doc, "ArchiveIndex")
    assert [d["day"] for d in doc["days"]] == [day for day, _ in dated]
    taken = dict(dated)
    for entry in doc["days"]:
        assert sorted(f["name"] for f in entry["files"]) == sorted(
            f"{n}.json" for n in SNAPSHOT
        )
        for listed in entry["files"]:
            served = client.get(listed["url"])
            assert served.status_code == 200
            assert hashlib.sha256(served.data).hexdigest() == listed["sha256"]
            assert len(served.data) == listed["bytes"]
            assert served.headers["ETag"] == f'"{listed["sha256"]}"'
            assert "immutable" in served.headers["Cache-Control"]
            assert served.headers["Access-Control-Allow-Origin"] == "*"
            assert listed["schema_version"] == doc["schema_version"]
            # What was published right after that day's midnight, as served then.
            assert json.loads(served.data)["_generated"] == taken[entry["day"]]
            etag = {"If-None-Match": served.headers["ETag"]}
            again = client.get(listed["url"], headers=etag)
            assert again.status_code == 304

    sums = client.get("/export/archive/SHA256SUMS").get_data(as_text=True)
    lines = sums.splitlines()
    assert len(lines) == 3 * len(SNAPSHOT)
    for line in lines:
        digest, path = line.split("  ")
        body = client.get(f"/export/archive/{path}").data
        assert hashlib.sha256(body).hexdigest() == digest


def test_a_closed_day_gets_its_aggregate_file_once_it_is_final(make_app, clock, fleet):
    app = make_app()
    client = app.test_client()
    just_after_midnight(clock)
    report_day(client, fleet)
    reported = day_of(clock.now)
    archive(app, clock)
    assert get_collector(app).store.archive_days(DAY_STATS) == set()
    # Reports may be dated back 7 days (age): the day is final after that.
    just_after_midnight(clock, days_later=9)
    written = archive(app, clock)
    assert f"{day_iso(reported)}/{DAY_STATS}" in written
    body = client.get(f"/export/archive/{day_iso(reported)}/{DAY_STATS}.json").get_json()
    check_schema(body, "DayStatsArchive")
    assert body["day"] == day_iso(reported)
    assert body["instances"] == FLEET + OTHER + RARE
    # 1.10.3 and 1.9.3 are below the minimum; together they are not.
    assert body["versions"] == {"1.11.8": FLEET}
    assert (body["versions_other"], body["versions_unknown"]) == (OTHER + RARE, 0)
    assert body["plugins"] == {
        "octolapse": {
            "instances": FLEET + OTHER + RARE,
            "versions": {"0.4.5": FLEET + OTHER + RARE},
            "versions_other": 0,
            "versions_unknown": 0,
        }
    }
    assert body["plugins_other"] == OTHER + RARE


def test_archived_files_never_change(make_app, clock, fleet):
    app = make_app()
    client = app.test_client()
    store = get_collector(app).store
    just_after_midnight(clock)
    report_day(client, fleet)
    archive(app, clock)
    day = day_of(clock.now) - 1
    before = {name: store.archive_file(day, name) for name in SNAPSHOT}

    # New reports, a forget and a second attempt at the same files change nothing.
    report_day(client, [new_id() for _ in range(FLEET)], rare_version="1.10.3")
    assert client.delete(f"/track/{fleet[0]}/").status_code == 200
    assert archive(app, clock) == []
    assert store.archive(day, [("instance_stats_7d", 1, b"{}")]) == []
    for name, archived in before.items():
        served = client.get(f"/export/archive/{day_iso(day)}/{name}.json")
        assert served.data == archived.body
    live = client.get("/export/instance_stats_7d.json").get_json()
    assert live["count"] != json.loads(before["instance_stats_7d"].body)["count"]


def test_the_archive_outlives_the_retention_purge(make_app, clock, fleet):
    app = make_app(retention_days=30)
    client = app.test_client()
    just_after_midnight(clock)
    report_day(client, fleet)
    reported = day_of(clock.now)
    archive(app, clock)
    just_after_midnight(clock, days_later=9)
    archive(app, clock)
    listed = client.get("/export/archive/").get_json()["days"]

    clock.now += 40 * DAY
    collector = get_collector(app)
    assert collector.purge() > 0
    assert collector.store.daily(["active"], 0) == {"active": {}}
    assert client.get("/export/archive/").get_json()["days"] == listed
    for entry in listed:
        for f in entry["files"]:
            body = client.get(f["url"]).data
            assert hashlib.sha256(body).hexdigest() == f["sha256"]
    kept = client.get(f"/export/archive/{day_iso(reported)}/{DAY_STATS}.json")
    assert kept.get_json()["plugins"]["octolapse"]["instances"] == len(fleet)


def _counts(node, path=()):
    """Every integer that counts instances in an archived document, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _counts(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            yield from _counts(value, path)
    elif isinstance(node, int) and not isinstance(node, bool):
        counted = {"instances", "count", "versions", "versions_other", "python2"}
        if counted & set(map(str, path)) or "python3" in path:
            yield path, node


def test_nothing_below_the_minimum_group_is_archived(make_app, clock, fleet):
    app = make_app()
    client = app.test_client()
    just_after_midnight(clock)
    report_day(client, fleet)
    archive(app, clock)
    just_after_midnight(clock, days_later=9)
    archive(app, clock)
    store = get_collector(app).store
    files = store.archive_index()
    assert {f.name for f in files} == SNAPSHOT | {DAY_STATS}
    for listed in files:
        body = store.archive_file(listed.day, listed.name).body
        small = [(p, n) for p, n in _counts(json.loads(body)) if 0 < n < 10]
        assert small == [], (listed.name, small)
        if listed.name == DAY_STATS:
            # A group below the minimum is not named either.
            assert b"inhouse" not in body and b"smallone" not in body
            assert b"1.9.3" not in body and b"1.10.3" not in body


def test_a_closed_day_waiting_for_its_refresh_is_archived_after_it(
    make_app, clock, fleet
):
    app = make_app()
    client = app.test_client()
    collector = get_collector(app)
    just_after_midnight(clock)
    report_day(client, fleet)
    reported = day_of(clock.now)
    name = f"{day_iso(reported)}/{DAY_STATS}"
    just_after_midnight(clock, days_later=9)
    collector.store.refresh(clock.now, force=True)
    # A forget marks the instance's days for recomputation: not archived before.
    assert client.delete(f"/track/{fleet[0]}/").status_code == 200
    assert name not in collector.archive(clock.now)
    assert name in archive(app, clock)
    body = json.loads(collector.store.archive_file(reported, DAY_STATS).body)
    assert body["instances"] == len(fleet) - 1


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2024-01-05", 19727),
        ("1970-01-01", 0),
        ("2024-01- 5", None),  # strptime's %d takes a leading space
        ("0001-01-01", None),  # day_iso writes that year "1"
        ("２０２４-01-05", None),
        ("2024-02-30", None),
    ],
)
def test_an_archived_day_has_one_spelling(text, day):
    """/export/archive/<day>/ answers only the day as day_iso writes it, so a file
    has one immutable URL."""
    assert parse_day(text) == day
