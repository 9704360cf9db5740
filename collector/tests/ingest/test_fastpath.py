"""The WSGI fast path answers exactly like the Flask view, and is what gets served."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from testkit import CLIENT_IP, TRUSTED_PROXY, UA, Clock, snapshot
from testkit.servers import past_fast_path

from tracking_collector import Config, create_app
from tracking_collector.ingest.fastpath import FastPath
from tracking_collector.runtime import get_collector
from tracking_collector.store import SQLiteStore

IID = "0f8d6c1e-3b7a-4c55-9d2e-6a1b2c3d4e5f"
FORM = "application/x-www-form-urlencoded"
BIG = "x" * (64 * 1024 + 1)

# (id, method, path, kwargs for the test client, handled by the fast path?)
CASES = [
    (
        "get_slash",
        "GET",
        f"/track/{IID}/ping/?octoprint_uptime=42&printer_state=Op",
        {},
        True,
    ),
    ("get_no_slash", "GET", f"/track/{IID}/ping?octoprint_uptime=42", {}, True),
    ("get_no_query", "GET", f"/track/{IID}/startup/", {}, True),
    ("get_upper_id", "GET", f"/track/{IID.upper()}/ping/", {}, True),
    (
        "get_ua_version",
        "GET",
        f"/track/{IID}/ping/",
        {"headers": {"User-Agent": UA}},
        True,
    ),
    (
        "get_version_wins",
        "GET",
        f"/track/{IID}/ping/?version=1.2.3",
        {"headers": {"User-Agent": UA}},
        True,
    ),
    ("get_repeated_key", "GET", f"/track/{IID}/ping/?a=1&a=2&b=", {}, True),
    ("get_age", "GET", f"/track/{IID}/ping/?age=120.5", {}, True),
    ("get_age_clamped", "GET", f"/track/{IID}/ping/?age=1e12", {}, True),
    (
        "get_spaces_utf8",
        "GET",
        f"/track/{IID}/ping/?printer_state=%C3%9Cbung%20ok",
        {},
        True,
    ),
    ("bad_id", "GET", "/track/not-a-uuid/ping/", {}, True),
    ("bad_event", "GET", f"/track/{IID}/Ping/", {}, True),
    ("long_event", "GET", f"/track/{IID}/{'e' * 65}/", {}, True),
    ("bad_field_name", "GET", f"/track/{IID}/ping/?bad%20key=1", {}, True),
    ("empty_field_name", "GET", f"/track/{IID}/ping/?=1", {}, True),
    ("value_too_long", "GET", f"/track/{IID}/ping/?v={'x' * 1025}", {}, True),
    (
        "too_many_fields",
        "GET",
        f"/track/{IID}/ping/?" + "&".join(f"k{i}=1" for i in range(65)),
        {},
        True,
    ),
    ("bad_percent_utf8", "GET", f"/track/{IID}/ping/?v=%ff", {}, True),
    ("bad_age_text", "GET", f"/track/{IID}/ping/?age=soon", {}, True),
    ("bad_age_negative", "GET", f"/track/{IID}/ping/?age=-1", {}, True),
    ("bad_age_nan", "GET", f"/track/{IID}/ping/?age=nan", {}, True),
    ("bad_age_inf", "GET", f"/track/{IID}/ping/?age=inf", {}, True),
    ("query_too_large", "GET", f"/track/{IID}/ping/?v={BIG}", {}, True),
    (
        "post_no_type",
        "POST",
        f"/track/{IID}/pong/",
        {"data": b"os=linux&python=3.11.7"},
        True,
    ),
    (
        "post_form",
        "POST",
        f"/track/{IID}/pong/?version=1.11.8",
        {"data": b"os=linux", "content_type": FORM},
        True,
    ),
    (
        "post_form_charset",
        "POST",
        f"/track/{IID}/pong/",
        {"data": b"os=linux", "content_type": FORM + "; charset=utf-8"},
        True,
    ),
    (
        "post_text_plain",
        "POST",
        f"/track/{IID}/pong",
        {"data": b"os=linux", "content_type": "Text/Plain"},
        True,
    ),
    ("post_dict_form", "POST", f"/track/{IID}/pong/", {"data": {"os": "linux"}}, True),
    ("post_empty_body", "POST", f"/track/{IID}/pong/", {"data": b""}, True),
    ("post_bad_utf8", "POST", f"/track/{IID}/pong/", {"data": b"os=\xff"}, True),
    ("post_bad_key", "POST", f"/track/{IID}/pong/", {"data": b"b%20d=1"}, True),
    (
        "post_body_too_large",
        "POST",
        f"/track/{IID}/pong/",
        {"data": ("v=" + BIG).encode()},
        True,
    ),
    (
        "post_too_many_merged",
        "POST",
        f"/track/{IID}/pong/?" + "&".join(f"q{i}=1" for i in range(40)),
        {"data": "&".join(f"b{i}=1" for i in range(30)).encode()},
        True,
    ),
    (
        "post_chunked",
        "POST",
        f"/track/{IID}/pong/",
        {
            "data": b"os=linux",
            "headers": {"Transfer-Encoding": "chunked"},
            "environ_overrides": {"wsgi.input_terminated": True},
        },
        True,
    ),
    (
        "post_chunked_unterminated",
        "POST",
        f"/track/{IID}/pong/",
        {"data": b"os=linux", "headers": {"Transfer-Encoding": "chunked"}},
        True,
    ),
    (
        "post_bad_length",
        "POST",
        f"/track/{IID}/pong/",
        {"data": b"os=linux", "headers": {"Content-Length": "abc"}},
        True,
    ),
    ("post_bad_id", "POST", "/track/nope/pong/", {"data": b"os=linux"}, True),
    # Left to Flask: unusual content types, other methods, other paths.
    (
        "post_json",
        "POST",
        f"/track/{IID}/pong/",
        {"data": b"{}", "content_type": "application/json"},
        False,
    ),
    (
        "post_multipart",
        "POST",
        f"/track/{IID}/pong/",
        {"data": {"os": "linux"}, "content_type": "multipart/form-data"},
        False,
    ),
    ("head", "HEAD", f"/track/{IID}/ping/", {}, False),
    ("put", "PUT", f"/track/{IID}/ping/", {}, False),
    ("delete_event", "DELETE", f"/track/{IID}/ping/", {}, False),
    ("options", "OPTIONS", f"/track/{IID}/ping/", {}, False),
    ("forget", "DELETE", f"/track/{IID}/", {}, False),
    ("forget_no_slash", "DELETE", f"/track/{IID}", {}, False),
    ("empty_id", "GET", "/track//ping/", {}, False),
    ("double_slash", "GET", f"/track/{IID}/ping//", {}, False),
    ("extra_segment", "GET", f"/track/{IID}/ping/more/", {}, False),
    ("non_ascii_path", "GET", "/track/\u00fc/ping/", {}, False),
    ("healthz", "GET", "/healthz", {}, False),
    ("unknown", "GET", "/nope", {}, False),
    ("stats", "GET", "/api/stats", {}, False),
]


@pytest.fixture
def pair(tmp_path, geo_db):
    """The same collector twice, on separate databases: with and without fast path."""
    clock = Clock()
    apps = {}
    for name, fast in (("fast", True), ("flask", False)):
        config = Config(
            db=str(tmp_path / f"{name}.sqlite"),
            geoip=str(geo_db),
            trusted_proxies=[TRUSTED_PROXY],
            stats_cache=0,
        )
        apps[name] = create_app(
            config,
            clock=clock,
            background_purge=False,
            background_refresh=False,
            fast_path=fast,
        )
    yield apps
    for app in apps.values():
        get_collector(app).close()


def _answer(app, method, path, kwargs):
    kwargs = dict(kwargs)
    headers = {"X-Forwarded-For": CLIENT_IP, **kwargs.pop("headers", {})}
    response = app.test_client().open(
        path,
        method=method,
        headers=headers,
        environ_base={"REMOTE_ADDR": TRUSTED_PROXY},
        **kwargs,
    )
    return response.status, response.headers.to_wsgi_list(), response.get_data()


def _stored(app):
    return snapshot(get_collector(app).store)


@pytest.mark.parametrize(
    "method,path,kwargs,fast", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_fast_path_answers_and_stores_exactly_like_flask(
    pair, method, path, kwargs, fast
):
    fast_app, flask_app = pair["fast"], pair["flask"]
    assert isinstance(fast_app.wsgi_app, FastPath)
    assert not isinstance(flask_app.wsgi_app, FastPath)
    # Same instance stored before, so a DELETE has something to forget.
    for app in (fast_app, flask_app):
        assert app.test_client().get(f"/track/{IID}/startup/").status_code == 200
    to_flask = past_fast_path(fast_app)

    expected = _answer(flask_app, method, path, kwargs)
    actual = _answer(fast_app, method, path, kwargs)

    assert actual == expected
    assert len(to_flask) == (0 if fast else 1)
    assert _stored(fast_app) == _stored(flask_app)


def test_fast_path_success_stores_location_not_address(pair):
    status, headers, body = _answer(pair["fast"], "GET", f"/track/{IID}/ping/", {})
    assert (status, body) == ("200 OK", b'{"ok":true}\n')
    assert ("Content-Type", "application/json") in headers
    env = get_collector(pair["fast"]).store.instance(IID).env
    assert (env["country"], env["city"]) == ("DE", "Berlin")


class _FailingStore(SQLiteStore):
    def add_many(self, reports, counts=()):
        raise OSError("disk on fire")


@pytest.mark.parametrize("failure", ["store_error", "writer_closed", "unexpected"])
def test_fast_path_server_errors_match_flask(tmp_path, failure, monkeypatch):
    answers = []
    for fast in (True, False):
        db = str(tmp_path / f"{fast}.sqlite")
        store = _FailingStore(db) if failure == "store_error" else None
        app = create_app(
            Config(db=db),
            store=store,
            background_purge=False,
            background_refresh=False,
            fast_path=fast,
        )
        collector = get_collector(app)
        if failure == "writer_closed":
            collector.writer.close()
        if failure == "unexpected":
            monkeypatch.setattr(collector.geo, "lookup", _boom)
        try:
            to_flask = past_fast_path(app) if fast else None
            answers.append(_answer(app, "GET", f"/track/{IID}/ping/", {}))
            if fast:
                assert to_flask == []
        finally:
            collector.close()
    assert answers[0] == answers[1]
    assert answers[0][0] == (
        "500 INTERNAL SERVER ERROR"
        if failure == "unexpected"
        else "503 SERVICE UNAVAILABLE"
    )


def _boom(ip):
    raise RuntimeError("unexpected")


def test_fast_path_is_in_front_of_the_app_gunicorn_serves(tmp_path):
    """tracking_collector.wsgi:app (gunicorn's and the CLI's app) sends reports
    through the fast path: Flask.__call__ -> app.wsgi_app is the FastPath."""
    script = textwrap.dedent(
        f"""
        from werkzeug.test import Client
        from tracking_collector.ingest.fastpath import FastPath
        from tracking_collector.wsgi import app
        assert isinstance(app.wsgi_app, FastPath), type(app.wsgi_app)
        to_flask = []
        fallback = app.wsgi_app.fallback
        def counting(environ, start_response):
            to_flask.append(environ["PATH_INFO"])
            return fallback(environ, start_response)
        app.wsgi_app.fallback = counting
        client = Client(app)
        for _ in range(3):
            assert client.get("/track/{IID}/ping/?octoprint_uptime=1").status_code == 200
        assert client.get("/healthz").status_code == 200
        print(",".join(to_flask))
        """
    )
    env = dict(
        os.environ,
        TRACKING_COLLECTOR_DB=str(tmp_path / "wsgi.sqlite"),
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "/healthz"  # the reports went the fast path
    assert Path(tmp_path / "wsgi.sqlite").exists()
