"""Delivery against a real HTTP receiver on loopback, in every mood it can have.

Backoff is made short through the Delivery's configuration, never by mocking time.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import threading
import time
import tracemalloc

import pytest

from harness.wait import eventually
from octoprint_tracking.core import builders, catalog, model
from octoprint_tracking.core.address import instance_url, server_allowed
from octoprint_tracking.core.consent import Config
from octoprint_tracking.delivery import Delivery, Options, Target, files
from octoprint_tracking.delivery.protocol import deletion_outcome, retry_after

ID = "0e4b4c5e-8d3f-4f7e-9a41-6b1f3b0b2c11"
OLD = "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6"


def target(url, accepted=2, **config):
    """Where the plugin lets delivery send, under the owner's consent."""
    return Target(url, Config(enabled=True, unique_id=ID, accepted=accepted, **config))


@pytest.fixture
def make(tmp_path, receiver):
    made = []

    def factory(folder=None, to=None, online=True, **options):
        options = {"backoff_base": 0.05, "backoff_max": 0.2, "timeout": 1.0, **options}
        d = Delivery(
            data_folder=str(folder or tmp_path),
            target=to or target(receiver.url),
            user_agent="OctoPrint/1.11.8 UsageTracking/test",
            options=Options(**options),
            online=online,
        )
        made.append(d)
        return d

    yield factory
    for d in made:
        if not d._stopping:
            d.shutdown(deadline=0.5)


def numbered(n):
    # print_done with a distinct "elapsed" tells reports apart at the receiver.
    return model.make("print_done", origin="local", file="f", elapsed=n + 1)


def arrived_numbers(receiver):
    return [int(h.fields["elapsed"]) - 1 for h in receiver.received("print_done")]


def test_delivers_with_the_bundled_wire_format(make, receiver):
    d = make()
    d.start()
    d.put(model.make("webui_load", browser_name="Chrome", browser_version="131",
                       os_name="Linux", os_version="x86 64"))  # fmt: skip
    hit = receiver.wait_for_event("webui_load")[0]
    assert hit.method == "GET" and hit.instance == ID
    assert hit.fields["os_version"] == "x86 64"
    assert hit.headers["User-Agent"] == "OctoPrint/1.11.8 UsageTracking/test"


def test_pong_is_posted_as_a_form_body(make, receiver):
    d = make()
    d.start()
    d.put(model.make("pong", version="1.11.8", plugins="a:1,b:2"))
    hit = receiver.wait_for_event("pong")[0]
    assert hit.method == "POST" and hit.fields == {
        "version": "1.11.8",
        "plugins": "a:1,b:2",
    }


def test_no_report_is_lost_across_an_outage_and_none_arrives_twice(make, receiver):
    d = make()
    d.start()
    receiver.set_mode("error")
    for n in range(30):
        d.put(numbered(n))
    # Many retry cycles through every kind of failure.
    for mode in ("error", "close", "reject", "throttle", "error"):
        receiver.set_mode(mode)
        if mode == "reject":
            # Refused connections never reach the receiver: wait for the delivery to
            # count a new problem instead.
            seen = d.status()["last_problem"]
            eventually(lambda seen=seen: d.status()["last_problem"] is not seen)
        else:
            before = len(receiver.attempts)
            eventually(
                lambda before=before: len(receiver.attempts) >= before + 3,
                what=f"no retries in mode {mode}",
            )
    receiver.retry_after = 0
    receiver.set_mode("ok")
    receiver.wait_for(lambda hits: len(hits) >= 30, timeout=30)
    assert sorted(arrived_numbers(receiver)) == list(range(30))
    assert arrived_numbers(receiver) == list(range(30)), "order kept"
    eventually(lambda: d.status()["last_problem"] is None, what="problem cleared")


