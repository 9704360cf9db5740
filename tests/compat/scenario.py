"""One owner's session on one OctoPrint version, run once and recorded for the tests.

Every OctoPrint version of the compatibility matrix lives in its own virtual environment
(``.venv-compat/<version>``, made by ``make test-compat`` with the constraints in
``compat/``) with this plugin installed from its built archive. Starting OctoPrint takes
most of the time, so each version is started twice and the tests only read what was
recorded:

- ``ours``: this plugin active, the owner undecided, then deciding yes as the wizard does,
  switching the bundled plugin on as well, connecting the virtual printer and printing;
- ``baseline``: this plugin disabled, the bundled plugin on, the same steps. Its
  ``octoprint.log`` is what the version logs anyway: a deprecation warning only in
  ``ours`` is ours.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from harness.octoprint import ADMIN, USER, OctoPrint, merge, octoprint_cli
from harness.receiver import Hit, Receiver

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "compat"
VENVS = ROOT / ".venv-compat"
BUNDLED_ID = "bundled-compat-1"
GCODE = "\n".join(
    ["G28", "G90", "M104 S0"]
    + [f"G1 X{x} Y{x} F6000" for x in range(1, 20)]
    + ["G4 P500", "M400", "M84", ""]
)

#: OctoPrint reaches out to octoprint.org and plugins.octoprint.org at startup; the
#: matrix keeps what it can to loopback. Port 9 (discard) on loopback refuses at once.
#: (Software Update's checks against GitHub have no URL setting and fail by name.)
NOWHERE = "http://127.0.0.1:9/"
CHANNELS = ("_important", "_releases", "_blog", "_plugins", "_octopi")
OFFLINE = {
    "server": {"pythonEolCheck": {"url": NOWHERE}},
    "plugins": {
        "announcements": {"channels": {c: {"url": NOWHERE} for c in CHANNELS}},
        "health_check": {"checks": {"python_eol": {"url": NOWHERE}}},
        "pluginmanager": {"repository": NOWHERE, "notices": NOWHERE},
        "softwareupdate": {"check_overlay_url": NOWHERE},
    },
}

#: OctoPrint's deprecated methods warn through Python's warnings, which Python hides
#: outside ``__main__`` (OctoPrint shows them only with --debug): show each once, in
#: octoprint.log as ``py.warnings``, in both runs alike.
WARNINGS = {
    "PYTHONWARNINGS": "default::DeprecationWarning,default::PendingDeprecationWarning"
}

_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - (?P<logger>\S+) - (?P<level>[A-Z]+) - "
)


def versions() -> List[str]:
    """The versions of the matrix: one constraints file each in ``compat/``."""
    return sorted(
        (
            p.name[len("constraints-") : -len(".txt")]
            for p in COMPAT.glob("constraints-*.txt")
        ),
        key=_version_key,
    )


def _version_key(version: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", version)]


def python_for(version: str) -> Path:
    python = VENVS / version / "bin" / "python"
    if not python.exists():
        raise AssertionError(
            f"no virtual environment for OctoPrint {version} at {python.parent.parent}: "
            "run `make test-compat`, which builds it"
        )
    return python


def deprecations(log: str, basedir: Path) -> List[str]:
    """The deprecation warnings in an ``octoprint.log``, without their time stamps and
    with the basedir neutralised, so that two runs can be compared line by line.

    A log record is its first line plus continuation lines (Python warnings carry the
    source line on the next one); INFO records are notes, not warnings ("Installing
    serial compat overlay for deprecated serial.* settings path" on every 2.0 start)."""
    found: List[str] = []
    record: Optional[List[str]] = None
    for line in log.splitlines() + ["1970-01-01 00:00:00,000 - end - INFO - "]:
        match = _RECORD.match(line)
        if match is None:
            if record is not None:
                record.append(line.strip())
            continue
        if record is not None:
            text = " ".join(record)
            if re.search("deprecat", text, re.IGNORECASE):
                found.append(text.replace(str(basedir), "<basedir>"))
        warning = match["level"] in ("WARNING", "ERROR", "CRITICAL")
        record = [line[match.start("logger") :]] if warning else None
    return found


@dataclass(repr=False)
class Run:
    """What one server of one version did, as seen from outside."""

    server: OctoPrint
    receiver: Receiver
    before_decision: Dict[str, Any] = field(default_factory=dict)
    wizard: Dict[str, Any] = field(default_factory=dict)
    attempts_before_decision: int = -1
    decide_status: int = 0
    bundled_switch_status: int = 0
    plugins: List[Dict[str, Any]] = field(default_factory=list)
    index_status: int = 0
    print_status: int = 0
    problems: List[str] = field(default_factory=list)
    log: str = ""
    deprecations: List[str] = field(default_factory=list)

    def __repr__(self) -> str:
        # Short in pytest's failure output: the log and the hits' headers are long.
        return f"Run({self.server.basedir.parent.name}, events={self.receiver.events()})"

    def hits(self, event: Optional[str] = None) -> List[Hit]:
        return [h for h in self.receiver.hits if event is None or h.event == event]

    def wait(self, event: str, timeout: float = 30.0) -> None:
        # Recorded, not raised: the tests say which report is missing.
        try:
            self.receiver.wait_for_event(event, timeout=timeout)
        except AssertionError as e:
            self.problems.append(f"{event}: {e}")


def make_basedir(python: Path, target: Path) -> Path:
    """A basedir with an admin and a user, made by the version's own CLI."""
    target.mkdir(parents=True)
    for args in (
        ("user", "add", ADMIN[0], "--password", ADMIN[1], "--admin"),
        ("user", "add", USER[0], "--password", USER[1], "--group", "users"),
    ):
        octoprint_cli(target, *args, python=str(python))
    return target


def _index(server: OctoPrint, s) -> int:
    """GET / as the logged-in admin: renders every template of every plugin. It also
    hands out a new CSRF cookie, which later POSTs must carry."""
    status = server.api(s, "GET", "/").status_code
    token = next((c.value for c in s.cookies if c.name.startswith("csrf_token")), None)
    if token:
        s.headers["X-CSRF-Token"] = token
    return status


def _print(run: Run, s) -> None:
    server = run.server
    server.connect_printer(s)
    r = server.api(
        s,
        "POST",
        "/api/files/local",
        files={"file": ("compat.gcode", GCODE.encode())},
        data={"select": "true", "print": "true"},
    )
    run.print_status = r.status_code


def _finish(run: Run) -> Run:
    run.server.stop()
    run.receiver.stop()
    run.log = run.server.log.read_text(errors="replace")
    run.deprecations = deprecations(run.log, run.server.basedir)
    return run


def _start(python: Path, template: Path, target: Path, plugins: Dict[str, Any]) -> Run:
    """A server on a copy of ``template``. The bundled plugin knows where to send and
    under which id; ``plugins`` says whether it is switched on and whether ours runs."""
    receiver = Receiver().start()
    bundled = {"tracking": {"unique_id": BUNDLED_ID, "server": receiver.url}}
    server = OctoPrint(
        shutil.copytree(template, target),
        receiver.url,
        config=merge(OFFLINE, {"plugins": merge(bundled, plugins)}),
        env=WARNINGS,
        python=str(python),
    )
    run = Run(server, receiver)
    try:
        server.start()
    except BaseException:
        _finish(run)
        raise
    return run


def run_ours(python: Path, template: Path, target: Path) -> Run:
    # The bundled plugin is undecided: it would only start when switched on, which the
    # owner does below.
    run = _start(python, template, target, {})
    server, receiver = run.server, run.receiver
    try:
        s = server.session()
        run.before_decision = server.api(s, "GET", "/api/plugin/usage_tracking").json()
        run.wizard = server.api(s, "GET", "/api/setup/wizard").json()
        run.plugins = server.api(s, "GET", "/plugin/pluginmanager/plugins").json()[
            "plugins"
        ]
        # The page with our settings and wizard: renders our templates.
        run.index_status = _index(server, s)
        run.attempts_before_decision = len(receiver.attempts)

        r = server.api(
            s,
            "POST",
            "/api/plugin/usage_tracking",
            json={"command": "decide", "enabled": True},
        )
        run.decide_status = r.status_code
        for event in ("startup", "ping", "pong"):
            run.wait(event)
        # The owner also says yes in the bundled plugin's settings, which would start it.
        r = server.api(
            s, "POST", "/api/settings", json={"plugins": {"tracking": {"enabled": True}}}
        )
        run.bundled_switch_status = r.status_code

        _print(run, s)
        for event in ("printer_connected", "print_started"):
            run.wait(event)
        run.wait("print_done", timeout=60)
    finally:
        _finish(run)
    return run


def run_baseline(python: Path, template: Path, target: Path) -> Run:
    plugins = {"_disabled": ["usage_tracking"], "tracking": {"enabled": True}}
    run = _start(python, template, target, plugins)
    server = run.server
    try:
        s = server.session()
        run.index_status = _index(server, s)
        run.wait("pong")
        _print(run, s)
        run.wait("print_done", timeout=60)
    finally:
        _finish(run)
    return run
