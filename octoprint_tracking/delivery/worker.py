"""The delivery worker: one thread that sends what the outbox holds.

It is handed a snapshot of where and under which consent it may send (``set_target``)
and never calls back into the plugin.

- ``put`` never blocks and never raises: the outbox is bounded, and when it is full the
  oldest ping goes first, then the oldest report, and the drop is counted.
- Transport errors, 5xx, 408 and 429 are retried with exponential backoff and jitter,
  honouring ``Retry-After``; any other 4xx is undeliverable and dropped.
- Offline (OctoPrint's connectivity checker) means hold, not drop.
- What is left at shutdown, or while a backlog persists, goes to a spool file that is
  sent after the next start.
- ``purge`` (opt-out) empties queue and spool; nothing is sent or retried after it.
- Every delivered or dropped report is journalled; the last 100 are kept on disk.
- A deletion request (the owner's "and ask the server to delete what it holds") is
  the one thing that may go while tracking is off. It goes before any report, is
  never dropped, and is retried with the same backoff until the server answers; it
  waits in a file of its own (``files``), so it outlives the purge and a restart.
  While ``silenced`` (a kill switch, an unusable policy) nothing at all goes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set

from ..core.model import Report
from ..logsafe import RedactFilter
from . import files
from .client import Client
from .outbox import Outbox
from .protocol import Backoff, Deletion, Target


@dataclass(frozen=True)
class Options:
    """Delivery's tunables; the defaults of ``plugins.usage_tracking.delivery``."""

    queue_size: int = 1000
    timeout: float = 3.05
    backoff_base: float = 5.0
    backoff_max: float = 3600.0
    spool_interval: float = 60.0
    max_age: float = 7 * 86400.0

    @classmethod
    def from_settings(cls, data: Any) -> "Options":
        """Options from settings; a value that is not a positive number is ignored."""
        values = {}
        for key, default in cls().__dict__.items():
            value = data.get(key) if isinstance(data, dict) else None
            try:
                number = type(default)(value)
            except (TypeError, ValueError):
                continue
            if number > 0:
                values[key] = number
        return cls(**values)


