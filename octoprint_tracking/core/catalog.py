"""The catalog: every report this plugin can send, declared once.

This module is the single source of truth for what leaves the machine. The report
builders may only emit fields declared here (``check_fields`` enforces it), and the
settings pane, the wizard, the preview, the CLI, the README's table and the tests are
all derived from it.

Consent versions follow Syncthing's usage-report versions: every report and field
names the version that introduced it, and nothing newer than the version the owner
accepted is sent until they accept again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple


def N_(message: str) -> str:
    """Marks a catalog string for translation (``pybabel extract -k N_``); the
    templates and the settings pane translate it when they show it."""
    return message


#: Version 1: what the bundled "Anonymous Usage Tracking" plugin of OctoPrint 1.11 sends.
#: Version 2: statistics (counts only) and feature switches in ``pong``, and ``age``.
CONSENT_VERSION = 2


@dataclass(frozen=True)
class Field:
    name: str
    """Name of the field on the wire (query parameter or form field)."""

    meaning: str
    """One line that tells the owner what the value is."""

    example: object = ""
    """A realistic sample value, used by the preview."""

    since: int = 1
    """Consent version that introduced the field."""

    category: Optional[str] = None
    """Extra category switch that gates this field, on top of the report's own."""

    on_off: bool = False
    """The value is only ever true or false (a setting's state, never its value)."""


@dataclass(frozen=True)
class Category:
    key: str
    """Settings key below ``plugins.usage_tracking.events``."""

    title: str
    """Short label of the switch."""

    since: int = 1


@dataclass(frozen=True)
class ReportSpec:
    name: str
    """Name of the report on the wire; ``commerror_<reason>`` stands for a family."""

    category: Optional[str]
    """Category switch that gates the report; None means it is sent whenever tracking
    is on (the ping, which counts instances)."""

    description: str
    fields: Tuple[Field, ...] = ()
    since: int = 1
    post: bool = False
    """Sent as a form-encoded POST body instead of a GET query (large reports)."""

    def field(self, name: str) -> Optional[Field]:
        for f in self.fields:
            if f.name == name:
                return f
        return None


# Field groups shared by several reports --------------------------------------------

ENVIRONMENT_FIELDS = (
    Field("version", N_("OctoPrint version"), "1.11.8"),
    Field("os", N_("Operating system family"), "linux"),
    Field("platform", N_("Python platform identifier"), "linux"),
    Field("bits", N_("Whether the OS is 32 or 64 bit"), 64),
    Field("python", N_("Python version"), "3.11.2"),
    Field("pip", N_("pip version"), "24.0"),
    Field("cores", N_("Number of CPU cores"), 4),
    Field("freq", N_("CPU frequency in MHz"), 1800.0),
    Field("ram", N_("Total RAM in bytes"), 8363163648),
    Field(
        "pi_model",
        N_("Raspberry Pi model (only on a Pi)"),
        "Raspberry Pi 4 Model B Rev 1.4",
    ),
    Field("octopi_version", N_("OctoPi version (only on OctoPi)"), "1.0.0"),
    Field("octopiuptodate_build", N_("OctoPi-UpToDate build (only there)"), "2024.02.12"),
)

THROTTLE_SUMMARY_FIELDS = (
    Field("throttled_now", N_("Whether the Pi is throttled right now"), False),
    Field("throttled_past", N_("Whether the Pi was throttled since boot"), True),
    Field("throttled_mask", N_("Raw throttle bit mask from vcgencmd"), "0x50000"),
)

THROTTLE_FIELDS = THROTTLE_SUMMARY_FIELDS + (
    Field("throttled_voltage_now", N_("Under-voltage right now"), False),
    Field("throttled_voltage_past", N_("Under-voltage since boot"), True),
    Field("throttled_overheat_now", N_("Overheating right now"), False),
    Field("throttled_overheat_past", N_("Overheating since boot"), False),
)

PRINT_FIELDS = (
    Field(
        "origin",
        N_("Where the file lies: local storage or the printer's SD card"),
        "local",
    ),
    Field(
        "file",
        N_(
            "HMAC-SHA1 of the file's path, keyed with a secret that never leaves this"
            " machine and is replaced on Reset ID: tells repeated prints of one file apart"
            " without sending its name"
        ),
        "a3b1c0ffee5c2b1d4f2e8d9a7c6b5a4f3e2d1c0b",
    ),
    Field(
        "printer_connector",
        N_("Kind of printer connection, where OctoPrint names it"),
        "serial",
    ),
) + THROTTLE_SUMMARY_FIELDS

