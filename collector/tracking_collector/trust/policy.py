"""The admission policy's knobs and what it decides about a report's instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..store import Lifetime


@dataclass(frozen=True)
class Policy:
    """The knobs of the admission policy (Config / CLI / env set them)."""

    new_ids_per_source: int = 50
    """New instance ids one source may create per UTC day before they are held.
    0 switches the budget off."""

    min_lifetime: float = Lifetime().min_lifetime
    """Seconds between first and last report below which an instance is ephemeral..."""

    gone_after: float = Lifetime().gone_after
    """...once it has not reported for this many seconds. Ephemeral instances are
    kept out of trends (rollups of finished days and the public counts)."""

    plausibility: bool = True
    """Apply the plausibility rules."""

    def __post_init__(self) -> None:
        if self.new_ids_per_source < 0:
            raise ValueError("new_ids_per_source must be 0 (off) or positive")
        if self.min_lifetime < 0 or self.gone_after < 0:
            raise ValueError("lifetimes must not be negative")

    @property
    def lifetime(self) -> Lifetime:
        """The lifetime rule, as the store's rollups apply it."""
        return Lifetime(self.min_lifetime, self.gone_after)


class Decision(NamedTuple):
    """What the admission says about one report's instance; unpacks as the
    ``(held, cohort)`` pair the collector's ingest hook expects."""

    held: str | None
    """None: counts in public numbers; else the reason it is held."""

    cohort: str | None
    """Source hash of this report's network under today's key (None without one)."""
