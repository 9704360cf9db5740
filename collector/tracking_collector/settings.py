"""The collector's settings, each declared once: name, type, default, environment
variable, command-line flag, help and the range it must lie in.

:class:`Config` is the table: one dataclass field per setting, whose metadata says
everything else about it (like the struct of Syncthing's usage-report server,
whose fields carry their environment name and default). ``Config.from_env``, the
click options of every ``tracking-collector`` command (:func:`options`) and the
checks of a ``Config`` built in code all read these fields, so a setting cannot
have one default in the CLI and another in the environment.

Importing this module imports neither Flask nor prometheus_client: gunicorn's
master reads its settings through it (see ``gunicorn_conf``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

from .store import Store, open_store
from .timefmt import DAY
from .trust.policy import Policy

ENV_PREFIX = "TRACKING_COLLECTOR_"
DEFAULT_DB = "tracking-collector.sqlite"

# Which commands offer a setting as a flag: every command opens the store, only
# ``serve`` runs the app. A setting without a command is read from the
# environment only (secrets, which ``ps`` would show; gunicorn's own settings).
ALL = ("serve", "store")
SERVE = ("serve",)
ENVIRONMENT = ()


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def setting(
    default: Any,
    help: str,
    *,
    commands: tuple[str, ...] = SERVE,
    flag: str | None = None,
    minimum: float | None = None,
    above: float | None = None,
    choices: tuple[str, ...] = (),
    many: bool = False,
    kind: type | None = None,
) -> Any:
    """One setting: a dataclass field whose metadata the environment, the CLI and
    the checks read. ``minimum``/``above``: the value must be >= / > it. ``many``:
    a list (comma separated in the environment, a repeatable flag)."""
    meta = {
        "help": help,
        "commands": commands,
        "flag": flag,
        "minimum": minimum,
        "above": above,
        "choices": choices,
        "many": many,
        "kind": kind or (str if default is None or many else type(default)),
    }
    if many:
        return dataclasses.field(default_factory=list, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass
class Config:
    """Everything a collector process is told; defaults are the README's."""

    db: str = setting(
        DEFAULT_DB,
        "SQLite database file, or a postgresql:// URL (several collectors can share"
        " one PostgreSQL).",
        commands=ALL,
    )
    pool_size: int = setting(
        10, "PostgreSQL connections per process (ignored for SQLite).", commands=ALL,
        minimum=1,
    )  # fmt: skip
    retention_days: float = setting(
        90.0, "Delete reports older than this.", commands=ALL, above=0
    )
    # The lifetime rule applies wherever rollups are computed, so every command
    # that opens the store takes it (release and copy recompute rollups).
    min_lifetime: float = setting(
        Policy.min_lifetime,
        "Seconds from first to last report below which a silent instance stays out"
        " of trends.",
        commands=ALL,
        minimum=0,
    )
    gone_after: float = setting(
        Policy.gone_after,
        "Seconds of silence after which a short-lived instance counts as gone.",
        commands=ALL,
        minimum=0,
    )
    # SQLite PRAGMA synchronous / PostgreSQL synchronous_commit, see the README.
    synchronous: str = setting(
        "NORMAL",
        "NORMAL: an acknowledged report survives a crash of the collector; FULL:"
        " also a power cut or OS crash (SQLite synchronous; PostgreSQL"
        " synchronous_commit off / server default).",
        commands=ALL,
        choices=("NORMAL", "FULL"),
    )
    geoip: str | None = setting(
        None, "GeoLite2 City .mmdb file (country/city are 'unknown' without)."
    )
    trusted_proxies: list[str] = setting(
        None,
        "Proxy IP or CIDR whose X-Forwarded-For is believed (repeatable; env: comma"
        " separated).",
        flag="--trusted-proxy",
        many=True,
    )
    host: str = setting("127.0.0.1", "Address of the dev server.")
    port: int = setting(8989, "Port of the dev server.")
    min_group: int = setting(
        10,
        "Groups with fewer instances are not shown on their own but folded into a"
        " numeric remainder.",
        minimum=1,
    )
    purge_interval: float = setting(
        3600.0, "Seconds between background retention purges.", above=0
    )
    refresh_interval: float = setting(
        5.0,
        "Seconds between rollup refreshes (the dashboard lags ingest by this much).",
        above=0,
    )
    stats_cache: float = setting(
        5.0, "Seconds a computed /api/stats answer is reused (0: none).", minimum=0
    )
    # ``age`` dates a report back at most this far (and never beyond retention).
    max_age_days: float = setting(
        7.0, "How far the 'age' field may date a report back.", minimum=0
    )
    new_ids_per_source: int = setting(
        Policy.new_ids_per_source,
        "New instance ids one network may create per UTC day before its new ids are"
        " held (0: off).",
        minimum=0,
    )
    plausibility: bool = setting(
        Policy.plausibility, "Hold instances that report impossible environments."
    )
    ack_timeout: float = setting(
        10.0,
        "Seconds a request waits for its commit before answering 503.",
        commands=ENVIRONMENT,
    )
    # Only from the environment: a token on the command line would show in ps.
    admin_token: str | None = setting(
        None,
        "Token of the admin page /admin/suspects (none: the page does not exist).",
        commands=ENVIRONMENT,
    )
    # gunicorn_conf's own settings.
    bind: str = setting(
        "127.0.0.1:8989", "Address gunicorn binds to.", commands=ENVIRONMENT
    )
    # 3 x 16 measured best on 2 cores (benchmark row 7: ~3,700 reports/s against
    # ~2,700 for 2 x 16 or 2 x 32, and 3 x 8 or 4 x 8 were worse).
    workers: int = setting(
        3, "gunicorn worker processes.", commands=ENVIRONMENT, minimum=1
    )
    # Each request thread waits for the commit holding its report; the writer
    # thread commits whatever queued up meanwhile, so more threads mean bigger
    # group commits.
    threads: int = setting(
        16, "Request threads per gunicorn worker.", commands=ENVIRONMENT, minimum=1
    )

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            meta = spec.metadata
            value = getattr(self, spec.name)
            if meta["many"]:
                # "a,b" and ["a", "b"] alike: the environment's form and the flag's.
                value = [p.strip() for s in value for p in str(s).split(",") if p.strip()]
            elif meta["choices"]:
                value = str(value).upper()
                if value not in meta["choices"]:
                    raise ValueError(f"{spec.name} must be one of {meta['choices']}")
            if meta["minimum"] is not None and value < meta["minimum"]:
                raise ValueError(f"{spec.name} must be at least {meta['minimum']}")
            if meta["above"] is not None and value <= meta["above"]:
                raise ValueError(f"{spec.name} must be above {meta['above']}")
            setattr(self, spec.name, value)

    @property
    def retention_seconds(self) -> float:
        return self.retention_days * DAY

    @property
    def max_age_seconds(self) -> float:
        return min(self.max_age_days, self.retention_days) * DAY

    def policy(self) -> Policy:
        """The admission policy these settings describe."""
        return Policy(
            new_ids_per_source=self.new_ids_per_source,
            min_lifetime=self.min_lifetime,
            gone_after=self.gone_after,
            plausibility=self.plausibility,
        )

    def open_store(self, db: str | None = None) -> Store:
        """The store at ``db`` (default: the configured one), opened as every
        process and command of this collector opens it: with its lifetime rule."""
        return open_store(
            db or self.db,
            synchronous=self.synchronous,
            pool_size=self.pool_size,
            lifetime=self.policy().lifetime,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Config:
        """Settings from TRACKING_COLLECTOR_* variables; ``overrides`` that are not
        None win (the CLI's values)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            raw = env.get(env_name(spec.name))
            if raw not in (None, ""):
                values[spec.name] = _parse(spec.metadata, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _parse(meta: Mapping[str, Any], raw: str) -> Any:
    if meta["many"]:
        return [raw]
    kind: Callable[[str], Any] = _flag if meta["kind"] is bool else meta["kind"]
    return kind(raw)


def _click_option(spec: dataclasses.Field) -> Callable:
    import click

    meta = spec.metadata
    name = spec.name.replace("_", "-")
    common = {
        "envvar": env_name(spec.name),
        "help": meta["help"],
        "show_default": True,
    }
    if meta["kind"] is bool:
        return click.option(
            f"--{name}/--no-{name}", spec.name, default=spec.default, **common
        )
    if meta["many"]:
        return click.option(
            meta["flag"] or f"--{name}", spec.name, multiple=True, **common
        )
    kind: Any = meta["kind"]
    if meta["choices"]:
        kind = click.Choice(meta["choices"], case_sensitive=False)
    elif meta["minimum"] is not None or meta["above"] is not None:
        low = meta["minimum"] if meta["minimum"] is not None else meta["above"]
        bounded = click.IntRange if kind is int else click.FloatRange
        kind = bounded(min=low, min_open=meta["above"] is not None)
    return click.option(
        meta["flag"] or f"--{name}", spec.name, type=kind, default=spec.default, **common
    )


def options(command: str) -> Callable:
    """Decorator: the click options of ``command`` ("serve", or "store" for every
    command that only opens the store), in the table's order."""
    specs: Sequence[dataclasses.Field] = [
        s for s in dataclasses.fields(Config) if command in s.metadata["commands"]
    ]

    def decorate(f: Callable) -> Callable:
        for spec in reversed(specs):
            f = _click_option(spec)(f)
        return f

    return decorate