ELAPSED = Field("elapsed", N_("Print duration in whole seconds"), 3725)

PLUGIN_FIELDS = (
    Field("plugin", N_("Plugin identifier"), "firmwarecheck"),
    Field("plugin_version", N_("Plugin version"), "2021.10.11"),
)

UPDATE_FIELDS = (
    Field("target", N_("Updated component"), "octoprint"),
    Field("from_version", N_("Version before the update"), "1.11.7"),
    Field("to_version", N_("Version after the update"), "1.11.8"),
)

STATISTICS_FIELDS = tuple(
    Field(name, meaning, example, since=2, category="statistics")
    for name, meaning, example in (
        ("stats_printer_profiles", N_("Number of printer profiles"), 1),
        ("stats_users", N_("Number of user accounts (a count, never a name)"), 2),
        (
            "stats_files",
            N_("Number of files in local storage (a count, never a name)"),
            37,
        ),
        ("stats_timelapses", N_("Number of rendered timelapses"), 4),
        ("stats_plugins", N_("Number of third-party plugins"), 6),
    )
)

#: Well-known settings reported as on/off: (field, settings paths, meaning). Only
#: names and booleans, never a value, the way Kalico reports config names. Where
#: OctoPrint moved a setting, its paths are listed newest first: the first that exists
#: in the running version is read (2.0 logs a deprecation warning for the old ones).
FEATURE_SETTINGS = (
    ("feature_webcam", (("webcam", "webcamEnabled"),), N_("Webcam enabled")),
    ("feature_timelapse", (("webcam", "timelapseEnabled"),), N_("Timelapse enabled")),
    (
        "feature_autologin",
        (("accessControl", "autologinLocal"),),
        N_("Autologin from local net"),
    ),
    (
        "feature_serial_autoconnect",
        # OctoPrint 2.0: printerConnection.autoconnect; 1.x: serial.autoconnect.
        (("printerConnection", "autoconnect"), ("serial", "autoconnect")),
        N_("Serial auto-connect"),
    ),
    (
        "feature_folder_polling",
        (("feature", "pollWatched"),),
        N_("Watched folder polling"),
    ),
    ("feature_sd_support", (("feature", "sdSupport"),), N_("SD card support")),
    (
        "feature_gcode_analysis",
        (("gcodeAnalysis", "runAt"),),
        N_("Background G-code analysis"),
    ),
    (
        "feature_online_check",
        (("server", "onlineCheck", "enabled"),),
        N_("Online connectivity check"),
    ),
    (
        "feature_plugin_blacklist",
        # OctoPrint 2.0 renamed the blacklist to blocklist.
        (
            ("server", "pluginBlocklist", "enabled"),
            ("server", "pluginBlacklist", "enabled"),
        ),
        N_("Plugin blacklist"),
    ),
)

FEATURE_FIELDS = tuple(
    Field(name, meaning, True, since=2, category="features", on_off=True)
    for name, _paths, meaning in FEATURE_SETTINGS
)

#: Fields that delivery may add to any report.
COMMON_FIELDS = (
    Field(
        "age",
        N_(
            "Seconds between the event and its delivery, only when over 60 s (after an outage)"
        ),
        640,
        since=2,
    ),
)


# The catalog -----------------------------------------------------------------------

CATEGORIES: Tuple[Category, ...] = (
    Category("pong", N_("Daily report: environment and third-party plugins")),
    Category(
        "statistics", N_("Counts in the daily report (profiles, users, files, ...)"), 2
    ),
    Category(
        "features",
        N_("Which well-known features are switched on, in the daily report"),
        2,
    ),
    Category("startup", N_("Server startup and shutdown")),
    Category("printjob", N_("Print started, done, failed or cancelled")),
    Category("commerror", N_("Errors in the communication with the printer")),
    Category("printer", N_("Connected to a printer (firmware name)")),
    Category("plugin", N_("Plugin installed, uninstalled, enabled or disabled")),
    Category("update", N_("OctoPrint or a plugin updated")),
    Category("throttled", N_("Raspberry Pi throttled or unthrottled")),
    Category("printer_safety_check", N_("Printer safety check warnings")),
    Category("achievements", N_("Achievements unlocked")),
    Category("slicing", N_("Slicing started in OctoPrint")),
    Category("webui_load", N_("Web interface loaded (browser and OS)")),
)

