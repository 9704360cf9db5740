"""Collector configuration, read from CLI options or TRACKING_COLLECTOR_* env vars."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

ENV_PREFIX = "TRACKING_COLLECTOR_"
DEFAULT_DB = "tracking-collector.sqlite"


@dataclass
class Config:
    db: str = DEFAULT_DB
    geoip: str | None = None
    retention_days: float = 90.0
    trusted_proxies: list[str] = field(default_factory=list)
    min_group: int = 10
    purge_interval: float = 3600.0
    ack_timeout: float = 10.0
    # SQLite PRAGMA synchronous for the store. NORMAL: a commit survives a crash or
    # kill -9 of the collector, but not necessarily a power cut or OS crash. FULL:
    # every commit is fsynced before it is acknowledged (slower on most disks).
    synchronous: str = "NORMAL"
    # Connections per process to PostgreSQL (ignored for SQLite).
    pool_size: int = 10
    # Seconds between rollup refreshes (each process; they share the work).
    refresh_interval: float = 5.0
    # Seconds a computed /api/stats answer is served again (0: no cache).
    stats_cache: float = 5.0
    # ``age`` dates a report back at most this far (and never beyond retention).
    max_age_days: float = 7.0
    host: str = "127.0.0.1"
    port: int = 8989

    def __post_init__(self) -> None:
        if self.retention_days <= 0:
            raise ValueError("retention_days must be positive")
        if self.min_group < 1:
            raise ValueError("min_group must be at least 1")
        if self.purge_interval <= 0:
            raise ValueError("purge_interval must be positive")
        if self.pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if self.refresh_interval <= 0:
            raise ValueError("refresh_interval must be positive")
        if self.stats_cache < 0:
            raise ValueError("stats_cache must not be negative")
        if self.max_age_days < 0:
            raise ValueError("max_age_days must not be negative")
        self.synchronous = str(self.synchronous).upper()
        if self.synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")

    @property
    def retention_seconds(self) -> float:
        return self.retention_days * 86400.0

    @property
    def max_age_seconds(self) -> float:
        return min(self.max_age_days, self.retention_days) * 86400.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Config:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value not in (None, "") else None

        values: dict = {}
        if get("DB"):
            values["db"] = get("DB")
        if get("GEOIP"):
            values["geoip"] = get("GEOIP")
        if get("RETENTION_DAYS"):
            values["retention_days"] = float(get("RETENTION_DAYS"))
        if get("TRUSTED_PROXIES"):
            values["trusted_proxies"] = [
                p.strip() for p in get("TRUSTED_PROXIES").split(",") if p.strip()
            ]
        if get("MIN_GROUP"):
            values["min_group"] = int(get("MIN_GROUP"))
        if get("PURGE_INTERVAL"):
            values["purge_interval"] = float(get("PURGE_INTERVAL"))
        if get("ACK_TIMEOUT"):
            values["ack_timeout"] = float(get("ACK_TIMEOUT"))
        if get("SYNCHRONOUS"):
            values["synchronous"] = get("SYNCHRONOUS")
        for name, cast in (
            ("POOL_SIZE", int),
            ("REFRESH_INTERVAL", float),
            ("STATS_CACHE", float),
            ("MAX_AGE_DAYS", float),
        ):
            if get(name):
                values[name.lower()] = cast(get(name))
        if get("HOST"):
            values["host"] = get("HOST")
        if get("PORT"):
            values["port"] = int(get("PORT"))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