def test_reports_survive_a_restart_through_the_spool(make, receiver, tmp_path):
    receiver.set_mode("reject")
    first = make()
    first.start()
    for n in range(20):
        first.put(numbered(n))
    assert first.shutdown(deadline=0.5) == 20
    spool = json.loads((tmp_path / "spool.json").read_text())
    assert len(spool["reports"]) == 20

    receiver.set_mode("ok")
    second = make()
    second.start()
    receiver.wait_for(lambda hits: len(hits) >= 20)
    assert arrived_numbers(receiver) == list(range(20))
    eventually(
        lambda: not ((tmp_path / "spool.json").exists()),
        what="spool not removed after delivery",
    )


def test_a_lasting_backlog_is_spooled_while_running(make, receiver, tmp_path):
    receiver.set_mode("error")
    d = make(spool_interval=0.2)
    d.start()
    for n in range(5):
        d.put(numbered(n))
    eventually(lambda: (tmp_path / "spool.json").exists(), what="backlog never spooled")
    assert len(json.loads((tmp_path / "spool.json").read_text())["reports"]) >= 4


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"format": "something-else", "reports": []}', b"", b"\xff\xfe\x00",
     b'{"format": "octoprint-usage-tracking-spool", "reports": 5}'],
)  # fmt: skip
def test_a_corrupt_spool_is_moved_aside_and_delivery_goes_on(
    make, receiver, tmp_path, content
):
    (tmp_path / "spool.json").write_bytes(content)
    d = make()
    d.start()
    d.put(numbered(1))
    receiver.wait_for_event("print_done")
    assert not (tmp_path / "spool.json").exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith("spool.json.corrupt-")]


def test_foreign_entries_in_a_spool_are_skipped_and_the_rest_delivered(
    make, receiver, tmp_path
):
    good = numbered(7).as_dict()
    spool = {"format": "octoprint-usage-tracking-spool", "version": 1,
             "reports": [good, {"name": "print_done", "fields": {"path": "/x"}, "created": 1}]}  # fmt: skip
    (tmp_path / "spool.json").write_text(json.dumps(spool))
    d = make()
    d.start()
    receiver.wait_for_event("print_done")
    assert arrived_numbers(receiver) == [7]


def test_memory_stays_bounded_against_a_stalled_server_and_drops_are_counted(
    make, receiver
):
    receiver.set_mode("hang")
    d = make(queue_size=1000, timeout=30)
    d.start()
    d.put(numbered(0))
    eventually(lambda: receiver.attempts)  # the first request is stuck on the wire
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    for n in range(1, 10_000):
        d.put(numbered(n))
    gc.collect()
    grown = sum(
        s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename")
    )
    tracemalloc.stop()
    status = d.status()
    assert status["queued"] == 1001  # 1000 queued + the one in flight
    assert status["dropped"] == 10_000 - 1001
    assert grown < 5 * 1024 * 1024, f"grew {grown} bytes"
    receiver.set_mode("ok")


def test_shutdown_takes_at_most_2_seconds_with_500_queued_to_a_stalled_server(
    make, receiver, tmp_path
):
    receiver.set_mode("hang")
    d = make(timeout=3.05)
    d.start()
    for n in range(500):
        d.put(numbered(n))
    eventually(lambda: receiver.attempts)
    started = time.monotonic()
    spooled = d.shutdown(model.make("shutdown", version="1.11.8"), deadline=2.0)
    took = time.monotonic() - started
    assert took <= 2.0, f"shutdown took {took:.2f}s"
    assert spooled == 501
    assert len(json.loads((tmp_path / "spool.json").read_text())["reports"]) == 501
    receiver.set_mode("ok")


def test_zero_requests_follow_a_disable(make, receiver, tmp_path):
    receiver.set_mode("error")  # keeps the worker retrying as fast as backoff allows
    d = make(backoff_base=0.01, backoff_max=0.02, spool_interval=0.05)
    d.start()
    for n in range(50):
        d.put(numbered(n))
    eventually(lambda: not (len(receiver.attempts) < 10))
    # The owner says no: the plugin first updates its gate, then purges.
    d.set_target(None)
    d.purge()
    disabled_at = time.time()
    receiver.set_mode("ok")  # a server that would now accept everything
    d.put(numbered(99))  # and a report that raced the decision
    # Observe a window much longer than the backoff; nothing may arrive.
    window = threading.Event()
    window.wait(1.0)
    assert [t for t in receiver.attempts if t > disabled_at] == []
    # The raced report was withheld (dropped unsent), not left for later.
    assert d.status()["queued"] == 0
    assert not [e for e in d.journal() if e["time"] > disabled_at]
    assert not (tmp_path / "spool.json").exists()


