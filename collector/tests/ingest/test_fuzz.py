"""Fuzzing: no request, however malformed, makes the collector answer 500."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracking_collector.runtime import get_collector

segments = st.one_of(
    st.uuids().map(str),
    st.text(min_size=0, max_size=80),
    st.from_regex(r"[a-z0-9_]{1,70}", fullmatch=True),
)
field_names = st.one_of(
    st.from_regex(r"[A-Za-z0-9_]{1,10}", fullmatch=True), st.text(max_size=12)
)
values = st.one_of(
    st.text(max_size=40),
    st.text(max_size=1100),
    st.sampled_from(["-1", "nan", "1e400", "3600"]),
)
pairs = st.lists(st.tuples(field_names, values), max_size=70)
raw_bytes = st.binary(max_size=300)
# Real HTTP clients cannot put CR/LF/NUL into a header value.
header_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=["Cs"]),
    max_size=60,
)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    from tracking_collector import Config, create_app

    db = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite"
    app = create_app(Config(db=str(db)), background_purge=False)
    yield app
    get_collector(app).close()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS", "PATCH"]),
    instance=segments,
    event=segments,
    slash=st.booleans(),
    query=st.one_of(
        pairs.map(lambda p: "&".join(f"{_quote(k)}={_quote(v)}" for k, v in p)),
        raw_bytes.map(lambda b: b.decode("latin-1")),
    ),
    body=st.one_of(
        pairs.map(lambda p: "&".join(f"{_quote(k)}={_quote(v)}" for k, v in p).encode()),
        raw_bytes,
    ),
    content_type=st.sampled_from(
        [
            "",
            "application/x-www-form-urlencoded",
            "text/plain",
            "application/json",
            "multipart/form-data; boundary=x",
        ]
    ),
    forwarded=st.one_of(st.none(), header_text, st.just("203.0.113.7, 10.0.0.1")),
    user_agent=st.one_of(st.none(), header_text, st.just("OctoPrint/1.11.8")),
)
def test_no_request_causes_a_server_error(
    fuzz_app,
    method,
    instance,
    event,
    slash,
    query,
    body,
    content_type,
    forwarded,
    user_agent,
):
    client = fuzz_app.test_client()
    path = f"/track/{_quote(instance)}/{_quote(event)}" + ("/" if slash else "")
    headers = {"Content-Type": content_type}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded.encode("utf-8", "replace").decode(
            "latin-1"
        )
    if user_agent is not None:
        headers["User-Agent"] = user_agent.encode("utf-8", "replace").decode("latin-1")
    response = client.open(
        path,
        method=method,
        query_string=query,
        data=body if method in ("POST", "PUT", "PATCH") else None,
        headers=headers,
    )
    assert response.status_code < 500, (response.status_code, response.data[:300])
    if method not in ("HEAD", "OPTIONS"):
        assert response.is_json


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.text(max_size=60))
def test_arbitrary_paths_never_cause_a_server_error(fuzz_app, path):
    # A leading "//" would make the test client read a host name from the path.
    url = "/" + _quote(path).replace("%2F", "/").lstrip("/")
    response = fuzz_app.test_client().get(url)
    assert response.status_code < 500


def test_stats_and_dashboard_survive_fuzzed_data(fuzz_app):
    client = fuzz_app.test_client()
    assert client.get("/api/stats").status_code == 200
    assert client.get("/").status_code == 200
