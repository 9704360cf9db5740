"""The tracker: the settings snapshot, the host state and the outbox, put together.

The plugin class hands it OctoPrint's events and calls; a ``RepeatedTimer`` calls
``tick`` for the periodic reports and the config.yaml watch. It hands the delivery
worker a snapshot of where and what it may send, and never gets called back.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any, Dict, List, Optional

from . import actions, host, secret, settings
from .core import builders, catalog, consent, events, preview
from .core.address import is_loopback, server_allowed
from .core.builders import firmware_timeout, ping
from .core.model import HostState, Report, make
from .core.policy import Policy
from .delivery import Delivery, Options, Target, files
from .delivery.client import fetch_server_data
from .logsafe import RedactFilter
from .schedule import Schedule

#: Longest pause of the timer: how soon a change to config.yaml by the CLI is noticed.
WATCH_INTERVAL = 2.0
#: More web UI loads than this in a minute are refused (429): a page load is a
#: report, and a script could otherwise push real reports out of the queue.
WEBUI_LOADS_PER_MINUTE = 30
#: How long the preview waits for a pong built now (it counts the uploads).
PREVIEW_WAIT = 3.0


class Tracker:
    def __init__(self, store: actions.PluginSettingsStore, plugin_manager, printer,
                 logger, data_folder, user_agent):  # fmt: skip
        self._store = store
        self._settings = store.plugin_settings
        self._plugin_manager = plugin_manager
        self._printer = printer
        self._logger = logger
        self._folder = data_folder
        self._user_agent = user_agent
        self._ensure_id()  # before the file-hash key is loaded: a new id, a new key
        self._lock = threading.RLock()
        self._started = time.monotonic()
        self._online = True
        self._throttle_checked = False
        self._pong: Optional[Report] = None
        self._pong_thread: Optional[threading.Thread] = None
        self._webui_loads: collections.deque = collections.deque(
            maxlen=WEBUI_LOADS_PER_MINUTE
        )
        self.env_fields: Dict[str, Any] = {}
        self.state = HostState(file_key=secret.load(data_folder))
        self.config = consent.Config()
        self.target: Optional[Target] = None
        self._redact = RedactFilter()
        self._redact.install()
        data = self._store.data()
        self.delivery = Delivery(
            data_folder=data_folder,
            user_agent=user_agent,
            logger=logger,
            options=Options.from_settings(data.get("delivery")),
            redact=self._redact,
        )
        self._schedule = Schedule(*settings.intervals(data))
        self._watch = settings.ConfigWatch(self._settings.settings, logger)
        self.refresh()

    @property
    def policy(self) -> Policy:
        return self._store.policy

    ##~~ settings snapshot

    def refresh(self) -> None:
        """Read the settings once into an immutable snapshot (never on the hot path)
        and hand delivery its new target."""
        data = self._store.data()  # the policy applied, once
        before = self.config
        self.config = settings.snapshot(data, os.environ, self.policy.failed)
        if before.unique_id and before.unique_id != self.config.unique_id:
            # A new id comes with a new file-hash key (Reset ID, also by the CLI).
            self.state.file_key = secret.load(self._folder)
        self._schedule.ping, self._schedule.pong = settings.intervals(data)
        server = data.get("server")
        allowed = server if server_allowed(server) else None
        if server and allowed is None:
            self._logger.warning(
                "The configured tracking server is neither https nor http to a loopback "
                "address; nothing will be sent to it"
            )
        self.target = Target(allowed, self.config) if allowed else None
        self.delivery.set_target(
            self.target if self.config.active else None, silenced=self.config.silenced
        )
        # Added, never replaced: an old id (before "Reset ID") must stay out of the log.
        self._redact.add(s for s in (self.config.unique_id, server) if s)

    def refresh_and_apply(self) -> None:
        """Re-read the settings and act on what changed. Serialised: a request thread
        (settings dialog, API) and the timer (config.yaml watch) may both get here, and
        each change must be acted on once."""
        with self._lock:
            before = self.config
            self._ensure_id()
            self.refresh()
            after = self.config
            if before.active and (
                not after.active or before.unique_id != after.unique_id
            ):
                # Switched off, or a new id (nothing queued under the old one may go
                # out under the new): empty queue and spool.
                self.delivery.purge()
            if before.active and not after.active:
                self._logger.info("Usage tracking switched off: queue and spool emptied")
            elif after.active and not before.active:
                self._logger.info("Usage tracking switched on")
                self._schedule.restart()
                self.queue(self.environment_report("startup"))
            self.set_online(self._online)

    ##~~ the host's thread: a dict look-up, a pure builder, a queue append

    def on_event(self, event: str, payload: Any) -> None:
        if event == "ConnectivityChanged":
            new = payload.get("new") if isinstance(payload, dict) else None
            if isinstance(new, bool):
                self.set_online(new)
            return
        if self.config.active:
            self.queue(events.build(self.state, event, payload))

    def queue(self, report: Optional[Report]) -> None:
        report = consent.gate(report, self.config)
        if report is not None:
            self.delivery.put(report)

    def set_online(self, online: bool) -> None:
        # OctoPrint's connectivity check is about the internet; a collector on this
        # machine is reachable either way.
        self._online = online
        local = self.target is not None and is_loopback(self.target.url)
        self.delivery.set_online(online or local)

    def webui_load(self, payload: Any) -> Optional[int]:
        """Queue a web UI load; an HTTP error code if refused, else None."""
        report = builders.webui_load(payload)
        if report is None:
            return 400
        now = time.monotonic()
        loads = self._webui_loads
        if len(loads) == loads.maxlen and now - loads[0] < 60:
            return 429
        loads.append(now)
        self.queue(report)
        return None

    ##~~ the timer thread (RepeatedTimer): periodic reports and the config watch

    def _ensure_id(self) -> None:
        """A missing or malformed id is replaced (at start and whenever the settings
        change): a malformed one would silence the plugin without a word."""
        if actions.ensure_id(self._store, self._folder) == "malformed":
            # What was there is not logged: it may be an id after all.
            self._logger.warning(
                "The instance id in config.yaml was malformed (not a UUID); "
                "a new random id was made"
            )

    def take_deletions(self) -> None:
        """Take up the deletion requests just written in this process (the API)."""
        self.delivery.take_deletions()

    def tick(self) -> None:
        try:
            # Listed before config.yaml is looked at: the CLI writes its "off" there
            # first and its deletion request after, so a request seen here comes with
            # an "off" that the watch sees below, and the queue is emptied before the
            # DELETE can go (nothing queued before it may follow it).
            waiting = files.deletion_requests(self._folder)
            look = self._watch.look()
            if look is settings.Look.CHANGED:
                self.refresh_and_apply()
            if waiting and look is not settings.Look.DEFERRED:
                # (Deferred: an "off" may be in the change not taken yet.)
                self.delivery.take_deletions(waiting)
            if not self.config.active:
                return
            if not self._throttle_checked:
                self._throttle_checked = True
                self._read_throttle_state()
            now = time.monotonic()
            for name in self._schedule.due(now, self.state.awaiting_firmware_since()):
                self.queue(self._due_report(name))
        except Exception:
            self._logger.exception("Error in the tracking timer")

    def next_wait(self) -> float:
        if not self.config.active:
            return WATCH_INTERVAL
        now = time.monotonic()
        wait = self._schedule.wait(now, self.state.awaiting_firmware_since())
        return max(0.1, min(wait, WATCH_INTERVAL))

    def _due_report(self, name: str) -> Optional[Report]:
        if name == "ping":
            return self.ping_report()
        if name == "pong":
            return self._build_pong()
        return firmware_timeout(self.state)

    def _read_throttle_state(self) -> None:
        # The Pi support plugin's helper runs vcgencmd: only ever on this thread.
        helpers = self._plugin_manager.get_helpers("pi_support", "get_throttled")
        if helpers and "get_throttled" in helpers:
            try:
                state = helpers["get_throttled"](run_now=True)
                events.build(self.state, "plugin_pi_support_throttle_state", state)
            except Exception:
                self._logger.debug("Could not read the throttle state", exc_info=True)

    def mark_config_seen(self) -> None:
        self._watch.mark_seen()

    ##~~ reports that need the host

    def environment_report(self, name: str) -> Report:
        return make(name, **self.env_fields)

    def ping_report(self) -> Report:
        try:
            state = self._printer.get_state_id()
        except Exception:
            state = None
        return ping(time.monotonic() - self._started, state)

    def _build_pong(self) -> Report:
        # Reads the disk (counts files): never on OctoPrint's event or request thread.
        self._pong = host.pong(
            self.env_fields, self._plugin_manager, self._settings.settings
        )
        return self._pong

    def _fresh_pong(self) -> Optional[Report]:
        """A pong built now on a thread of its own, waited for at most PREVIEW_WAIT
        seconds; after that, the last one built (a huge uploads folder must not hang
        the request)."""
        # One walk at a time: an owner who opens the preview again while a huge
        # uploads folder is still being counted waits on the same walk.
        thread = self._pong_thread
        if thread is None or not thread.is_alive():
            thread = threading.Thread(
                target=self._build_pong, name="usage_tracking.pong", daemon=True
            )
            self._pong_thread = thread
            thread.start()
        thread.join(PREVIEW_WAIT)
        return self._pong

    ##~~ preview and status (API, CLI and settings pane)

    def preview(self) -> List[Dict[str, Any]]:
        """The reports that would be sent now, as the tracker builds them."""
        live = preview.live(self.env_fields, self.ping_report(), self._fresh_pong())
        return preview.build(live, self.config)

    def server_data(self) -> Dict[str, Any]:
        """What the tracking server holds about this instance, asked now (a request
        thread of the API: up to a few seconds, never the event thread)."""
        return fetch_server_data(
            self.target, self._user_agent, logger=self._logger
        ).as_dict()

    def can_ask_deletion(self) -> bool:
        """Whether "and ask the server to delete" may be offered (``actions.
        deletion_address``). Reads a small file: not for the event thread."""
        return actions.deletion_address(self.target, self._folder) is not None

    def status(self) -> Dict[str, Any]:
        config = self.config
        return {
            "enabled": config.enabled,
            "active": config.active,
            "kill_switch": config.kill,
            "policy": self.policy.as_dict(),
            "consent": {
                "accepted": config.accepted,
                "current": catalog.CONSENT_VERSION,
                "decline_new": config.decline_new,
                "declines_current": config.declines(catalog.CONSENT_VERSION),
            },
            "wizard_required": config.wizard_required,
            "server_allowed": self.target is not None,
            "can_ask_deletion": self.can_ask_deletion(),
            "delivery": self.delivery.status(),
        }

    def shutdown(self) -> None:
        final = consent.gate(self.environment_report("shutdown"), self.config)
        self.delivery.shutdown(final, deadline=2.0)
