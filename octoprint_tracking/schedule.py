"""What is due at time t: the periodic ping and pong, and a firmware name that did not
come in time. Pure: ``octoprint.util.RepeatedTimer`` drives it through the tracker."""

from __future__ import annotations

from typing import List, Optional

#: How long after connecting the firmware may name itself before ``printer_connected``
#: is sent without a firmware name.
FIRMWARE_WAIT = 15.0


class Schedule:
    def __init__(self, ping: float, pong: float):
        self.ping, self.pong = ping, pong
        self._next_ping = 0.0
        self._next_pong = 0.0

    def restart(self) -> None:
        """Switched on again: a ping at once, the pong on its usual day."""
        self._next_ping = 0.0

    def due(self, now: float, connected_at: Optional[float]) -> List[str]:
        """Names of the reports due at ``now`` (monotonic seconds); books them."""
        out = []
        if now >= self._next_ping:
            self._next_ping = now + self.ping
            out.append("ping")
        if now >= self._next_pong:
            self._next_pong = now + self.pong
            out.append("pong")
        if connected_at is not None and now - connected_at >= FIRMWARE_WAIT:
            out.append("printer_connected")
        return out

    def wait(self, now: float, connected_at: Optional[float]) -> float:
        """Seconds until the next report is due."""
        waits = [self._next_ping - now, self._next_pong - now]
        if connected_at is not None:
            waits.append(FIRMWARE_WAIT - (now - connected_at))
        return max(0.0, min(waits))
