"""Every validation rule answers 400/413 with a clear JSON error, never a 500."""

from __future__ import annotations

import pytest
from testkit import new_id, stored


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.data
    body = response.get_json()
    assert body["ok"] is False
    assert body["error"] == code
    assert body["message"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        "12345",
        "6f1c1a602f4b4c3e9d7a0e0c1f2a3b4c",  # hex without hyphens
        "{6f1c1a60-2f4b-4c3e-9d7a-0e0c1f2a3b4c}",
        "6f1c1a60-2f4b-4c3e-9d7a-0e0c1f2a3b4cd",
        "6f1c1a60-2f4b-4c3e-9d7a-0e0c1f2a3b4g",
        "urn:uuid:6f1c1a60-2f4b-4c3e-9d7a-0e0c1f2a3b4c",
    ],
)
def test_instance_id_must_be_a_uuid(client, store, bad_id):
    assert_error(client.get(f"/track/{bad_id}/ping/"), 400, "invalid_instance_id")
    assert stored(store) == 0


@pytest.mark.parametrize(
    "bad_event",
    [
        "Ping",
        "print-done",
        "a" * 65,
        "ping%20x",
        "p%C3%A9",
        "ping.json",
        "%00",
    ],
)
def test_event_must_match_lowercase_word_pattern(client, store, bad_event):
    assert_error(client.get(f"/track/{new_id()}/{bad_event}/"), 400, "invalid_event")
    assert stored(store) == 0


def test_event_of_64_characters_is_accepted(client):
    assert client.get(f"/track/{new_id()}/{'a' * 64}/").status_code == 200


def test_64_fields_are_accepted_and_65_rejected(client, store):
    iid = new_id()
    ok = "&".join(f"f{i}=v" for i in range(64))
    assert client.get(f"/track/{iid}/ping/?{ok}").status_code == 200
    too_many = "&".join(f"f{i}=v" for i in range(65))
    assert_error(client.get(f"/track/{iid}/ping/?{too_many}"), 400, "too_many_fields")
    assert_error(
        client.post(f"/track/{iid}/pong/", data=too_many), 400, "too_many_fields"
    )
    assert stored(store) == 1


def test_field_limit_counts_query_and_body_together(client):
    query = "&".join(f"q{i}=v" for i in range(40))
    body = "&".join(f"b{i}=v" for i in range(30))
    response = client.post(f"/track/{new_id()}/pong/?{query}", data=body)
    assert_error(response, 400, "too_many_fields")


def test_value_of_1024_bytes_is_accepted_and_1025_rejected(client):
    iid = new_id()
    assert client.get(f"/track/{iid}/ping/?x={'a' * 1024}").status_code == 200
    assert_error(client.get(f"/track/{iid}/ping/?x={'a' * 1025}"), 400, "value_too_long")


def test_value_limit_counts_utf8_bytes_not_characters(client):
    # 513 two-byte characters = 1026 bytes.
    response = client.post(f"/track/{new_id()}/pong/", data={"x": "é" * 513})
    assert_error(response, 400, "value_too_long")


def test_a_value_with_nul_is_refused_on_every_backend(client, store):
    # PostgreSQL's text cannot hold NUL: refused at the door, the same on SQLite.
    iid = new_id()
    assert_error(client.get(f"/track/{iid}/ping/?os=li%00nux"), 400, "invalid_value")
    response = client.post(f"/track/{iid}/pong/", data="version=1.11.8&plugins=%00")
    assert_error(response, 400, "invalid_value")
    assert stored(store) == 0
    assert client.get(f"/track/{iid}/ping/?os=linux").status_code == 200


def test_body_over_64_kib_is_rejected_with_413(client, store):
    body = b"x=" + b"a" * (64 * 1024)
    assert_error(
        client.post(f"/track/{new_id()}/pong/", data=body), 413, "body_too_large"
    )
    assert stored(store) == 0


def test_body_of_64_kib_passes_the_size_check(client):
    # Within the size limit it is the per-value rule that applies.
    body = b"x=" + b"a" * (64 * 1024 - 2)
    assert_error(
        client.post(f"/track/{new_id()}/pong/", data=body), 400, "value_too_long"
    )


def test_chunked_body_over_64_kib_is_rejected_with_413(app):
    import io

    client = app.test_client()
    stream = io.BytesIO(b"x=" + b"a" * (70 * 1024))
    response = client.post(
        f"/track/{new_id()}/pong/",
        input_stream=stream,
        headers={"Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.get_json()["ok"] is False


def test_query_string_over_64_kib_is_rejected_with_413(client):
    query = "x=" + "a" * (64 * 1024)
    assert_error(client.get(f"/track/{new_id()}/ping/?{query}"), 413, "query_too_large")


@pytest.mark.parametrize("name", ["bad name", "a" * 65, "x%00", "%C3%A9t%C3%A9", "a/b"])
def test_field_names_must_be_simple_identifiers(client, name):
    response = client.get(f"/track/{new_id()}/ping/?{name}=1")
    assert_error(response, 400, "invalid_field_name")


def test_empty_field_name_is_rejected(client):
    assert_error(client.get(f"/track/{new_id()}/ping/?=1"), 400, "invalid_field_name")


@pytest.mark.parametrize("age", ["-1", "abc", "nan", "inf", ""])
def test_age_must_be_a_non_negative_number(client, age):
    assert_error(client.get(f"/track/{new_id()}/ping/?age={age}"), 400, "invalid_age")


def test_non_utf8_body_is_rejected(client):
    response = client.post(f"/track/{new_id()}/pong/", data=b"x=\xff\xfe")
    assert_error(response, 400, "invalid_encoding")


def test_percent_encoded_non_utf8_is_rejected(client):
    assert_error(client.get(f"/track/{new_id()}/ping/?x=%FF"), 400, "invalid_encoding")


def test_multipart_body_is_rejected_as_unsupported(client):
    response = client.post(
        f"/track/{new_id()}/pong/",
        data={"f": (__import__("io").BytesIO(b"x"), "f.txt")},
        content_type="multipart/form-data",
    )
    assert_error(response, 400, "unsupported_content_type")


def test_delete_with_invalid_id_is_rejected(client):
    assert_error(client.delete("/track/nope/"), 400, "invalid_instance_id")