class Delivery:
    """The outbox and its worker thread."""

    def __init__(
        self,
        *,
        data_folder: str,
        user_agent: str,
        logger: Optional[logging.Logger] = None,
        options: Options = Options(),
        target: Optional[Target] = None,
        online: bool = True,
        redact: Optional[RedactFilter] = None,
    ):
        """Each report passes the consent gate of ``target`` at the moment it is sent:
        a switch turned off during an outage also holds back what was queued before.
        ``redact``: the filter that keeps ids and servers out of the log; told each
        deletion request's address before it is sent (an old id, a former server)."""
        self._logger = logger or logging.getLogger(__name__)
        self._redact = redact
        self._options = options
        self._files = files.Files(data_folder, self._logger, options.spool_interval)
        self._client = Client(user_agent, options.timeout, self._logger)
        self._backoff = Backoff(options.backoff_base, options.backoff_max)
        self._target = target

        # A plain Lock (not the default RLock): cheaper for the host thread's put().
        self._cond = threading.Condition(threading.Lock())
        self._outbox = Outbox(options.queue_size)
        self._inflight: Optional[Report] = None
        self._generation = 0
        self._online = online
        self._retry_at = 0.0
        self._stopping = False
        self._flushing = False
        self._delivered = 0
        self._last_problem: Optional[Dict[str, Any]] = None
        self._thread: Optional[threading.Thread] = None
        self._worker_idle = False
        self._silenced = False
        self._deletions: List[Deletion] = []
        """Deletion requests waiting for an answer, oldest first."""
        self._unreadable: Set[str] = set()
        """Requests the system would not let us read (said once in the log)."""
        self._answered: Set[str] = set()
        """Keys of the requests answered in this run: their files may still be there
        for a moment, and must not be taken up again (one owner's request, one
        DELETE)."""

    # host side: never blocks for I/O ----------------------------------------------

    def start(self) -> None:
        """Load the spool and the waiting deletion requests, and start the worker.
        Call once, before any shutdown."""
        try:
            self._files.save_status(self.status())
        except Exception:
            self._logger.exception("Could not write the status file")
        self.take_deletions()
        spooled = self._files.load_spool()
        with self._cond:
            for report in spooled:
                self._outbox.put(report)
        if self._thread is None:
            # A daemon thread, started early: Python joins non-daemon threads before
            # atexit handlers run (so a non-daemon worker would hang shutdown), and
            # refuses to start threads during atexit, when OctoPrint calls on_shutdown.
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

    def set_target(self, target: Optional[Target], silenced: bool = False) -> None:
        """Where and under which consent to send reports from now on; None: no
        report leaves. ``silenced``: not even a deletion request."""
        with self._cond:
            self._target = target
            self._silenced = silenced
            self._cond.notify()

    def take_deletions(self, keys: Optional[List[str]] = None) -> int:
        """Take up the deletion requests kept in the data folder (``keys``, listed
        earlier, or all there are now); returns how many were new. Reads small files:
        not for the event thread."""
        folder = self._files.folder
        found = []
        with self._cond:
            known = self._known_deletions()
        for key in files.deletion_requests(folder) if keys is None else keys:
            if key in known:
                continue
            try:
                deletion = files.read_deletion_request(folder, key)
            except FileNotFoundError:
                continue  # answered and removed since it was listed
            except OSError as exc:
                # The system refused for now: kept, and read again at the next tick.
                if key not in self._unreadable:
                    self._unreadable.add(key)
                    self._logger.warning(
                        "A deletion request could not be read "
                        f"({type(exc).__name__}); it is tried again"
                    )
                continue
            if deletion is None:
                # Not a request (foreign, broken): never sent, not kept either.
                self._logger.warning("Removed an unreadable deletion request")
                files.remove_deletion_request(folder, key)
            else:
                found.append(deletion)
        if found and self._redact is not None:
            # Before the worker may send them: urllib3 logs the host it connects to.
            self._redact.add(d.address for d in found)
        with self._cond:
            # Again: the worker may have answered one of them meanwhile.
            known = self._known_deletions()
            new = [d for d in found if d.key not in known]
            self._deletions += new
            self._cond.notify()
        return len(new)

    def _known_deletions(self) -> Set[str]:
        """Requests waiting or answered in this run. Called with the lock held."""
        return {d.key for d in self._deletions} | self._answered

    def set_online(self, online: bool) -> None:
        with self._cond:
            self._online = bool(online)
            if online:
                # Connectivity came back: try at once instead of waiting out backoff.
                self._retry_at = 0.0
                self._backoff.reset()
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
        self._files.remove_spool()

    def status(self) -> Dict[str, Any]:
        with self._cond:
            retry_in = max(0.0, round(self._retry_at - time.monotonic(), 1))
            return {
                "queued": len(self._outbox) + (1 if self._inflight else 0),
                "dropped": self._outbox.dropped,
                "delivered": self._delivered,
                "spooled": self._files.spooled,
                "online": self._online,
                "retry_in": retry_in if self._retry_at else 0.0,
                "last_delivery": self._files.last(),
                "last_problem": self._last_problem,
                "deletion": files.deletion_state(
                    [d.requested for d in self._deletions], self._files.journal()
                ),
            }

    def journal(self) -> List[Dict[str, Any]]:
        return self._files.journal()

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
            if left and self._target is not None:
                self._files.write_spool(left)
            else:
                self._files.remove_spool()
            self._files.save_journal(self.status())
        except Exception:
            self._logger.exception("Could not write the spool at shutdown")
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
        with self._cond:
            if self._stopping:
                return False
            deletion = self._due_deletion()
            report = None if deletion else self._next_or_wait()
            if report is None:
                backlog = bool(len(self._outbox))
            else:
                self._inflight, generation, target = (
                    report,
                    self._generation,
                    self._target,
                )
        if deletion is not None:
            self._delete(deletion)
            return True
        if report is None:
            self._maintain(backlog)
            return True
        try:
            outcome, status, delay = self._client.deliver(
                report, target, self._options.max_age, short=self._flushing
            )
        except Exception:
            # Never leave a report "in flight" forever: journal it as undeliverable.
            self._logger.exception(f"Could not send {report.name}")
            outcome, status, delay = "rejected", None, None
        if outcome == "delivered":
            # Before the journal says so: whoever sees the delivery may also ask the
            # server to delete it.
            try:
                self._files.mark_delivered(target.instance_address)
            except Exception:
                self._logger.exception("Could not update the delivery record")
        with self._cond:
            self._inflight = None
            if generation == self._generation:
                self._settle(report, outcome, status, delay)
            self._cond.notify_all()
            backlog = bool(len(self._outbox))
        self._maintain(backlog)
        return True

    def _due_deletion(self) -> Optional[Deletion]:
        """The deletion request to send now, if any. Called with the lock held."""
        if self._deletions and self._may_send() and time.monotonic() >= self._retry_at:
            return self._deletions[0]
        return None

    def _may_send(self) -> bool:
        return self._online and not self._silenced

    def _next_or_wait(self) -> Optional[Report]:
        """The next report to send, or None after waiting for something to do.
        Called with the lock held."""
        now = time.monotonic()
        if self._online and len(self._outbox) and now >= self._retry_at:
            return self._outbox.popleft()
        waits = []
        if (len(self._outbox) and self._online) or (self._deletions and self._may_send()):
            waits.append(self._retry_at - now)
        if len(self._outbox) and not self._flushing:
            waits.append(self._options.spool_interval)
        if self._files.journal_dirty:
            waits.append(files.JOURNAL_SAVE_INTERVAL)
        self._worker_idle = True
        try:
            self._cond.wait(max(0.01, min(waits)) if waits else None)
        finally:
            self._worker_idle = False
        return None

    def _delete(self, deletion: Deletion) -> None:
        """One try at a deletion request; booked like a report's, but kept until the
        server answers, whatever happens to the queue meanwhile."""
        try:
            outcome, status, delay = self._client.delete(deletion.address)
        except Exception:
            self._logger.exception("Could not send the deletion request")
            outcome, status, delay = "retry", None, None
        with self._cond:
            if outcome == "retry":
                wait = self._backoff.next() if delay is None else delay
                self._retry_at = time.monotonic() + wait
                self._last_problem = {
                    "time": time.time(), "report": deletion.name, "status": status,
                }  # fmt: skip
                return
            # Answered: never taken up again, though its file is still there for a
            # moment (the tick lists the files, and reads them without this lock).
            self._answered.add(deletion.key)
            if outcome == "confirmed":
                self._backoff.reset()
                self._retry_at = 0.0
                self._last_problem = None
            self._files.record(deletion, outcome, status)
        try:
            # The answer on disk first: once the request's file is gone, the journal
            # is the only place that holds it (a crash must not turn "confirmed"
            # into "none requested").
            self._files.save_journal(self.status(), durable=True)
        except Exception:
            # Then the file stays: the request is sent again at the next start,
            # rather than its answer lost.
            self._logger.warning("Could not save the answer to the deletion request")
        else:
            files.remove_deletion_request(self._files.folder, deletion.key)
        with self._cond:
            # Waiting until its file is gone: the status says "requested" until then.
            self._deletions = [d for d in self._deletions if d.key != deletion.key]
        self._logger.info(f"The tracking server answered the deletion request: {outcome}")

    def _settle(self, report: Report, outcome: str, status, delay) -> None:
        """Book the outcome of one try. Called with the lock held."""
        problem = {"time": time.time(), "report": report.name, "status": status}
        if outcome == "retry":
            self._outbox.appendleft(report)
            wait = self._backoff.next() if delay is None else delay
            self._retry_at = time.monotonic() + wait
            self._last_problem = problem
            return
        if outcome == "withheld":
            return
        if outcome == "delivered":
            self._delivered += 1
            self._backoff.reset()
            self._retry_at = 0.0
            # A problem is current until the server takes something again: shown after
            # a recovery, it would contradict what the journal and the settings say.
            self._last_problem = None
        else:
            self._last_problem = problem
        self._files.record(report, outcome, status)

    def _maintain(self, backlog: bool) -> None:
        if self._stopping:
            return  # shutdown() has written the final spool: never overwrite it
        self._files.maintain(
            backlog, self._pending, lambda: self._generation, self.status
        )

    def _pending(self):
        with self._cond:
            return self._outbox.pending(), self._generation
