"""A real HTTP receiver on loopback that plays the tracking server, in any mood.

It records every request with its arrival time, and can be switched to answer 200,
500, 429 with Retry-After, hang without answering, close the connection, or refuse
connections (its socket is closed and reopened on the same port).

``GET`` on the instance's address (``/track/<id>/``, what the server holds about an
instance) gets ``instance_answer`` when one is set, ``DELETE`` there (forget the
instance) ``delete_answer``: any status, headers and body. Every ``DELETE`` is
recorded, whatever it was answered.
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

MODES = ("ok", "error", "throttle", "bad", "hang", "close", "reject")


@dataclass
class Hit:
    time: float
    method: str
    instance: str
    event: str
    fields: Dict[str, str]
    headers: Dict[str, str]
    answered: Optional[int]


@dataclass
class Receiver:
    port: int = 0
    mode: str = "ok"
    retry_after: int = 1
    hits: List[Hit] = field(default_factory=list)
    attempts: List[float] = field(default_factory=list)
    instance_answer: Optional[Tuple[int, Dict[str, str], bytes]] = None
    delete_answer: Optional[Tuple[int, Dict[str, str], bytes]] = None

    def __post_init__(self):
        self._cond = threading.Condition()
        self._server = None
        self._thread = None
        self._release = threading.Event()

    # lifecycle -----------------------------------------------------------------

    def start(self) -> "Receiver":
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without it, keep-alive clients wait 40 ms per request (Nagle + delayed ACK).
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                receiver._handle(self, self.path.partition("?")[2])

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                receiver._handle(self, body)

            def do_DELETE(self):
                receiver._handle(self, "")

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set_mode(self, mode: str) -> None:
        assert mode in MODES, mode
        if mode == "reject" and self._server is not None:
            self.stop()
        elif mode != "reject" and self._server is None:
            self._release = threading.Event()
            self.start()
        if mode != "hang":
            self._release.set()
        else:
            self._release = threading.Event()
        self.mode = mode

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/track/{{id}}/{{event}}/"

    # requests ------------------------------------------------------------------

    def _handle(self, handler, query: str) -> None:
        now = time.time()
        parts = [p for p in urlsplit(handler.path).path.split("/") if p]
        instance = parts[1] if len(parts) > 1 else ""
        event = parts[2] if len(parts) > 2 else ""
        mode = self.mode
        with self._cond:
            self.attempts.append(now)
        if mode == "hang":
            self._release.wait(120)
            return
        if mode == "close":
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        answer = {"GET": self.instance_answer, "DELETE": self.delete_answer}.get(
            handler.command
        )
        # Each hit is recorded before its answer goes out: a client that has its
        # answer finds the hit already there.
        if answer and not event:
            status, headers, body = answer
            hit = Hit(
                now, handler.command, instance, "", {}, dict(handler.headers), status
            )
            self._record(hit)
            self._answer(handler, status, headers, body)
            return
        status = {"ok": 200, "error": 500, "throttle": 429, "bad": 400}[mode]
        body = b'{"ok": true}' if status == 200 else b'{"ok": false}'
        headers = {"Retry-After": str(self.retry_after)} if status == 429 else {}
        if status == 200 or handler.command == "DELETE":
            fields = dict(parse_qsl(query, keep_blank_values=True))
            self._record(
                Hit(
                    now,
                    handler.command,
                    instance,
                    event,
                    fields,
                    dict(handler.headers),
                    status,
                )
            )
        self._answer(
            handler, status, {"Content-Type": "application/json", **headers}, body
        )

    def _record(self, hit: Hit) -> None:
        with self._cond:
            self.hits.append(hit)
            self._cond.notify_all()

    @staticmethod
    def _answer(handler, status: int, headers: Dict[str, str], body: bytes) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    # assertions ----------------------------------------------------------------

    def deletes(self) -> List[Hit]:
        """The ``DELETE`` requests, answered or not (``answered`` says how)."""
        with self._cond:
            return [h for h in self.hits if h.method == "DELETE"]

    def events(self) -> List[str]:
        with self._cond:
            return [h.event for h in self.hits]

    def received(self, event: str) -> List[Hit]:
        with self._cond:
            return [h for h in self.hits if h.event == event]

    def wait_for(
        self, predicate: Callable[[List[Hit]], bool], timeout: float = 30.0
    ) -> List[Hit]:
        """Wait until ``predicate(hits)`` holds; return the hits or fail loudly."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self.hits)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"receiver condition not met in {timeout}s; got {[h.event for h in self.hits]}"
                    )
                self._cond.wait(min(remaining, 0.5))
            return list(self.hits)

    def wait_for_event(
        self, event: str, count: int = 1, timeout: float = 30.0
    ) -> List[Hit]:
        self.wait_for(lambda hits: sum(h.event == event for h in hits) >= count, timeout)
        return self.received(event)
