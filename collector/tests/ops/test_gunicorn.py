"""Production setup: the collector under gunicorn with the shipped config."""

from __future__ import annotations

import requests
from testkit import Gunicorn, new_id, open_test_store, stored, uuids


def test_gunicorn_with_shipped_config_acknowledges_stored_reports(tmp_path, db):
    with Gunicorn(tmp_path, db) as server:
        ids = [new_id() for _ in range(20)]
        for iid in ids:
            # Longer than the collector's 10 s ack timeout: a slow commit shows as
            # its 503 answer, with the log, rather than as a client timeout.
            r = requests.post(
                f"{server.url}/track/{iid}/pong/", data="version=1.11.8", timeout=30
            )
            assert r.json() == {"ok": True}, server.log_path.read_text()
    store = open_test_store(db)
    assert set(uuids(store)) == set(ids)
    assert stored(store) == len(ids)
    store.close()
    text = server.log_path.read_text()
    assert "127.0.0.1 " not in text.replace(f"127.0.0.1:{server.port}", "")
    assert not any(iid in text for iid in ids)


def _private_logger(tmp_path, name):
    from gunicorn.config import Config as GunicornConfig

    from tracking_collector import gunicorn_conf

    cfg = GunicornConfig()
    cfg.set("accesslog", str(tmp_path / name))
    cfg.set("access_log_format", gunicorn_conf.access_log_format)
    return gunicorn_conf.PrivateLogger(cfg)


def test_private_logger_direct_access_line_equals_gunicorns_logging_path(tmp_path):
    import datetime

    from gunicorn.glogging import Logger

    class Resp:
        def __init__(self, status, sent):
            self.status, self.sent = status, sent

    calls = [
        (Resp("200 OK", 12), {"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1"}),
        (Resp(404, None), {"REQUEST_METHOD": "POST", "REMOTE_ADDR": "203.0.113.7"}),
        (Resp("503 SERVICE UNAVAILABLE", 80), {}),
    ]
    took = datetime.timedelta(seconds=1, microseconds=234567)
    # gunicorn's loggers are process-wide ("gunicorn.access"): one instance, both
    # ways of writing into the same file, one after the other.
    logger = _private_logger(tmp_path, "access.log")
    assert logger._plain_access_handler() is not None
    for resp, environ in calls:
        logger.access(resp, None, environ, took)
    for resp, environ in calls:
        Logger.access(logger, resp, None, environ, took)
    for handler in logger.access_log.handlers:
        handler.close()
    lines = (tmp_path / "access.log").read_text().splitlines()
    assert (
        lines[:3]
        == lines[3:]
        == [
            '"GET" 200 12 1234ms',
            '"POST" 404 - 1234ms',
            '"None" 503 80 1234ms',
        ]
    )
    text = "\n".join(lines)
    assert "203.0.113.7" not in text


def test_private_logger_uses_logging_when_the_access_log_is_customised(tmp_path):
    import datetime
    import logging

    logger = _private_logger(tmp_path, "filtered.log")
    seen = []

    class Keep(logging.Filter):
        def filter(self, record):
            seen.append(record.getMessage())
            return True

    logger.access_log.addFilter(Keep())
    try:
        assert logger._plain_access_handler() is None
        logger.access(
            type("R", (), {"status": "200 OK", "sent": 12}),
            None,
            {"REQUEST_METHOD": "GET"},
            datetime.timedelta(microseconds=5000),
        )
    finally:
        logger.access_log.filters.clear()
        for handler in logger.access_log.handlers:
            handler.close()
    assert seen == ['"GET" 200 12 5ms']
    assert (tmp_path / "filtered.log").read_text() == '"GET" 200 12 5ms\n'
