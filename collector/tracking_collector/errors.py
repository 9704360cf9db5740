"""Every answer the collector refuses with: one JSON shape, rendered in one place.

``{"ok": false, "error": "<code>", "message": "..."}`` with the status of the
refusal. Routes raise :class:`ApiError`; Flask's error handlers and the WSGI fast
path render it (and Werkzeug's HTTP errors, and anything unexpected) with the same
:class:`Answers`, so both paths give the same bytes.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Flask only where answers are rendered, not for ApiError
    from flask import Flask, Response
    from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request the collector refuses; carries the HTTP status, a stable code and
    any headers the answer needs (``Retry-After``, ``WWW-Authenticate``)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class Answers:
    """The collector's JSON answers for one app: success and every refusal."""

    def __init__(self, app: Flask):
        self.app = app
        # The success body is the same for every report: serialised once (the same
        # bytes jsonify would produce) instead of on every request.
        self._ok_body = app.json.response({"ok": True}).get_data()
        self._ok_mimetype = app.json.mimetype

    def ok(self) -> Response:
        return self.app.response_class(self._ok_body, mimetype=self._ok_mimetype)

    def error(self, status: int, code: str, message: str) -> Response:
        # What jsonify() does, without needing an app context (the fast path
        # renders its errors with this too).
        response = self.app.json.response(
            {"ok": False, "error": code, "message": message}
        )
        response.status_code = status
        return response

    def refused(self, exc: ApiError) -> Response:
        response = self.error(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
        return response

    def http_error(self, exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = self.error(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    def internal_error(self, path: str) -> Response:
        """500 for an unexpected exception (called while it is handled), logged
        with its traceback, every instance id in the path and the traceback
        redacted: an id never reaches the log (a store error may quote a row)."""
        # Imported here: validation builds on this module's ApiError.
        from .ingest.validation import redact_ids

        log.error(
            "Unhandled error on %s\n%s",
            redact_ids(path),
            redact_ids(traceback.format_exc().rstrip()),
        )
        return self.error(500, "internal_error", "internal error")

    def register(self) -> None:
        """Answer every error of the app's routes in the collector's shape."""
        from flask import request
        from werkzeug.exceptions import HTTPException

        self.app.register_error_handler(ApiError, self.refused)
        self.app.register_error_handler(HTTPException, self.http_error)
        self.app.register_error_handler(
            Exception, lambda exc: self.internal_error(request.path)
        )