REPORTS: Tuple[ReportSpec, ...] = (
    ReportSpec(
        "ping",
        None,
        N_("Every 15 minutes and at startup: counts running instances"),
        (
            Field("octoprint_uptime", N_("Seconds since OctoPrint started"), 5400),
            Field("printer_state", N_("Printer state identifier"), "OPERATIONAL"),
        ),
    ),
    ReportSpec(
        "pong",
        "pong",
        N_("Once a day: the environment, third-party plugins and unlocked achievements"),
        ENVIRONMENT_FIELDS
        + (
            Field(
                "plugins",
                N_("Third-party plugins as identifier:version, comma separated"),
                "bedlevelvisualizer:1.1.1,octolapse:0.4.2",
            ),
            Field(
                "achievements",
                N_("Unlocked achievements, comma separated"),
                "the_wizard_is_in,one_small_step",
                category="achievements",
            ),
        )
        + STATISTICS_FIELDS
        + FEATURE_FIELDS,
        post=True,
    ),
    ReportSpec("startup", "startup", N_("OctoPrint started"), ENVIRONMENT_FIELDS),
    ReportSpec(
        "shutdown", "startup", N_("OctoPrint is shutting down"), ENVIRONMENT_FIELDS
    ),
    ReportSpec("print_started", "printjob", N_("A print job started"), PRINT_FIELDS),
    ReportSpec(
        "print_done", "printjob", N_("A print job finished"), PRINT_FIELDS + (ELAPSED,)
    ),
    ReportSpec(
        "print_failed",
        "printjob",
        N_("A print job failed"),
        PRINT_FIELDS
        + (
            ELAPSED,
            Field("reason", N_("Why: error or cancelled"), "error"),
            Field(
                "commerror_text",
                N_("The printer's error message, shortened, paths and addresses removed"),
                "Printer halted. kill() called!",
                category="commerror",
            ),
        ),
    ),
    ReportSpec(
        "print_cancelled",
        "printjob",
        N_("A print job was cancelled"),
        PRINT_FIELDS + (ELAPSED,),
    ),
    ReportSpec(
        "commerror_<reason>",
        "commerror",
        N_("Communication with the printer failed; <reason> is e.g. timeout or firmware"),
        (
            Field(
                "commerror_text",
                N_("The error message, shortened, paths and addresses removed"),
                "Too many consecutive timeouts, printer still connected and alive?",
            ),
        )
        + THROTTLE_SUMMARY_FIELDS,
    ),
    ReportSpec(
        "printer_connected",
        "printer",
        N_("Connected to a printer"),
        (
            Field(
                "firmware_name",
                N_("Firmware name as the printer reports it"),
                "Marlin 2.1.2",
            ),
            Field(
                "printer_port",
                N_(
                    "Kind of port, e.g. /dev/ttyUSB0 or VIRTUAL; serial numbers removed"
                    " (OctoPrint 1.x)"
                ),
                "/dev/ttyACM0",
            ),
            Field("printer_baudrate", N_("Baud rate (OctoPrint 1.x)"), 115200),
            Field(
                "printer_connector",
                N_("Kind of printer connection, e.g. serial (OctoPrint 2.0 and later)"),
                "serial",
            ),
        ),
    ),
    ReportSpec("install_plugin", "plugin", N_("A plugin was installed"), PLUGIN_FIELDS),
    ReportSpec(
        "uninstall_plugin", "plugin", N_("A plugin was uninstalled"), PLUGIN_FIELDS
    ),
    ReportSpec("enable_plugin", "plugin", N_("A plugin was enabled"), PLUGIN_FIELDS),
    ReportSpec("disable_plugin", "plugin", N_("A plugin was disabled"), PLUGIN_FIELDS),
    ReportSpec("update_successful", "update", N_("An update succeeded"), UPDATE_FIELDS),
    ReportSpec("update_failed", "update", N_("An update failed"), UPDATE_FIELDS),
    ReportSpec(
        "system_throttled",
        "throttled",
        N_("The Pi reports a throttle issue"),
        THROTTLE_FIELDS,
    ),
    ReportSpec(
        "system_unthrottled",
        "throttled",
        N_("The Pi's throttle issue is over"),
        THROTTLE_FIELDS,
    ),
    ReportSpec(
        "printer_safety_warning",
        "printer_safety_check",
        N_("The printer safety check found a risky firmware"),
        (
            Field(
                "printer_safety_warning_type", N_("Kind of warning"), "firmware-unsafe"
            ),
            Field("printer_safety_check_name", N_("Name of the check"), "aneta8"),
        ),
    ),
    ReportSpec(
        "achievement_unlocked",
        "achievements",
        N_("An achievement was unlocked"),
        (Field("achievement", N_("Achievement key"), "one_small_step"),),
    ),
    ReportSpec(
        "slicing_started",
        "slicing",
        N_("Slicing started inside OctoPrint"),
        (Field("slicer", N_("Slicer identifier"), "prusaslicer"),),
    ),
    ReportSpec(
        "webui_load",
        "webui_load",
        N_("The web interface was opened"),
        (
            Field("browser_name", N_("Browser name"), "Chrome"),
            Field("browser_version", N_("Browser version"), "131.0.0.0"),
            Field("os_name", N_("Operating system name"), "Windows"),
            Field("os_version", N_("Operating system version"), "10"),
        ),
    ),
)