def test_offline_holds_reports_and_delivers_when_back(make, receiver):
    d = make(online=False)
    d.start()
    for n in range(3):
        d.put(numbered(n))
    threading.Event().wait(0.5)  # an observation window: nothing may be attempted
    assert receiver.attempts == []
    assert d.status()["queued"] == 3
    d.set_online(True)
    receiver.wait_for(lambda hits: len(hits) >= 3)
    assert arrived_numbers(receiver) == [0, 1, 2]


def test_only_the_latest_undelivered_ping_is_kept(make, receiver):
    d = make(online=False)
    d.start()
    for uptime in (900, 1800, 2700):
        d.put(builders.ping(uptime, "OPERATIONAL"))
    d.set_online(True)
    receiver.wait_for_event("ping")
    d.put(numbered(0))
    receiver.wait_for_event("print_done")  # FIFO: every ping went before it
    assert [h.fields["octoprint_uptime"] for h in receiver.received("ping")] == ["2700"]


def test_retry_after_is_honoured(make, receiver):
    receiver.set_mode("throttle")
    receiver.retry_after = 1
    d = make(backoff_base=0.01, backoff_max=0.02)
    d.start()
    d.put(numbered(0))
    eventually(lambda: receiver.attempts)
    receiver.set_mode("ok")
    hit = receiver.wait_for_event("print_done")[0]
    assert hit.time - receiver.attempts[0] >= 0.95


def test_undeliverable_4xx_is_dropped_and_journalled(make, receiver, tmp_path):
    receiver.set_mode("bad")
    d = make()
    d.start()
    d.put(numbered(0))
    eventually(lambda: d.journal())
    entry = d.journal()[0]
    assert (entry["report"], entry["outcome"], entry["status"]) == (
        "print_done",
        "rejected",
        400,
    )
    assert len(receiver.attempts) == 1, "a 400 is not retried"


def test_journal_keeps_the_last_100_on_disk_without_id_or_server(
    make, receiver, tmp_path
):
    d = make()
    d.start()
    for n in range(120):
        d.put(numbered(n))
    receiver.wait_for(lambda hits: len(hits) >= 120)
    d.shutdown(deadline=1.0)
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert len(journal) == 100
    assert journal[-1]["outcome"] == "delivered" and journal[-1]["status"] == 200
    assert journal[-1]["fields"]["elapsed"] == "120"
    text = (tmp_path / "journal.json").read_text()
    assert ID not in text and str(receiver.port) not in text


def test_a_late_report_carries_its_age_and_an_ancient_one_is_dropped(make, receiver):
    d = make()
    late = numbered(1)
    late.created -= 125
    ancient = numbered(2)
    ancient.created -= 8 * 86400
    d.put(ancient)
    d.put(late)
    d.start()
    hit = receiver.wait_for_event("print_done")[0]
    assert 125 <= int(hit.fields["age"]) < 180
    eventually(lambda: not (len(d.journal()) < 2), timeout=5)
    assert [e["outcome"] for e in d.journal()] == ["expired", "delivered"]


def test_age_is_not_sent_under_consent_version_1(make, receiver):
    d = make(to=target(receiver.url, accepted=1))
    late = numbered(1)
    late.created -= 125
    d.put(late)
    d.start()
    assert "age" not in receiver.wait_for_event("print_done")[0].fields


def test_put_never_waits_while_the_server_hangs(make, receiver):
    receiver.set_mode("hang")
    d = make(timeout=30)
    d.start()
    d.put(numbered(0))
    eventually(lambda: receiver.attempts)
    slowest = 0.0
    for n in range(2000):
        t = time.perf_counter()
        d.put(numbered(n))
        slowest = max(slowest, time.perf_counter() - t)
    assert slowest < 0.1, f"put blocked for {slowest:.3f}s"
    receiver.set_mode("ok")


