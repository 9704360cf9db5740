"""Delivery: the only place with I/O. One worker thread sends what the outbox holds.

- ``put`` never blocks and never raises: the outbox is bounded, and when it is full the
  oldest ping goes first, then the oldest report, and the drop is counted.
- One ``requests.Session`` with keep-alive and short timeouts.
- Transport errors, 5xx, 408 and 429 are retried with exponential backoff and jitter,
  honouring ``Retry-After``; any other 4xx is undeliverable and dropped.
- Offline (OctoPrint's connectivity checker) means hold, not drop.
- What is left at shutdown, or while a backlog persists, goes to a spool file that is
  sent after the next start.
- ``purge`` (opt-out) empties queue and spool; nothing is sent or retried after it.
- Every delivered or dropped report is journalled; the last 100 are kept on disk.
"""

from __future__ import annotations

import collections
import email.utils
import json
import logging
import os
import random
import tempfile
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional
from urllib.parse import urlencode, urlsplit

import requests

from . import consent
from .reports import Report, wire_value

SPOOL_FORMAT = "octoprint-usage-tracking-spool"
SPOOL_NAME = "spool.json"
JOURNAL_NAME = "journal.json"
STATUS_NAME = "status.json"
JOURNAL_SIZE = 100
AGE_THRESHOLD = 60
RETRY_AFTER_CAP = 3600.0
JOURNAL_SAVE_INTERVAL = 1.0
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def is_loopback(url: Any) -> bool:
    """Whether ``url`` points at this machine."""
    try:
        host = urlsplit(url).hostname or ""
    except (TypeError, ValueError, AttributeError):
        return False
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def server_allowed(url: Any) -> bool:
    """``server`` must be https, or http to a loopback address (a local collector).

    Reports are anonymous, but the instance id in the URL is a stable identifier:
    it must not travel in clear text across a network.
    """
    if not isinstance(url, str) or "{id}" not in url or "{event}" not in url:
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    try:
        url.format(id="x", event="y")
    except (KeyError, IndexError, ValueError):
        return False  # other placeholders: it could never be filled in
    if parts.scheme == "https" and host:
        return True
    return parts.scheme == "http" and is_loopback(url)


def retry_after(value: Optional[str], now: float) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


class Backoff:
    """Exponential backoff with full jitter between ``base`` and ``cap`` seconds."""

    def __init__(self, base: float = 5.0, cap: float = 3600.0, rng=random.random):
        self.base, self.cap, self.rng = base, cap, rng
        self.failures = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 32)))
        self.failures += 1
        # Full jitter, but never below the base: a fleet that lost its server at the
        # same moment spreads out instead of coming back in lockstep.
        return self.base + self.rng() * max(0.0, ceiling - self.base)

    def reset(self) -> None:
        self.failures = 0


class Outbox:
    """Bounded FIFO of reports; not thread-safe on its own (Delivery holds the lock).

    Every operation the host thread reaches is O(1): a superseded ping is only marked,
    and skipped when it reaches the front.
    """

    def __init__(self, capacity: int = 1000):
        self.capacity = max(1, capacity)
        self.items: Deque[Report] = collections.deque()
        self.dropped = 0
        self.ping: Optional[Report] = None
        """The one undelivered ping that counts, if any."""
        self._stale = 0

    def __len__(self) -> int:
        return len(self.items) - self._stale

    def put(self, report: Report) -> None:
        if report.name == "ping" and self.ping is not None:
            # One undelivered ping says as much as many: keep only the latest.
            self._supersede(self.ping)
        if len(self) >= self.capacity:
            # Full: the ping goes first (there is at most one), then the oldest.
            if self.ping is not None:
                self._supersede(self.ping)
            else:
                self.popleft()
                self.dropped += 1
        self.items.append(report)
        if report.name == "ping":
            self.ping = report

    def popleft(self) -> Report:
        while True:
            report = self.items.popleft()
            if report.superseded:
                self._stale -= 1
                continue
            if report is self.ping:
                self.ping = None
            return report

    def appendleft(self, report: Report) -> None:
        """Put a report back at the front (after a failed attempt)."""
        if report.name == "ping" and self.ping is not None:
            return  # a newer ping came in meanwhile
        self.items.appendleft(report)
        if report.name == "ping":
            self.ping = report

    def pending(self) -> List[Report]:
        return [r for r in self.items if not r.superseded]

    def clear(self) -> None:
        self.items.clear()
        self.ping = None
        self._stale = 0

    def _supersede(self, report: Report) -> None:
        report.superseded = True
        self._stale += 1
        self.dropped += 1
        if self.ping is report:
            self.ping = None
        if self._stale > self.capacity:
            # Rare (a ping every 15 minutes against a dead server): keep memory bound.
            self.items = collections.deque(self.pending())
            self._stale = 0


