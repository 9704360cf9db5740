"""Delivery's files in the plugin's data folder: spool, journal, status and deletion
requests.

This module writes them and is the only one that reads them: the worker through
``Files``, the CLI (another process on the same basedir) through the readers below.

The delivery record (``delivered.json``) keeps a hash of each instance address that
ever took a report: only there does a server hold something to delete.

A deletion request is a file of its own (``deletion-<time>-<random>.json``): written by
whoever asks (the server's API or the CLI, through ``actions.request_deletion``), sent
by the server's worker, removed by it when the server has answered. One file per
request, so that two processes never write the same file, and the "off" that empties
the report spool never touches it.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ..core.address import address_allowed
from ..core.model import Report
from .protocol import Deletion

SPOOL_FORMAT = "octoprint-usage-tracking-spool"
SPOOL_NAME = "spool.json"
JOURNAL_NAME = "journal.json"
STATUS_NAME = "status.json"
DELETION_FORMAT = "octoprint-usage-tracking-deletion-request"
DELETION_PREFIX = "deletion-"
JOURNAL_SIZE = 100
DELIVERED_NAME = "delivered.json"
DELIVERED_FORMAT = "octoprint-usage-tracking-delivered"
#: Addresses kept in the delivery record (a new id or server adds one).
DELIVERED_SIZE = 32
#: The journal is for people: written at most once a second.
JOURNAL_SAVE_INTERVAL = 1.0


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


def _read_json(path: str, default: Any) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


# Readers (also for the CLI) ----------------------------------------------------------


def read_journal(folder: str) -> List[Dict[str, Any]]:
    """The journal's entries, oldest first (at most ``JOURNAL_SIZE``)."""
    data = _read_json(os.path.join(folder, JOURNAL_NAME), [])
    if not isinstance(data, list):
        return []
    return [e for e in data if isinstance(e, dict)][-JOURNAL_SIZE:]


def read_status(folder: str) -> Dict[str, Any]:
    """The counts a running server last wrote (no id, no server)."""
    data = _read_json(os.path.join(folder, STATUS_NAME), {})
    return data if isinstance(data, dict) else {}


def spooled_count(folder: str) -> int:
    data = _read_json(os.path.join(folder, SPOOL_NAME), {})
    reports = data.get("reports") if isinstance(data, dict) else None
    return len(reports) if isinstance(reports, list) else 0


