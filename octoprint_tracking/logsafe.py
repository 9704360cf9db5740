"""Keeps the instance id and the tracking server out of ``octoprint.log``.

Our own code never logs them. urllib3, which requests uses, logs every request line
(with the id in its path) and the server's host when OctoPrint runs with debug logging
for it; this filter rewrites those records before any handler sees them.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Iterable, List
from urllib.parse import urlsplit

LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "requests")
REDACTED = "<redacted>"
#: Any instance id (a UUID, as this plugin makes them), whichever: also one from
#: before a Reset ID or a restart, which the filter was never told about.
_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)


class RedactFilter(logging.Filter):
    def __init__(self):
        super().__init__()
        self._secrets: List[str] = []
        self._lock = threading.Lock()

    @property
    def secrets(self) -> List[str]:
        return self._secrets

    def add(self, values: Iterable[str]) -> None:
        """Redact these from now on, besides everything added before: an id, a
        server (a template) or an instance's address, each URL with its host."""
        with self._lock:
            out = set(self._secrets)
            for value in values:
                out.add(value)
                if "://" in value:
                    try:
                        host = urlsplit(
                            value.replace("{id}", "x").replace("{event}", "x")
                        ).hostname
                    except ValueError:
                        host = None
                    if host:
                        out.add(host)
            # Longest first, so a URL is replaced before its host.
            self._secrets = sorted(out, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        redacted = _UUID.sub(REDACTED, message)
        for secret in self._secrets:
            redacted = redacted.replace(secret, REDACTED)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True

    def install(self) -> None:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)