def write_atomically(path: str, data: Any, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` as JSON, never leaving a half-written file.
    ``durable`` also survives a power cut (fsync): for the spool, not the journal."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_spool(path: str, logger: logging.Logger) -> List[Report]:
    """Reports from the spool file. A corrupt, truncated or foreign file is moved
    aside with a warning; a report in it that the catalog does not know is skipped."""
    if not os.path.exists(path):
        return []
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict) or data.get("format") != SPOOL_FORMAT:
            raise ValueError("not a spool file of this plugin")
        items = data.get("reports")
        if not isinstance(items, list):
            raise ValueError("no report list")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        aside = f"{path}.corrupt-{int(time.time())}"
        # The file name only: the full path holds the basedir (often a user name).
        logger.warning(
            f"Spool file is unreadable ({type(exc).__name__}), moved aside as "
            f"{os.path.basename(aside)}"
        )
        try:
            os.replace(path, aside)
        except OSError:
            pass
        return []
    reports = []
    for item in items:
        try:
            reports.append(Report.from_dict(item))
        except ValueError:
            logger.warning("Skipped a foreign entry in the spool file")
    return reports


Sender = Callable[[Report, str, float], requests.Response]


class Delivery:
    """The outbox and its worker thread."""

    def __init__(
        self,
        *,
        data_folder: str,
        get_target: Callable[[], Optional[tuple]],
        user_agent: str,
        logger: Optional[logging.Logger] = None,
        capacity: int = 1000,
        timeout: float = 3.05,
        backoff_base: float = 5.0,
        backoff_max: float = 3600.0,
        max_age: float = 7 * 86400,
        spool_interval: float = 60.0,
        on_tick: Optional[Callable[[], float]] = None,
        online: bool = True,
    ):
        """``get_target()`` returns ``(url_template, config)`` while sending is allowed,
        None otherwise. It is asked before every attempt, and each report passes the
        consent gate of that moment again: a switch turned off during an outage also
        holds back what was queued before."""
        self._folder = data_folder
        self._get_target = get_target
        self._logger = logger or logging.getLogger(__name__)
        self._timeout = timeout
        self._max_age = max_age
        self._spool_interval = spool_interval
        self._on_tick = on_tick
        self._backoff = Backoff(backoff_base, backoff_max)

        # A plain Lock (not the default RLock): cheaper for the host thread's put().
        self._cond = threading.Condition(threading.Lock())
        self._outbox = Outbox(capacity)
        self._inflight: Optional[Report] = None
        self._generation = 0
        self._online = online
        self._retry_at = 0.0
        self._stopping = False
        self._flushing = False
        self._next_tick = 0.0
        self._spooled = 0
        self._spool_written = 0.0
        self._backlog_since = 0.0
        self._journal: Deque[Dict[str, Any]] = collections.deque(maxlen=JOURNAL_SIZE)
        self._journal_dirty = False
        self._journal_saved = 0.0
        self._delivered = 0
        self._last_problem: Optional[Dict[str, Any]] = None
        self._thread: Optional[threading.Thread] = None
        self._worker_idle = False
        self._forget: List[str] = []

        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent
        self._journal.extend(self._load_journal())

    # paths ------------------------------------------------------------------------

    @property
    def spool_path(self) -> str:
        return os.path.join(self._folder, SPOOL_NAME)

    @property
    def journal_path(self) -> str:
        return os.path.join(self._folder, JOURNAL_NAME)

    # host side: never blocks for I/O ----------------------------------------------

    def start(self) -> None:
        """Load the spool and start the worker. Call once, before any shutdown."""
        try:
            self._save_status()
        except Exception:
            self._logger.exception("Could not write the status file")
        spooled = load_spool(self.spool_path, self._logger)
        with self._cond:
            for report in spooled:
                self._outbox.put(report)
            self._spooled = len(spooled)
        if self._thread is None:
            # A daemon thread, started early: Python joins non-daemon threads before
            # atexit handlers run (so a non-daemon worker would hang shutdown), and
            # refuses to start threads or executor work during atexit, which is when
            # OctoPrint calls on_shutdown.
            self._thread = threading.Thread(
                target=self._run, name="usage_tracking.delivery", daemon=True
            )
            self._thread.start()

    def put(self, report: Report) -> bool:
        """Queue a report. Never blocks on I/O, never raises."""
        try:
            with self._cond:
                if self._stopping:
                    return False
                self._outbox.put(report)
                # Wake the worker only when it sleeps: a busy worker finds the report
                # on its next round, and the host thread is spared the hand-over.
                if self._worker_idle:
                    self._cond.notify()
            return True
        except Exception:  # pragma: no cover - defensive: the host thread is sacred
            return False

    def set_online(self, online: bool) -> None:
        with self._cond:
            self._online = bool(online)
            if online:
                # Connectivity came back: try at once instead of waiting out backoff.
                self._retry_at = 0.0
                self._backoff.reset()
            self._cond.notify()

    def wake(self) -> None:
        with self._cond:
            self._next_tick = 0.0
            self._cond.notify()

    def purge(self, wait: float = 1.0) -> None:
        """Opt-out: drop everything queued or spooled. A request already on the wire
        is waited for (at most ``wait`` seconds) and never retried, so that when this
        returns, no further request leaves. Not for the event thread."""
        end = time.monotonic() + wait
        with self._cond:
            self._outbox.clear()
            self._generation += 1
            self._retry_at = 0.0
            self._backoff.reset()
            self._cond.notify_all()
            while self._inflight is not None and time.monotonic() < end:
                self._cond.wait(end - time.monotonic())
        self._remove_spool()

    def forget(self, url: str) -> None:
        """Ask the server, best effort and once, to delete an old instance's data."""
        with self._cond:
            self._forget.append(url)
            self._cond.notify()

    def status(self) -> Dict[str, Any]:
        with self._cond:
            return {
                "queued": len(self._outbox) + (1 if self._inflight else 0),
                "dropped": self._outbox.dropped,
                "delivered": self._delivered,
                "spooled": self._spooled,
                "online": self._online,
                "retry_in": max(0.0, round(self._retry_at - time.monotonic(), 1))
                if self._retry_at
                else 0.0,
                "last_delivery": self._journal[-1] if self._journal else None,
                "last_problem": self._last_problem,
            }

    def journal(self) -> List[Dict[str, Any]]:
        with self._cond:
            return list(self._journal)

    def queued(self) -> List[Report]:
        with self._cond:
            return ([self._inflight] if self._inflight else []) + self._outbox.pending()

    def shutdown(self, final: Optional[Report] = None, deadline: float = 2.0) -> int:
        """Send ``final`` and flush for at most ``deadline`` seconds in total, then
        spool what is left. Returns the number of spooled reports."""
        end = time.monotonic() + deadline
        if final is not None:
            self.put(final)
        with self._cond:
            self._flushing = True
            self._retry_at = 0.0
            self._cond.notify()
            # Leave time to write the spool within the deadline.
            flush_end = end - min(0.3, deadline / 4)
            while (len(self._outbox) or self._inflight) and self._online:
                remaining = flush_end - time.monotonic()
                if remaining <= 0 or self._thread is None or not self._thread.is_alive():
                    break
                self._cond.wait(remaining)
            self._stopping = True
            left = ([self._inflight] if self._inflight else []) + self._outbox.pending()
            self._cond.notify()
        try:
            if left and self._get_target() is not None:
                write_atomically(self.spool_path, self._spool_data(left))
            else:
                self._remove_spool()
            self._save_journal()
        except Exception:
            self._logger.exception("Could not write the spool at shutdown")
        self._spooled = len(left)
        return len(left)

    # worker side --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                if not self._step():
                    return
            except Exception:  # pragma: no cover - keep delivering whatever happens
                self._logger.exception("Unexpected error in the delivery worker")
                time.sleep(1)

    def _step(self) -> bool:
        now = time.monotonic()
        if self._on_tick is not None and now >= self._next_tick and not self._flushing:
            try:
                self._next_tick = now + max(0.05, float(self._on_tick()))
            except Exception:
                self._logger.exception("Error in the tracking timer")
                self._next_tick = now + 60
        self._send_forget()
        with self._cond:
            if self._stopping:
                return False
            now = time.monotonic()
            ready = self._online and len(self._outbox) and now >= self._retry_at
            if not ready:
                waits = (
                    [self._next_tick - now]
                    if self._on_tick and not self._flushing
                    else []
                )
                if len(self._outbox) and self._online:
                    waits.append(self._retry_at - now)
                if len(self._outbox) and not self._flushing:
                    waits.append(self._spool_interval)
                if self._journal_dirty:
                    waits.append(JOURNAL_SAVE_INTERVAL)
                self._worker_idle = True
                try:
                    self._cond.wait(max(0.01, min(waits)) if waits else None)
                finally:
                    self._worker_idle = False
                backlog = bool(len(self._outbox))
                report = None
            else:
                report = self._outbox.popleft()
                self._inflight = report
                generation = self._generation
        if report is None:
            self._maintain(backlog)
            return True

        try:
            outcome, status, delay = self._attempt(report)
        except Exception:
            # Never leave a report "in flight" forever: journal it as undeliverable.
            self._logger.exception(f"Could not send {report.name}")
            outcome, status, delay = "rejected", None, None

        with self._cond:
            self._inflight = None
            if generation != self._generation:
                self._cond.notify_all()
                return True
            if outcome == "retry":
                self._outbox.appendleft(report)
                # The server's Retry-After is honoured up to an hour (a broken header
                # must not silence a report for days); otherwise our own backoff.
                wait = (
                    self._backoff.next() if delay is None else min(delay, RETRY_AFTER_CAP)
                )
                self._retry_at = time.monotonic() + wait
                self._last_problem = {
                    "time": time.time(),
                    "report": report.name,
                    "status": status,
                }
            else:
                if outcome == "delivered":
                    self._delivered += 1
                    self._backoff.reset()
                    self._retry_at = 0.0
                elif outcome != "withheld":
                    self._last_problem = {
                        "time": time.time(),
                        "report": report.name,
                        "status": status,
                    }
                if outcome != "withheld":
                    self._journal_entry(report, outcome, status)
            self._cond.notify_all()
            backlog = bool(len(self._outbox))
        self._maintain(backlog)
        return True

    def _attempt(self, report: Report):
        """One try. Returns (outcome, http status, retry delay or None)."""
        target = self._get_target()
        if target is None:
            # Tracking was switched off or the server is not allowed: nothing leaves.
            return "withheld", None, None
        url_template, config = target
        original = report
        age = time.time() - report.created
        if age > self._max_age:
            return "expired", None, None
        if age > AGE_THRESHOLD:
            report = Report(
                report.name, {**report.fields, "age": int(age)}, report.created
            )
        gated = consent.gate(report, config)
        if gated is None:
            return "withheld", None, None
        fields = gated.fields
        params = urlencode({k: wire_value(v) for k, v in fields.items()})
        params = params.replace("+", "%20")  # as the bundled plugin sends spaces
        url = url_template.format(id=config.unique_id, event=report.name)
        timeout = self._timeout
        if self._flushing:
            timeout = max(0.1, min(timeout, 1.5))
        try:
            if report.post:
                response = self._session.post(
                    url,
                    data=params,
                    timeout=timeout,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            else:
                response = self._session.get(url, params=params, timeout=timeout)
            response.close()
        except requests.RequestException as exc:
            # Never log the URL: it holds the instance id.
            self._logger.debug(f"Could not send {report.name}: {type(exc).__name__}")
            return "retry", None, None
        code = response.status_code
        if 200 <= code < 300:
            self._logger.debug(f"Sent tracking report {report.name}")
            original.fields = dict(fields)  # the journal shows what was really sent
            return "delivered", code, None
        if code >= 500 or code in (408, 429):
            return (
                "retry",
                code,
                retry_after(response.headers.get("Retry-After"), time.time()),
            )
        return "rejected", code, None

    def _send_forget(self) -> None:
        with self._cond:
            urls, self._forget = self._forget, []
        for url in urls:
            try:
                self._session.delete(url, timeout=self._timeout).close()
            except requests.RequestException:
                self._logger.debug("Could not ask the server to forget an old id")

    def _journal_entry(self, report: Report, outcome: str, status: Optional[int]) -> None:
        self._journal.append(
            {
                "time": time.time(),
                "report": report.name,
                "fields": {k: str(v) for k, v in report.fields.items()},
                "outcome": outcome,
                "status": status,
            }
        )
        self._journal_dirty = True

    def _maintain(self, backlog: bool) -> None:
        """Disk work of the worker: keep the spool in step with a lasting backlog (so
        a crash loses little), and the journal on disk."""
        if self._stopping:
            return  # shutdown() has written the final spool: never overwrite it
        try:
            now = time.monotonic()
            if not backlog:
                self._backlog_since = 0.0
                if self._spooled:
                    self._remove_spool()
            elif not self._backlog_since:
                self._backlog_since = now
            elif (
                now - max(self._backlog_since, self._spool_written)
                >= self._spool_interval
            ):
                with self._cond:
                    pending = self._outbox.pending()
                    generation = self._generation
                if pending:
                    write_atomically(self.spool_path, self._spool_data(pending))
                    self._spooled = len(pending)
                    if generation != self._generation:
                        # Opted out while writing: the spool must not outlive it.
                        self._remove_spool()
                self._spool_written = now
            # The journal is for people: once a second is often enough, and keeps
            # disk writes out of a fast delivery loop.
            if self._journal_dirty and now - self._journal_saved >= JOURNAL_SAVE_INTERVAL:
                self._save_journal()
        except Exception:
            self._logger.exception("Could not update the spool or journal")

    def _spool_data(self, reports: List[Report]) -> Dict[str, Any]:
        return {
            "format": SPOOL_FORMAT,
            "version": 1,
            "reports": [r.as_dict() for r in reports],
        }

    def _remove_spool(self) -> None:
        self._spooled = 0
        try:
            os.unlink(self.spool_path)
        except FileNotFoundError:
            pass
        except OSError:
            self._logger.exception("Could not remove the spool file")

    def _save_journal(self) -> None:
        with self._cond:
            entries = list(self._journal)
            self._journal_dirty = False
        write_atomically(self.journal_path, entries, durable=False)
        self._journal_saved = time.monotonic()
        self._save_status()

    def _save_status(self) -> None:
        """Counts for the CLI, which runs in another process (no id, no server)."""
        status = self.status()
        status.pop("last_delivery", None)
        status["pid"] = os.getpid()
        status["time"] = time.time()
        write_atomically(os.path.join(self._folder, STATUS_NAME), status, durable=False)

    def _load_journal(self) -> List[Dict[str, Any]]:
        try:
            with open(self.journal_path, encoding="utf-8") as f:
                data = json.load(f)
            return [e for e in data if isinstance(e, dict)][-JOURNAL_SIZE:]
        except (OSError, ValueError, TypeError):
            return []
