"""One try at sending: the consent gate of the moment, the report's age, and one
keep-alive HTTP session with short timeouts; one try at a deletion request; and the
owner's one-off question "what does the server hold about me"."""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Optional, Tuple

import requests

from ..core import consent
from ..core.address import instance_url
from ..core.model import Report
from . import protocol
from .protocol import ServerData, Target

#: Older than this (seconds), a report carries its ``age``.
AGE_THRESHOLD = 60
#: The owner waits for the answer in the settings pane (on a request thread of
#: OctoPrint's): a few seconds at most, and never retried.
SERVER_DATA_TIMEOUT = 5.0


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

    def delete(self, address: str) -> Tuple[str, Optional[int], Optional[float]]:
        """One try at a deletion request: ``DELETE`` on the instance's address.
        Returns (outcome, http status, retry delay or None); see
        ``protocol.deletion_outcome``. Redirects are not followed: the id must not be
        carried to another address."""
        try:
            response = self._session.delete(
                address, timeout=self.timeout, allow_redirects=False, stream=True
            )
            # Only a short JSON error is of interest ("unknown_instance").
            body = next(response.iter_content(4096), b"")
            response.close()
        except requests.RequestException as exc:
            # Never log the address: it holds the instance id.
            self._logger.debug(
                f"Could not send the deletion request: {type(exc).__name__}"
            )
            return "retry", None, None
        headers: Dict[str, Any] = response.headers
        outcome, delay = protocol.deletion_outcome(
            response.status_code, headers, body, time.time()
        )
        return outcome, response.status_code, delay


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


def fetch_server_data(
    target: Optional[Target],
    user_agent: str,
    timeout: float = SERVER_DATA_TIMEOUT,
    logger: Optional[logging.Logger] = None,
) -> ServerData:
    """Ask the tracking server, once, what it holds about this instance.

    Only when the owner asks, and only while tracking is on and the server allowed:
    opt-out is absolute, so a switched-off instance asks nothing of anyone (not even
    "what do you have on me", which would tell the server the id is still in use).
    Neither the address nor the id is logged.
    """
    if target is None:
        return ServerData("off", reason="server_not_allowed")
    if not target.config.active:
        return ServerData("off", reason="tracking_off")
    instance = target.config.unique_id
    url = instance_url(target.url, instance)
    logger = logger or logging.getLogger(__name__)
    deadline = time.monotonic() + timeout
    try:
        # Each socket operation gets half the time and the body is read against the
        # deadline: ``timeout`` bounds the whole question, not each step of it.
        # Redirects are not followed: the id must not be carried to another address.
        with requests.get(
            url,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            timeout=timeout / 2,
            stream=True,
            allow_redirects=False,
        ) as response:
            body: Optional[bytes] = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > protocol.SERVER_DATA_LIMIT:
                    body = None
                    break
                if time.monotonic() > deadline:
                    raise requests.Timeout()
            status, headers = response.status_code, response.headers
    except (requests.RequestException, OSError) as exc:
        logger.debug(f"Could not ask the tracking server: {type(exc).__name__}")
        return ServerData("unreachable")
    answer = protocol.server_data_answer(
        instance, status, headers, None if body is None else bytes(body), time.time()
    )
    logger.debug(f"Asked the tracking server what it holds: {answer.state}")
    return answer