def _unlink_quietly(path: str) -> None:
    """Delete ``path`` if it is there; raises OSError if it cannot be deleted."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_spool(folder: str) -> None:
    """Delete the spool; raises OSError if it exists and cannot be deleted."""
    _unlink_quietly(os.path.join(folder, SPOOL_NAME))


def _address_key(address: str) -> str:
    # A hash: the record says where something went without holding the id itself.
    return hashlib.sha256(address.encode("utf-8")).hexdigest()


def read_delivered(folder: str) -> Optional[List[str]]:
    """The delivery record: the keys of the addresses that took a report, oldest
    first; None when there is none (an install from before it was kept)."""
    data = _read_json(os.path.join(folder, DELIVERED_NAME), None)
    if not isinstance(data, dict) or data.get("format") != DELIVERED_FORMAT:
        return None
    keys = data.get("addresses")
    if not isinstance(keys, list):
        return None
    return [k for k in keys if isinstance(k, str)]


def _write_delivered(folder: str, keys: List[str]) -> None:
    data = {"format": DELIVERED_FORMAT, "addresses": keys[-DELIVERED_SIZE:]}
    write_atomically(os.path.join(folder, DELIVERED_NAME), data)


def mark_delivered(folder: str, address: str) -> None:
    """Record that ``address`` (an instance's address on a server) took a report."""
    keys = read_delivered(folder) or []
    key = _address_key(address)
    if key not in keys:
        _write_delivered(folder, keys + [key])


def start_delivery_record(folder: str) -> None:
    """A new instance id: from now on the record says exactly where it delivered
    (nowhere yet), also on an install whose record was not kept before."""
    if read_delivered(folder) is None:
        _write_delivered(folder, [])


def delivered_to(folder: str, address: str) -> bool:
    """Whether ``address`` ever took a report. Only then does the server hold
    something about the instance, and only then may its id go there to ask that it
    be deleted."""
    keys = read_delivered(folder)
    if keys is None:
        # An install from before the record: its journal says whether it delivered.
        return any(e.get("outcome") == "delivered" for e in read_journal(folder))
    return _address_key(address) in keys


def write_deletion_request(folder: str, address: str) -> str:
    """Keep a request that the server forget the instance at ``address`` (durable at
    once: it must survive a power cut like the spool). Returns its key.

    One request per address: asked again while one is waiting (the owner saved
    Settings twice, or said it in the CLI too), the waiting one is the answer. Its
    ``DELETE`` goes after every report sent to that address, which the "off" before
    the asking has stopped."""
    for key in deletion_requests(folder):
        try:
            waiting = read_deletion_request(folder, key)
        except OSError:
            continue
        if waiting is not None and waiting.address == address:
            return key
    key = f"{DELETION_PREFIX}{time.time_ns()}-{secrets.token_hex(4)}.json"
    data = {"format": DELETION_FORMAT, "address": address, "requested": time.time()}
    write_atomically(os.path.join(folder, key), data)
    return key


def deletion_requests(folder: str) -> List[str]:
    """The keys of the waiting deletion requests, oldest first."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(
        n for n in names if n.startswith(DELETION_PREFIX) and n.endswith(".json")
    )


def read_deletion_request(folder: str, key: str) -> Optional[Deletion]:
    """The request kept under ``key``, or None if it is not one (a foreign or broken
    file is never sent anywhere). Raises ``OSError`` when it cannot be read now: the
    owner's request is not lost to a passing error of the system (EMFILE, EIO);
    ``FileNotFoundError``: it is gone (answered meanwhile)."""
    with open(os.path.join(folder, key), "rb") as f:
        raw = f.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        data = None
    if not isinstance(data, dict) or data.get("format") != DELETION_FORMAT:
        return None
    address, requested = data.get("address"), data.get("requested")
    if not address_allowed(address) or not isinstance(requested, (int, float)):
        return None
    return Deletion(key, address, float(requested))


def remove_deletion_request(folder: str, key: str) -> None:
    _unlink_quietly(os.path.join(folder, key))


def deletion_state(
    waiting: List[float], journal: List[Dict[str, Any]]
) -> Optional[Dict[str, Any]]:
    """Where the owner's latest deletion request stands: ``requested`` (``waiting``
    holds the request times of those not answered yet), else the server's answer to
    the last one the journal holds (``confirmed``, ``unsupported``, ``rejected``),
    else None. The server's status and the CLI's ``status`` both say it this way."""
    if waiting:
        return {"state": "requested", "requested": max(waiting)}
    for entry in reversed(journal):
        if entry.get("report") == Deletion.name:
            return {
                "state": entry.get("outcome"),
                "time": entry.get("time"),
                "status": entry.get("status"),
            }
    return None


def read_deletion_state(folder: str) -> Optional[Dict[str, Any]]:
    """``deletion_state`` from the files, for the CLI."""
    waiting = []
    for key in deletion_requests(folder):
        try:
            deletion = read_deletion_request(folder, key)
        except OSError:
            continue  # answered meanwhile
        if deletion is not None:
            waiting.append(deletion.requested)
    return deletion_state(waiting, read_journal(folder))


def load_spool(folder: str, logger: logging.Logger) -> List[Report]:
    """Reports from the spool file. A corrupt, truncated or foreign file is moved
    aside with a warning; a report in it that the catalog does not know is skipped."""
    path = os.path.join(folder, SPOOL_NAME)
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


# Writer (the worker) ----------------------------------------------------------------


class Files:
    """The worker's side: the journal (in memory and on disk), the spool and the
    status file. The journal has its own lock; everything else runs on the worker."""

    def __init__(self, folder: str, logger: logging.Logger, spool_interval: float):
        self.folder = folder
        self._logger = logger
        self._spool_interval = spool_interval
        self._lock = threading.Lock()
        self._journal: Deque[Dict[str, Any]] = collections.deque(
            read_journal(folder), maxlen=JOURNAL_SIZE
        )
        self._journal_dirty = False
        self._journal_saved = 0.0
        self._marked: set = set()
        """Addresses recorded as delivered in this run: the record is written once
        per address, not per report."""
        self.spooled = 0
        self._spool_written = 0.0
        self._backlog_since = 0.0

    @property
    def spool_path(self) -> str:
        return os.path.join(self.folder, SPOOL_NAME)

    # journal ----------------------------------------------------------------------

    def record(self, item, outcome: str, status: Optional[int]) -> None:
        """Journal a report or a deletion request (which has no fields)."""
        entry = {
            "time": time.time(),
            "report": item.name,
            "fields": {k: str(v) for k, v in item.fields.items()},
            "outcome": outcome,
            "status": status,
        }
        with self._lock:
            self._journal.append(entry)
            self._journal_dirty = True

    def journal(self) -> List[Dict[str, Any]]:
        with self._lock:
            return list(self._journal)

    def last(self) -> Optional[Dict[str, Any]]:
        with self._lock:
            return self._journal[-1] if self._journal else None

    @property
    def journal_dirty(self) -> bool:
        return self._journal_dirty

    def save_journal(self, status: Dict[str, Any], durable: bool = False) -> None:
        """``durable``: also through a power cut (the answer to a deletion request,
        whose file goes next: the journal is then the only place that holds it)."""
        with self._lock:
            entries = list(self._journal)
            self._journal_dirty = False
        write_atomically(
            os.path.join(self.folder, JOURNAL_NAME), entries, durable=durable
        )
        self._journal_saved = time.monotonic()
        self.save_status(status)

    def mark_delivered(self, address: str) -> None:
        if address not in self._marked:
            mark_delivered(self.folder, address)
            self._marked.add(address)

    # spool ------------------------------------------------------------------------

    def load_spool(self) -> List[Report]:
        reports = load_spool(self.folder, self._logger)
        self.spooled = len(reports)
        return reports

    def write_spool(self, reports: List[Report]) -> None:
        data = {
            "format": SPOOL_FORMAT,
            "version": 1,
            "reports": [r.as_dict() for r in reports],
        }
        write_atomically(self.spool_path, data)
        self.spooled = len(reports)

    def remove_spool(self) -> None:
        self.spooled = 0
        try:
            remove_spool(self.folder)
        except OSError:
            self._logger.exception("Could not remove the spool file")

    def maintain(
        self,
        backlog: bool,
        pending: Callable[[], Tuple[List[Report], int]],
        generation: Callable[[], int],
        status: Callable[[], Dict[str, Any]],
    ) -> None:
        """Keep the spool in step with a lasting backlog (so that a crash loses little)
        and the journal on disk. ``pending`` gives the queued reports with the purge
        generation they belong to; a purge while writing removes the spool again."""
        try:
            now = time.monotonic()
            if not backlog:
                self._backlog_since = 0.0
                if self.spooled:
                    self.remove_spool()
            elif not self._backlog_since:
                self._backlog_since = now
            elif now - max(self._backlog_since, self._spool_written) >= (
                self._spool_interval
            ):
                reports, written_for = pending()
                if reports:
                    self.write_spool(reports)
                    if written_for != generation():
                        self.remove_spool()  # opted out meanwhile: must not outlive it
                self._spool_written = now
            # The journal is for people: once a second is often enough, and keeps
            # disk writes out of a fast delivery loop.
            if self._journal_dirty and now - self._journal_saved >= JOURNAL_SAVE_INTERVAL:
                self.save_journal(status())
        except Exception:
            self._logger.exception("Could not update the spool or journal")

    def save_status(self, status: Dict[str, Any]) -> None:
        """Counts for the CLI, which runs in another process (no id, no server)."""
        status = {k: v for k, v in status.items() if k != "last_delivery"}
        status["pid"] = os.getpid()
        status["time"] = time.time()
        write_atomically(os.path.join(self.folder, STATUS_NAME), status, durable=False)
