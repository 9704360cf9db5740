"""Intake: one report from request to acknowledgement.

Request fields -> validated ``Report`` (with country and city, never the address)
-> admission (held or not) -> the writer -> wait for the commit that holds it ->
answer. Acknowledged means stored: a report is answered only after its commit, and
one that cannot be committed in time is answered 503 and not acknowledged.

Shared by the Flask routes and the WSGI fast path, so the rules live here once.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import Any, Callable, Optional, Union

from ..ops import metrics
from ..settings import Config
from ..store import Pending, Report, Stored, WriterClosed
from . import validation as v
from .address import GeoLookup, client_ip, parse_networks

log = logging.getLogger(__name__)

# The ingest hook of issue 13: called per valid report with the client address
# (before it is dropped) and the User-Agent; returns (held reason, cohort), None, or
# a decision the writer completes when it stores the report (Pending).
AdmissionHook = Callable[
    [Report, Any, Optional[str]],
    Union[Optional[tuple[Optional[str], Optional[str]]], Pending],
]
# Told about each decided report whose instance row the writer created (an id its
# process thought known, forgotten elsewhere meanwhile): completes the decision.
Recreated = Callable[[Report, Optional[str]], Optional[Stored]]


def read_body(stream: Any, limit: int) -> bytes:
    """Read up to ``limit`` bytes; a single read() may legally return fewer."""
    chunks, size = [], 0
    while size < limit:
        chunk = stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_fields(
    method: str,
    query_string: bytes,
    length: int | None,
    mimetype: Callable[[], str],
    stream: Callable[[], Any],
) -> dict[str, str]:
    """The report's fields from the query string and, for POST, the body."""
    if len(query_string) > v.MAX_QUERY_BYTES:
        raise v.ValidationError(413, "query_too_large", "query string exceeds 64 KiB")
    if length is not None and length > v.MAX_BODY_BYTES:
        raise v.ValidationError(413, "body_too_large", "request body exceeds 64 KiB")
    pairs = v.parse_pairs(query_string, "query string")
    if method == "POST":
        if mimetype() not in v.FORM_TYPES:
            raise v.ValidationError(
                400,
                "unsupported_content_type",
                "body must be application/x-www-form-urlencoded",
            )
        # OctoPrint posts an urlencoded str with requests, which sends no
        # Content-Type, so the raw body is parsed whatever the header says.
        # (No MAX_CONTENT_LENGTH on the app: Werkzeug would silently truncate
        # chunked bodies at the limit; one byte past it is read to answer 413.)
        body = read_body(stream(), v.MAX_BODY_BYTES + 1)
        if len(body) > v.MAX_BODY_BYTES:
            raise v.ValidationError(413, "body_too_large", "request body exceeds 64 KiB")
        body_pairs = v.parse_pairs(body, "body")
        if len(pairs) + len(body_pairs) > v.MAX_FIELDS:
            raise v.ValidationError(
                400, "too_many_fields", f"at most {v.MAX_FIELDS} fields are allowed"
            )
        pairs += body_pairs
    return v.fields(pairs)


class Intake:
    """Validates, locates, admits and stores reports; forgets instances."""

    def __init__(
        self,
        config: Config,
        clock: Callable[[], float],
        geo: GeoLookup,
        writer: Any,
        admission: AdmissionHook | None = None,
        refused: Callable[[str], None] = lambda code: None,
        recreated: Recreated | None = None,
    ):
        self.config = config
        self.clock = clock
        self.geo = geo
        self.trusted = parse_networks(config.trusted_proxies)
        self.writer = writer
        self.admission = admission
        # What follows a commit (the admission's cache of known ids, the hold of a
        # source past its budget) is the writer's after-commit hook; only this
        # waits for a second commit before the answer.
        self.recreated = recreated
        # Each refusal's code also goes to ``refused`` (the transparency ledger's
        # in-memory tally).
        self.record = metrics.counted(self._record, refused)

    def _record(
        self,
        instance: str,
        event: str,
        method: str,
        query_string: bytes,
        length: int | None,
        mimetype: Callable[[], str],
        stream: Callable[[], Any],
        remote_addr: str | None,
        forwarded_for: str | None,
        user_agent: str | None,
    ) -> None:
        """Validate, locate and store one report (GET or POST); ValidationError if
        not. ``record`` is this, counted for /metrics."""
        instance = v.instance_id(instance)
        event = v.event_name(event)
        fields = read_fields(method, query_string, length, mimetype, stream)
        age = v.age_seconds(fields.pop("age", None), self.config.max_age_seconds)
        # The address is resolved, geolocated and shown to the admission hook in
        # this one scope and never assigned to anything that outlives the request.
        address = client_ip(remote_addr, forwarded_for, self.trusted)
        country, city = self.geo.lookup(address)
        report = Report(
            instance=instance,
            event=event,
            ts=self.clock() - age,
            version=v.version_from(fields, user_agent),
            country=country,
            city=city,
            fields=fields,
        )
        report = self.admit(report, address, user_agent)
        del address
        stored = self._submit(self.writer.add, report)
        if report.pending is None and stored.new and self.recreated is not None:
            try:
                self.recreated(report, user_agent)
            except Exception:
                # The report is stored: it is acknowledged whatever the follow-up.
                log.exception("Admission follow-up failed")

    def admit(self, report: Report, address: Any, user_agent: str | None) -> Report:
        """Apply the admission hook (issue 13); a failing hook holds nothing."""
        if self.admission is None:
            return report
        try:
            verdict = self.admission(report, address, user_agent)
        except Exception:
            log.exception("Admission hook failed; report admitted unchanged")
            return report
        if not verdict:
            return report
        if isinstance(verdict, Pending):
            return replace(report, cohort=verdict.source, pending=verdict)
        held, cohort = verdict
        return replace(report, held=held or None, cohort=cohort or None)

    def forget(self, instance: str) -> None:
        """``DELETE /track/<id>/``: every trace of the instance, once committed."""
        instance = v.instance_id(instance)
        now = self.clock()
        self._submit(lambda i: self.writer.forget(i, now), instance)

    def _submit(self, operation: Callable[[Any], Future], argument: Any) -> Any:
        """Hand work to the writer and wait until it is committed (ack == stored);
        its result."""
        try:
            future = operation(argument)
        except WriterClosed:
            raise v.ValidationError(
                503, "shutting_down", "collector is shutting down"
            ) from None
        try:
            return future.result(timeout=self.config.ack_timeout)
        except FutureTimeout:
            raise v.ValidationError(
                503, "store_unavailable", "report not stored in time, retry later"
            ) from None
        except Exception:
            log.exception("Store write failed")
            raise v.ValidationError(
                503, "store_unavailable", "report could not be stored, retry later"
            ) from None