_BY_NAME: Dict[str, ReportSpec] = {r.name: r for r in REPORTS}
CATEGORY_KEYS = tuple(c.key for c in CATEGORIES)


def spec(name: str) -> Optional[ReportSpec]:
    """The catalog entry of a wire report name (``commerror_timeout`` included)."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith("commerror_"):
        return _BY_NAME["commerror_<reason>"]
    return None


def check_fields(name: str, fields: Iterable[str]) -> None:
    """Raise ``ValueError`` if a report carries a field the catalog does not declare."""
    report = spec(name)
    if report is None:
        raise ValueError(f"report {name!r} is not in the catalog")
    declared = {f.name for f in report.fields} | {f.name for f in COMMON_FIELDS}
    undeclared = sorted(set(fields) - declared)
    if undeclared:
        raise ValueError(
            f"report {name!r} has undeclared fields: {', '.join(undeclared)}"
        )


def field_spec(report: str, name: str) -> Optional[Field]:
    entry = spec(report)
    found = entry.field(name) if entry else None
    if found is None:
        for f in COMMON_FIELDS:
            if f.name == name:
                return f
    return found


def default_events() -> Dict[str, bool]:
    return dict.fromkeys(CATEGORY_KEYS, True)


def markdown_table() -> str:
    """The README's table of what is sent, generated from the catalog."""
    lines = [
        "| report | switch | field | meaning | since |",
        "| --- | --- | --- | --- | --- |",
    ]
    for report in REPORTS:
        switch = f"`{report.category}`" if report.category else "always (tracking on)"
        lines.append(
            f"| **`{report.name}`**{' (POST)' if report.post else ''} | {switch} | | "
            f"{report.description} | v{report.since} |"
        )
        for f in report.fields:
            extra = " (on/off only)" if f.on_off else ""
            extra += f" (switch `{f.category}`)" if f.category else ""
            lines.append(f"| | | `{f.name}` | {f.meaning}{extra} | v{f.since} |")
    for f in COMMON_FIELDS:
        lines.append(f"| *any report* | | `{f.name}` | {f.meaning} | v{f.since} |")
    return "\n".join(lines) + "\n"


def by_category() -> list:
    """What each switch controls: ``[(key, title, since, [(report, field), ...])]``.

    ``key`` None is the ping, sent whenever tracking is on. A field with its own
    category (``pong.achievements``) is listed under that category.
    """
    sections = [(None, N_("Regular ping"), 1, [])] + [
        (c.key, c.title, c.since, []) for c in CATEGORIES
    ]
    index = {key: entries for key, _title, _since, entries in sections}
    for report in REPORTS:
        for f in report.fields:
            index[f.category or report.category].append((report.name, f))
    return sections
