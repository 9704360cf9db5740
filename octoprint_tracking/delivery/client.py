"""The HTTP client of delivery: one keep-alive session, short timeouts, one try per call."""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Optional, Tuple

import requests

from ..core.model import Report
from . import protocol


class Client:
    def __init__(self, user_agent: str, timeout: float, logger: logging.Logger):
        self.timeout = timeout
        self._logger = logger
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent

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
