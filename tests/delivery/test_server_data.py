"""Asking the tracking server what it holds about this instance, against a real HTTP
server on loopback: each answer it can give, and what the owner is told."""

from __future__ import annotations

import json
import logging
import time

import pytest

from octoprint_tracking.core.address import instance_url
from octoprint_tracking.core.consent import Config
from octoprint_tracking.delivery import Target
from octoprint_tracking.delivery.client import fetch_server_data
from octoprint_tracking.delivery.protocol import SERVER_DATA_LIMIT

ID = "0e4b4c5e-8d3f-4f7e-9a41-6b1f3b0b2c11"
UA = "OctoPrint/1.11.8 UsageTracking/test"
JSON = {"Content-Type": "application/json"}
DOCUMENT = {
    "instance_id": ID,
    "first_seen": "2026-11-20T10:00:00Z",
    "environment": {"version": "1.11.8", "plugins": [{"id": "a", "version": "1"}]},
    "days": [],
    "events": [],
}


def target(url, enabled=True, kill=None):
    return Target(url, Config(enabled=enabled, unique_id=ID, accepted=2, kill=kill))


def ask(receiver, answer=None, timeout=2.0, **config):
    receiver.instance_answer = answer
    return fetch_server_data(target(receiver.url, **config), UA, timeout=timeout)


def test_the_instance_address_is_the_template_cut_before_the_event():
    server = "https://collector.example/track/{id}/{event}/"
    assert instance_url(server, ID) == f"https://collector.example/track/{ID}/"


def test_a_document_is_ok_and_asked_at_the_instance_address(receiver):
    result = ask(receiver, (200, JSON, json.dumps(DOCUMENT).encode()))
    assert result.state == "ok" and result.data == DOCUMENT
    hit = receiver.received("")[0]
    assert (hit.method, hit.instance) == ("GET", ID)
    assert hit.headers["User-Agent"] == UA


def test_an_unknown_instance_is_unknown(receiver):
    body = b'{"ok": false, "error": "unknown_instance", "message": "nothing"}'
    assert ask(receiver, (404, JSON, body)).state == "unknown"


@pytest.mark.parametrize(
    "status, headers, body",
    [
        (404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>"),
        (404, JSON, b'{"ok": false, "error": "not_found"}'),
        (405, JSON, b'{"ok": false, "error": "method_not_allowed"}'),
        (501, {}, b""),
        (400, JSON, b'{"ok": false, "error": "invalid_instance_id"}'),
        (403, {}, b""),
        (200, {"Content-Type": "text/html"}, b"<html>OctoPrint tracking</html>"),
        (200, JSON, b"[1, 2, 3]"),
        (200, JSON, b'{"ok": true}'),
        (200, JSON, json.dumps({**DOCUMENT, "instance_id": "another"}).encode()),
        (200, JSON, b"\xff\xfe not utf-8"),
        (302, {"Location": "http://127.0.0.1:9/elsewhere"}, b""),
    ],
    ids=[
        "404-html",
        "404-other",
        "405",
        "501",
        "400",
        "403",
        "html",
        "list",
        "generic",
        "another-instance",
        "bytes",
        "redirect",
    ],  # fmt: skip
)
def test_a_server_without_the_view_is_unsupported(receiver, status, headers, body):
    result = ask(receiver, (status, headers, body))
    assert result.state == "unsupported" and result.data is None
    assert result.status == status


def test_a_redirect_is_not_followed(receiver):
    ask(receiver, (302, {"Location": receiver.url.split("/track")[0] + "/x/"}, b""))
    assert len(receiver.attempts) == 1


def test_an_answer_over_the_size_cap_is_not_shown(receiver):
    big = json.dumps({"pad": "x" * SERVER_DATA_LIMIT}).encode()
    assert ask(receiver, (200, JSON, big)).state == "unsupported"


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limited_says_when_to_ask_again(receiver, status):
    result = ask(receiver, (status, {"Retry-After": "7", **JSON}, b'{"ok": false}'))
    assert (result.state, result.retry_after) == ("limited", 7.0)


def test_rate_limited_without_retry_after_is_still_limited(receiver):
    result = ask(receiver, (429, {}, b""))
    assert result.state == "limited" and result.retry_after is None


def test_a_server_error_is_unreachable(receiver):
    assert ask(receiver, (500, {}, b"")).as_dict() == {
        "state": "unreachable",
        "status": 500,
    }


@pytest.mark.parametrize("mode", ["reject", "close"])
def test_no_answer_is_unreachable(receiver, mode):
    receiver.set_mode(mode)
    assert ask(receiver).state == "unreachable"


def test_a_hanging_server_is_given_up_on_within_the_timeout(receiver):
    receiver.set_mode("hang")
    started = time.monotonic()
    assert ask(receiver, timeout=1.0).state == "unreachable"
    assert time.monotonic() - started < 1.5


def test_a_body_that_never_ends_is_given_up_on_within_the_timeout(receiver):
    # Headers at once, then less body than announced: the wait for the rest is bounded.
    receiver.instance_answer = (200, {"Content-Length": "1000000", **JSON}, b"{" * 10)
    started = time.monotonic()
    result = fetch_server_data(target(receiver.url), UA, timeout=1.0)
    assert result.state == "unreachable"
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    "config, reason",
    [
        ({"enabled": False}, "tracking_off"),
        ({"enabled": None}, "tracking_off"),
        ({"kill": "CI"}, "tracking_off"),
    ],
)
def test_nothing_is_asked_while_tracking_is_off(receiver, config, reason):
    result = ask(receiver, (200, JSON, json.dumps(DOCUMENT).encode()), **config)
    assert result.as_dict() == {"state": "off", "reason": reason}
    assert receiver.attempts == []


def test_nothing_is_asked_of_a_server_that_is_not_allowed(receiver):
    result = fetch_server_data(None, UA)
    assert result.as_dict() == {"state": "off", "reason": "server_not_allowed"}
    assert receiver.attempts == []


def test_neither_the_address_nor_the_id_is_logged(receiver, caplog):
    logger = logging.getLogger("octoprint.plugins.usage_tracking.test")
    caplog.set_level(logging.DEBUG, logger=logger.name)
    for answer in [(200, JSON, json.dumps(DOCUMENT).encode()), (500, {}, b"")]:
        receiver.instance_answer = answer
        fetch_server_data(target(receiver.url), UA, logger=logger)
    receiver.set_mode("reject")
    fetch_server_data(target(receiver.url), UA, logger=logger)
    assert len(caplog.records) == 3
    assert ID not in caplog.text and str(receiver.port) not in caplog.text
