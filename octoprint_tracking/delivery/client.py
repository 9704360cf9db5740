"""One try at sending: the consent gate of the moment, the report's age, and one
keep-alive HTTP session with short timeouts."""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Optional, Tuple

import requests

from ..core import consent
from ..core.model import Report
from . import protocol
from .protocol import Target

#: Older than this (seconds), a report carries its ``age``.
AGE_THRESHOLD = 60


class Client:
    def __init__(self, user_agent: str, timeout: float, logger: logging.Logger):
        self.timeout = timeout
        self._logger = logger
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent

    def deliver(
        self, report: Report, target: Optional[Target], max_age: float, short: bool
    ) -> Tuple[str, Optional[int], Optional[float]]:
        """One try under ``target``'s consent (``short``: the shutdown flush's
        timeout). Returns (outcome, http status, retry delay or None)."""
        gated, outcome = sendable(report, target, max_age)
        if gated is None or target is None:
            return outcome, None, None
        timeout = max(0.1, min(self.timeout, 1.5)) if short else self.timeout
        outcome, status, delay = self.send(gated, target.url_for(report.name), timeout)
        if outcome == "delivered":
            report.fields = dict(gated.fields)  # the journal shows what was really sent
        return outcome, status, delay

    def send(
        self, report: Report, url: str, timeout: float
    ) -> Tuple[str, Optional[int], Optional[float]]:
        """One try. Returns (outcome, http status, retry delay or None)."""
        body = protocol.encode(report.fields)
        try:
            if report.post:
                response = self._session.post(
                    url,
                    data=body,
                    timeout=timeout,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            else:
                response = self._session.get(url, params=body, timeout=timeout)
            response.close()
        except requests.RequestException as exc:
            # Never log the URL: it holds the instance id.
            self._logger.debug(f"Could not send {report.name}: {type(exc).__name__}")
            return "retry", None, None
        headers: Dict[str, Any] = response.headers
        outcome, delay = protocol.outcome(response.status_code, headers, time.time())
        if outcome == "delivered":
            self._logger.debug(f"Sent tracking report {report.name}")
        return outcome, response.status_code, delay

    def forget(self, url: str) -> bool:
        """Ask the server, best effort and once, to delete an old instance's data.
        Returns whether it said yes."""
        try:
            response = self._session.delete(url, timeout=self.timeout)
            response.close()
            return response.ok
        except requests.RequestException:
            self._logger.debug("Could not ask the server to forget an old id")
            return False


def sendable(
    report: Report, target: Optional[Target], max_age: float
) -> Tuple[Optional[Report], str]:
    """The report as it may go out now, or None and why not (``withheld``: switched
    off, not allowed or not consented; ``expired``: too old to mean anything)."""
    if target is None:
        return None, "withheld"
    age = time.time() - report.created
    if age > max_age:
        return None, "expired"
    if age > AGE_THRESHOLD:
        report = Report(report.name, {**report.fields, "age": int(age)}, report.created)
    gated = consent.gate(report, target.config)
    return gated, "withheld" if gated is None else "ok"
