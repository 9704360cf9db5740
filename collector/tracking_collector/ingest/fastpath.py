"""A lean WSGI fast path for the hot endpoint, in front of the Flask app.

``GET`` and form ``POST`` on ``/track/<instance>/<event>[/]`` are what every
OctoPrint instance sends; for those, Flask's request context, routing, signals and
response finalisation cost more CPU than validating and storing the report. This
callable handles exactly those requests with the same ``Intake.record`` the Flask
route calls (validation, geo lookup, admission, writer), renders errors with the
same :class:`~tracking_collector.errors.Answers` as the Flask error handlers, and
answers with the same bytes. Everything else
(other paths or methods, HEAD, non-ASCII paths, content types other than the form
types) goes to the Flask app untouched, before anything of the request is read.

Privacy: like the Flask view, the client address is only passed through to
``record``, never kept or logged here.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_options_header
from werkzeug.test import create_environ
from werkzeug.wsgi import get_content_length, get_input_stream

from ..errors import Answers
from . import validation as v

# Werkzeug's default converter is [^/]+; merge_slashes is off, so "//" is a 404
# there and falls through here.
_TRACK_PATH = re.compile(r"/track/([^/]+)/([^/]+)/?")


def _no_mimetype() -> str:
    return ""


class FastPath:
    """WSGI middleware: serve report submissions directly, pass the rest on."""

    def __init__(
        self,
        fallback: Callable[..., Any],
        *,
        record: Callable[..., None],
        answers: Answers,
    ):
        self.fallback = fallback
        self._record = record
        self._answers = answers
        # The status and headers Werkzeug would send for the shared success
        # response (Response.__call__ -> get_wsgi_response), computed once.
        ok = answers.ok()
        self._ok_status = ok.status
        self._ok_headers = ok.get_wsgi_headers(create_environ()).to_wsgi_list()
        self._ok_body = ok.get_data()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        method = environ.get("REQUEST_METHOD")
        if method == "GET":
            mimetype = _no_mimetype
        elif method == "POST":
            content_type = environ.get("CONTENT_TYPE")
            mime = parse_options_header(content_type)[0].lower() if content_type else ""
            if mime not in v.FORM_TYPES:
                # Flask answers 400 unsupported_content_type; leave it to Flask.
                return self.fallback(environ, start_response)

            def mimetype() -> str:
                return mime

        else:
            return self.fallback(environ, start_response)
        path = environ.get("PATH_INFO", "")
        match = _TRACK_PATH.fullmatch(path) if path.isascii() else None
        if match is None:
            return self.fallback(environ, start_response)
        try:
            self._record(
                match.group(1),
                match.group(2),
                method,
                environ.get("QUERY_STRING", "").encode("latin1"),
                get_content_length(environ),
                mimetype,
                lambda: get_input_stream(environ),
                environ.get("REMOTE_ADDR"),
                environ.get("HTTP_X_FORWARDED_FOR"),
                environ.get("HTTP_USER_AGENT"),
            )
        except v.ValidationError as exc:
            response = self._answers.refused(exc)
        except HTTPException as exc:
            response = self._answers.http_error(exc)
        except Exception:  # noqa: BLE001 - answered like Flask's catch-all handler
            response = self._answers.internal_error(path)
        else:
            start_response(self._ok_status, list(self._ok_headers))
            return [self._ok_body]
        return response(environ, start_response)