@pytest.mark.parametrize(
    "url,ok",
    [("https://tracking.octoprint.org/track/{id}/{event}/", True),
     ("http://127.0.0.1:8989/track/{id}/{event}/", True),
     ("http://localhost/track/{id}/{event}/", True),
     ("http://[::1]:80/track/{id}/{event}/", True),
     ("http://tracking.example.org/track/{id}/{event}/", False),
     ("http://192.168.1.5/track/{id}/{event}/", False),
     ("http://127.0.0.2/track/{id}/{event}/", True),
     ("http://127.attacker.example/track/{id}/{event}/", False),
     ("http://127.0.0.1.attacker.example/track/{id}/{event}/", False),
     ("http://localhost.attacker.example/track/{id}/{event}/", False),
     ("ftp://127.0.0.1/{id}/{event}", False),
     ("https://example.org/no-placeholders", False), (None, False), (42, False)],
)  # fmt: skip
def test_server_must_be_https_or_loopback_http(url, ok):
    assert server_allowed(url) is ok


def test_retry_after_parses_seconds_and_dates():
    assert retry_after("5", 0) == 5
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 10) == 10
    assert retry_after("soon", 0) is None


@pytest.mark.parametrize(
    "status,body,meaning",
    [(200, b'{"ok": true}', "confirmed"), (204, b"", "confirmed"),
     (404, b'{"ok": false, "error": "unknown_instance"}', "confirmed"),
     (404, b"<h1>Not Found</h1>", "unsupported"), (405, b"", "unsupported"),
     (501, b"", "unsupported"), (302, b"", "unsupported"), (400, b"", "rejected"),
     (500, b"", "retry"), (503, b"", "retry"), (429, b"", "retry"), (408, b"", "retry")],
)  # fmt: skip
def test_what_an_answer_to_a_deletion_request_means(status, body, meaning):
    assert deletion_outcome(status, {}, body, 0) == (meaning, None)


def test_a_deletion_request_waits_as_long_as_the_server_says():
    assert deletion_outcome(503, {"Retry-After": "30"}, b"", 0) == ("retry", 30.0)


def request_deletion(folder, receiver, instance=ID):
    address = instance_url(receiver.url, instance)
    return files.write_deletion_request(str(folder), address)


def test_a_deletion_request_is_one_delete_on_the_instance_address_and_is_journalled(
    make, receiver, tmp_path
):
    key = request_deletion(tmp_path, receiver, OLD)
    d = make()
    d.start()
    (hit,) = receiver.wait_for(lambda hits: any(h.method == "DELETE" for h in hits))
    assert (hit.method, hit.instance, hit.event, hit.fields) == ("DELETE", OLD, "", {})
    eventually(lambda: d.status()["deletion"]["state"] == "confirmed")
    (entry,) = d.journal()
    assert (entry["report"], entry["outcome"], entry["status"], entry["fields"]) == (
        "deletion_request", "confirmed", 200, {},
    )  # fmt: skip
    assert not (tmp_path / key).exists()
    assert receiver.hits == [hit], "nothing but the DELETE"


def test_a_deletion_request_is_retried_with_backoff_until_the_server_answers(
    make, receiver, tmp_path
):
    receiver.set_mode("error")
    key = request_deletion(tmp_path, receiver)
    d = make(backoff_base=0.1, backoff_max=0.4)
    d.start()
    eventually(lambda: len(receiver.deletes()) >= 4, timeout=10)
    times = [h.time for h in receiver.deletes()]
    assert all(b - a >= 0.1 for a, b in zip(times, times[1:])), times
    assert d.status()["deletion"]["state"] == "requested"
    assert (tmp_path / key).exists(), "kept until the server answers"
    receiver.set_mode("ok")
    eventually(lambda: d.status()["deletion"]["state"] == "confirmed", timeout=10)
    assert not (tmp_path / key).exists()
    assert d.status()["last_problem"] is None, "a confirmed deletion ends the problem"


def test_a_deletion_request_outlives_a_restart_during_an_outage(make, receiver, tmp_path):
    receiver.set_mode("reject")
    request_deletion(tmp_path, receiver)
    first = make(backoff_base=5.0, backoff_max=5.0)
    first.start()
    # Tried and failed once; the next try is seconds away when OctoPrint stops.
    eventually(lambda: first.status()["last_problem"] is not None)
    first.shutdown(deadline=0.5)
    assert first.status()["deletion"]["state"] == "requested"
    receiver.set_mode("ok")
    second = make()
    second.start()
    eventually(lambda: second.status()["deletion"]["state"] == "confirmed")
    assert [h.instance for h in receiver.deletes()] == [ID]


def test_the_opt_out_purge_keeps_the_deletion_request_and_drops_the_reports(
    make, receiver, tmp_path
):
    receiver.set_mode("reject")
    d = make()
    d.start()
    for n in range(3):
        d.put(numbered(n))
    request_deletion(tmp_path, receiver)
    d.take_deletions()
    d.purge()
    d.set_target(None)
    receiver.set_mode("ok")
    receiver.wait_for(lambda hits: any(h.method == "DELETE" for h in hits))
    eventually(lambda: d.status()["deletion"]["state"] == "confirmed")
    assert receiver.received("print_done") == []
    assert [h.method for h in receiver.hits] == ["DELETE"]


def test_the_deletion_request_goes_before_queued_reports(make, receiver, tmp_path):
    receiver.set_mode("reject")
    d = make(backoff_base=0.3, backoff_max=0.3)
    d.start()
    d.put(numbered(1))
    # The report failed once and waits for its retry (one already on its way would
    # arrive first, which is as good).
    eventually(lambda: d.status()["retry_in"] > 0)
    request_deletion(tmp_path, receiver, OLD)
    d.take_deletions()
    receiver.set_mode("ok")
    receiver.wait_for_event("print_done")
    assert [h.method for h in receiver.hits] == ["DELETE", "GET"]


@pytest.mark.parametrize("status", [404, 405, 501])
def test_a_server_without_deletion_is_named_as_such_and_not_asked_again(
    make, receiver, tmp_path, status
):
    receiver.delete_answer = (status, {"Content-Type": "text/html"}, b"<h1>no</h1>")
    key = request_deletion(tmp_path, receiver)
    d = make()
    d.start()
    eventually(lambda: d.status()["deletion"] is not None
               and d.status()["deletion"]["state"] == "unsupported")  # fmt: skip
    assert d.status()["deletion"]["status"] == status
    assert not (tmp_path / key).exists()
    d.put(numbered(1))
    receiver.wait_for_event("print_done")
    assert len(receiver.deletes()) == 1


def test_nothing_is_deleted_while_silenced_and_the_request_waits(
    make, receiver, tmp_path
):
    d = make()
    d.set_target(None, silenced=True)
    request_deletion(tmp_path, receiver)
    d.start()
    d.put(numbered(1))
    # The barrier: the worker has taken the report (and held it back) and waits for
    # more, so it has had every chance to send the request.
    eventually(lambda: d._worker_idle and d.status()["queued"] == 0)
    assert receiver.deletes() == [] and receiver.attempts == []
    assert d.status()["deletion"]["state"] == "requested"
    d.set_target(target(receiver.url))
    receiver.wait_for(lambda hits: any(h.method == "DELETE" for h in hits))


def test_a_request_taken_up_while_its_answer_is_booked_is_sent_once(
    make, receiver, tmp_path, monkeypatch
):
    d = make()
    real = files.remove_deletion_request
    ticks = []

    def tick_at_the_worst_moment(folder, key):
        # What Tracker.tick does every 2 s, just before the answered request's file
        # is removed.
        if not ticks:
            ticks.append(d.take_deletions())
        real(folder, key)

    monkeypatch.setattr(files, "remove_deletion_request", tick_at_the_worst_moment)
    request_deletion(tmp_path, receiver)
    d.start()
    eventually(lambda: ticks)
    # A report is the barrier: a deletion request queued again would go before it.
    d.put(numbered(1))
    receiver.wait_for_event("print_done")
    assert ticks == [0] and len(receiver.deletes()) == 1
    eventually(lambda: len(d.journal()) == 2)
    assert [e["outcome"] for e in d.journal()] == ["confirmed", "delivered"]


def test_a_request_gone_before_it_is_read_is_not_named_unreadable(
    make, receiver, tmp_path, caplog
):
    key = request_deletion(tmp_path, receiver)
    d = make()
    (tmp_path / key).unlink()  # answered and removed since the tick listed it
    caplog.set_level("WARNING")
    assert d.take_deletions([key]) == 0
    assert caplog.records == [] and d.status()["deletion"] is None


def test_a_request_that_cannot_be_read_for_now_is_kept_and_sent_later(
    make, receiver, tmp_path, monkeypatch
):
    key = request_deletion(tmp_path, receiver)
    failed = []

    def out_of_file_handles(path, *args, **kwargs):
        # The OS refuses for a moment (EMFILE, EIO): not the request's fault.
        if str(path).endswith(key) and not failed:
            failed.append(key)
            raise OSError(errno.EMFILE, "Too many open files")
        return open(path, *args, **kwargs)

    monkeypatch.setattr(files, "open", out_of_file_handles, raising=False)
    d = make()
    d.start()
    assert failed and (tmp_path / key).exists(), "kept for the next try"
    d.take_deletions()  # the next tick
    receiver.wait_for(lambda hits: any(h.method == "DELETE" for h in hits))
    eventually(lambda: d.status()["deletion"]["state"] == "confirmed")


def test_the_servers_answer_is_on_disk_before_the_request_is_removed(
    make, receiver, tmp_path, monkeypatch
):
    # A crash right after the removal must not turn "confirmed" into "none requested".
    on_disk = []
    real = files.remove_deletion_request

    def removed(folder, key):
        on_disk.append([e["outcome"] for e in files.read_journal(folder)])
        real(folder, key)

    monkeypatch.setattr(files, "remove_deletion_request", removed)
    request_deletion(tmp_path, receiver)
    d = make()
    d.start()
    eventually(lambda: on_disk)
    assert on_disk == [["confirmed"]]


def test_a_foreign_deletion_request_file_is_never_sent(make, receiver, tmp_path):
    bad = tmp_path / "deletion-1-aaaa.json"
    bad.write_text(json.dumps({"format": files.DELETION_FORMAT,
                               "address": "http://192.0.2.1/track/x/",
                               "requested": 1.0}))  # fmt: skip
    d = make()
    d.start()
    assert d.status()["deletion"] is None and not bad.exists()
    d.put(numbered(1))
    receiver.wait_for_event("print_done")
    assert receiver.deletes() == []


def test_a_switch_turned_off_during_an_outage_holds_back_what_was_queued(make, receiver):
    receiver.set_mode("reject")
    d = make()
    d.start()
    d.put(numbered(1))
    d.put(model.make("install_plugin", plugin="x", plugin_version="1"))
    d.set_target(
        target(receiver.url, events={**catalog.default_events(), "printjob": False})
    )
    receiver.set_mode("ok")
    receiver.wait_for_event("install_plugin")
    assert receiver.received("print_done") == []


def test_a_template_with_unknown_placeholders_is_not_allowed():
    assert not server_allowed("https://x.org/{id}/{event}/{other}")
    assert not server_allowed("https://x.org/{id}/{event}/{0}")


def test_an_unexpected_error_while_sending_never_leaves_a_report_in_flight(
    make, receiver
):
    d = make(to=target("https://x.org/{id}/{event}/{oops}"))
    d.start()
    d.put(numbered(1))
    eventually(lambda: d.journal())
    assert d.journal()[0]["outcome"] == "rejected"
    assert d.status()["queued"] == 0
