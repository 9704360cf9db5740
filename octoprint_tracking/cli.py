"""``octoprint plugins usage_tracking:<command>``: status, enable, disable, decline-new,
preview, reset-id, sent and server-data, working on the same basedir as the server.

A running server notices changes to ``config.yaml`` within seconds (its timer watches
the file), so a ``disable`` stops it sending without a restart. What the commands say
is in the language of the terminal (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``,
``LANG``), from the plugin's own translations.
"""

from __future__ import annotations

import functools
import gettext
import json
import logging
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import click
import yaml

from . import actions, host, settings
from .core import catalog, consent, policy, preview, server_view
from .core.address import server_allowed
from .core.builders import ping
from .core.policy import Policy
from .delivery import Target, files
from .delivery.client import fetch_server_data
from .delivery.protocol import Deletion, ServerData

KEY = "usage_tracking"
USER_AGENT = "OctoPrint-UsageTracking CLI"
TRANSLATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")


@functools.cache
def _catalog() -> gettext.NullTranslations:
    return gettext.translation("messages", localedir=TRANSLATIONS, fallback=True)


def _(message: str) -> str:
    return _catalog().gettext(message)


def data_folder(octoprint_settings: Any) -> str:
    return os.path.join(octoprint_settings.getBaseFolder("data"), KEY)


def read_yaml(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, yaml.YAMLError):
        return {}


def running_server(folder: str) -> Optional[int]:
    """The pid of a running server that uses this basedir, or None."""
    pid = files.read_status(folder).get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return None
    try:
        import psutil

        return pid if psutil.pid_exists(pid) else None
    except Exception:
        return None


def emit(data: Any, output: Optional[str]) -> None:
    """JSON to stdout, or exactly the JSON to ``output``: OctoPrint prints its own
    start-up lines on stdout before a command runs, so stdout is no pipe for ``jq``."""
    text = json.dumps(data, indent=2, sort_keys=True)
    if output is None:
        click.echo(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    except OSError as exc:
        raise click.ClickException(_("Could not write %(file)s: %(error)s") % {
            "file": output, "error": exc}) from exc  # fmt: skip


def when(timestamp: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(timestamp)))
    except (TypeError, ValueError, OverflowError):
        return "-"


class ConfigStore:
    """Where ``actions`` write from the CLI: config.yaml, read back to be sure."""

    def __init__(self, octoprint_settings: Any, machine: Policy):
        self._settings = octoprint_settings
        self.policy = machine

    def stored(self) -> Any:
        """What config.yaml holds, without defaults."""
        return self._settings.get(["plugins", KEY], incl_defaults=False)

    def data(self) -> Dict[str, Any]:
        """The settings in force, put together as in the server (``settings.merged``)."""
        return settings.merged(self.stored(), self.policy)

    def get(self, key: str) -> Any:
        return self.data().get(key)

    def write(self, values: Dict[str, Any]) -> None:
        # force: outside the server the plugin's defaults are not registered, and
        # OctoPrint drops a set() outside known paths silently.
        for key, value in values.items():
            self._settings.set(["plugins", KEY, key], value, force=True)
        self._settings.save(force=True)
        # Read back what is really in config.yaml. ``_configfile`` is private (OctoPrint
        # 1.10 to 2.0 have it); without it, the basedir's default file name.
        path = getattr(self._settings, "_configfile", None) or os.path.join(
            self._settings.getBaseFolder("base"), "config.yaml"
        )
        stored = (read_yaml(path).get("plugins") or {}).get(KEY) or {}
        if any(stored.get(key) != value for key, value in values.items()):
            raise click.ClickException(
                _("The setting could not be saved to config.yaml.")
            )


def commands(cli_group, pass_octoprint_ctx, *args, **kwargs):
    def machine() -> Policy:
        return settings.load_policy(cli_group.settings.getBaseFolder("base"), os.environ)

    def store() -> ConfigStore:
        return ConfigStore(cli_group.settings, machine())

    def folder() -> str:
        return data_folder(cli_group.settings)

    def config(s: Optional[ConfigStore] = None) -> consent.Config:
        s = s or store()
        return settings.snapshot(s.data(), os.environ, s.policy.failed)

    def target(s: ConfigStore) -> Optional[Target]:
        """Where reports go now: only an allowed server."""
        server = s.get("server")
        return Target(server, config(s)) if server_allowed(server) else None

    def remove_spool() -> None:
        try:
            files.remove_spool(folder())
        except OSError as exc:
            raise click.ClickException(
                _("Could not delete the unsent reports: %(error)s") % {"error": exc}
            ) from exc

    def takes_effect() -> None:
        pid = running_server(folder())
        if pid:
            click.echo(
                _("The running server (pid %(pid)s) picks this up within seconds.")
                % {"pid": pid}
            )
        else:
            click.echo(_("No running server found: this takes effect at its next start."))

    def refused(exc: actions.Locked) -> click.ClickException:
        return click.ClickException(actions.locked_message(exc.keys, _))

    output_option = click.option(
        "--output", "output", type=click.Path(dir_okay=False), default=None,
        help="With --json: write the JSON to this file instead of stdout.",
    )  # fmt: skip

    @click.command("status")
    @click.option("--show-id", is_flag=True, help="Also print the instance id.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def status(show_id, as_json):
        """Decision, policy, kill switch, consent, queue, spool, last delivery and
        the deletion request."""
        s = store()
        c, data, m = config(s), s.data(), s.policy
        server = data.get("server")
        live = files.read_status(folder())
        journal = files.read_journal(folder())
        out = {
            "decision": {True: "enabled", False: "disabled"}.get(c.enabled, "undecided"),
            "kill_switch": c.kill,
            "policy": m.as_dict(),
            "consent": {"accepted": c.accepted, "current": catalog.CONSENT_VERSION},
            "decline_new": c.decline_new,
            "switched_off": sorted(k for k in catalog.CATEGORY_KEYS if not c.events[k]),
            "server": server,
            "server_allowed": server_allowed(server),
            "can_ask_deletion": actions.deletion_address(target(s), folder()) is not None,
            "instance_id_valid": c.unique_id is not None,
            "running_server": running_server(folder()),
            "queued": live.get("queued"),
            "dropped": live.get("dropped"),
            "spooled": files.spooled_count(folder()),
            "last_delivery": journal[-1] if journal else None,
            "deletion": files.read_deletion_state(folder()),
        }
        if show_id:
            out["instance_id"] = data.get("unique_id")
        if as_json:
            emit(out, None)
            return
        click.echo("\n".join(_status_lines(out, c, m, show_id)))

    @click.command("enable")
    def enable():
        """Share anonymous usage data (accepts the current consent version)."""
        s = store()
        try:
            actions.decide(s, True)
        except actions.Locked as exc:
            raise refused(exc) from None
        click.echo(_("Anonymous usage tracking is enabled."))
        c = config(s)
        if c.kill:
            click.echo(
                _(
                    "Note: %(variable)s is set in this environment; nothing is sent while it is."
                )
                % {"variable": c.kill}
            )
        if s.policy.failed:
            click.echo(_policy_line(s.policy))
        takes_effect()

    @click.command("disable")
    @click.option(
        "--forget", is_flag=True,
        help="Also ask the tracking server to delete what it holds about this "
        "instance (one DELETE request, retried until the server answers).",
    )  # fmt: skip
    def disable(forget):
        """Stop sharing; the spool of unsent reports is deleted at once."""
        s = store()
        try:
            asked = actions.switch_off(s, folder(), target(s), forget)
        except actions.Locked as exc:
            raise refused(exc) from None
        remove_spool()
        click.echo(
            _("Anonymous usage tracking is disabled. Unsent reports were deleted.")
        )
        if asked:
            click.echo(
                _(
                    "The tracking server will be asked to delete what it holds about "
                    "this instance: one request, sent by OctoPrint and retried until "
                    'the server answers. "status" shows the answer.'
                )
            )
            waits = _waits(config(s))
            if waits:
                click.echo(waits)
        elif forget:
            click.echo(
                _(
                    "Nothing is asked of the tracking server: it is not allowed, or "
                    "this instance never sent anything to it."
                )
            )
        takes_effect()

    @click.command("decline-new")
    @click.argument("state", type=click.Choice(["on", "off"]))
    def decline_new(state):
        """Nothing new without asking, and don't ask me: "on" keeps sending what was
        accepted and declines every later consent version automatically."""
        actions.set_decline_new(store(), state == "on")
        if state == "on":
            click.echo(
                _(
                    "New data is declined from now on: what you accepted is still "
                    "sent, every later consent version is declined automatically, "
                    "and you are not asked again."
                )
            )
        else:
            click.echo(
                _(
                    "New data is no longer declined automatically: a later consent "
                    "version asks you first."
                )
            )
        takes_effect()

    @click.command("preview")
    @click.option("--json", "as_json", is_flag=True, help="The payloads as JSON.")
    @output_option
    def show_preview(as_json, output):
        """What would be sent now, field by field."""
        env = host.environment_fields(host.detect_environment(cli_group.plugin_manager))
        pong = host.pong(env, cli_group.plugin_manager, cli_group.settings)
        items = preview.build(preview.live(env, ping(0, "OFFLINE"), pong), config())
        if as_json:
            emit(items, output)
            return
        for item in items:
            mark = "" if item["sent"] else "  [" + _("switched off") + "]"
            sample = " (" + _("sample values") + ")" if item["sample"] else ""
            click.echo(f"{item['report']} ({item['method']}){sample}{mark}")
            for name, value in item["fields"].items():
                click.echo(f"    {name} = {value}    # {_(item['meanings'][name])}")
            for name, value in item["declined"].items():
                click.echo(
                    f"    {name} = {value}    # {_(item['meanings'][name])}"
                    f"  [{_('declined: never sent')}]"
                )

    @click.command("reset-id")
    def reset_id():
        """Make a new instance id; nothing more is sent under the old one."""
        s = store()
        forget = actions.forget_address(target(s), folder())
        actions.reset_id(s, folder())
        remove_spool()
        click.echo(
            _("A new instance id was made. Unsent reports of the old one were deleted.")
        )
        actions.request_deletion(folder(), forget)
        if forget:
            click.echo(
                _(
                    "The tracking server will be asked to forget the old id: one "
                    "request, sent by OctoPrint and retried until the server answers."
                )
            )
        takes_effect()

    @click.command("sent")
    @click.option("--json", "as_json", is_flag=True, help="The journal as JSON.")
    @output_option
    @click.option(
        "-n", "count", default=20, show_default=True, type=click.IntRange(min=1),
        help="How many.",
    )  # fmt: skip
    def sent(as_json, output, count):
        """The journal: what was delivered or dropped, newest last."""
        entries = files.read_journal(folder())[-count:]
        if as_json:
            emit(entries, output)
            return
        if not entries:
            click.echo(_("Nothing sent yet."))
            return
        for e in entries:
            status = f" ({e['status']})" if e.get("status") else ""
            fields = ", ".join(f"{k}={v}" for k, v in (e.get("fields") or {}).items())
            click.echo(
                f"{when(e.get('time', 0))}  {_report_name(e.get('report'))}  "
                f"{e.get('outcome')}"
                f"{status}  {fields}"
            )

    @click.command("server-data")
    @click.option("--json", "as_json", is_flag=True, help="The answer as JSON.")
    @output_option
    def server_data(as_json, output):
        """Ask the tracking server what it holds about this instance (nothing is
        asked while tracking is off)."""
        answer = fetch_server_data(target(store()), USER_AGENT, logger=_quiet_logger())
        if as_json:
            emit(answer.as_dict(), output)
            return
        if answer.state not in ("ok", "unknown"):
            raise click.ClickException(_server_data_message(answer))
        click.echo(_server_data_message(answer))
        if answer.data is not None:
            click.echo(_server_data_text(answer.data))

    return [status, enable, disable, decline_new, show_preview, reset_id, sent,
            server_data]  # fmt: skip


def _policy_line(machine: Policy) -> str:
    where = _(policy.SOURCES[machine.source]) if machine.source else ""
    if machine.problem is not None:
        return _(
            "The policy of this machine (%(where)s) cannot be used: %(problem)s "
            "Nothing is sent until it is fixed."
        ) % {"where": where, "problem": _(machine.problem.text) % machine.problem.args}
    if machine.source is None:
        return _("none")
    locked = ", ".join(sorted(machine.locked)) or _("nothing")
    return _("%(where)s, locks: %(locked)s") % {"where": where, "locked": locked}


def _status_lines(out: Dict[str, Any], c: consent.Config, m: Policy, show_id: bool):
    admin = " (" + _("set by the administrator of this machine") + ")"
    decision = {"enabled": _("enabled"), "disabled": _("disabled")}.get(
        out["decision"], _("undecided")
    )
    consent_text = _("%(accepted)s accepted, %(current)s current") % out["consent"]
    if c.declines(catalog.CONSENT_VERSION):
        consent_text += ", " + _("the newer one declined")
    refused = (
        "" if out["server_allowed"] else "  (" + _("refused: not https or loopback") + ")"
    )
    # (label, value, the setting whose lock the line names)
    rows: List[Tuple[str, Any, str]] = [
        (_("Tracking"), decision, "enabled"),
        (_("Policy"), _policy_line(m), ""),
        (_("Kill switch"), c.kill or _("none"), ""),
        (_("Consent version"), consent_text, ""),
        (_("Decline new"), _("on") if c.decline_new else _("off"), ""),
        (_("Switched off"), ", ".join(out["switched_off"]) or _("none"), "events"),
        (_("Server"), f"{out['server']}{refused}", "server"),
    ]
    if not out["instance_id_valid"]:
        malformed = _(
            "malformed: OctoPrint replaces it with a new one (a running server within "
            "seconds, else at its next start)"
        )
        rows.append((_("Instance id"), malformed, ""))
    elif show_id:
        rows.append((_("Instance id"), out["instance_id"], ""))
    queued = out["queued"] if out["queued"] is not None else "-"
    last = out["last_delivery"]
    rows += [
        (_("Running server"), out["running_server"] or _("not running"), ""),
        (_("Queued"), queued, ""),
        (_("Spooled"), out["spooled"], ""),
        (
            _("Last delivery"),
            f"{when(last['time'])} {_report_name(last['report'])} {last['outcome']}"
            if last
            else _("none"),
            "",
        ),
        (_("Deletion"), _deletion_text(out["deletion"], c), ""),
    ]
    # One column for the values, however long the labels are in this language.
    width = max(16, *(len(label) + 1 for label, _value, _locked in rows))
    return [
        f"{(label + ':').ljust(width)} {value}{admin if locked in m.locked else ''}"
        for label, value, locked in rows
    ]


def _waits(c: consent.Config) -> str:
    """Why a deletion request waits (nothing at all may leave the machine), or ""."""
    if c.kill:
        return _(
            "It waits while %(variable)s is set: nothing at all is sent until it is "
            "cleared."
        ) % {"variable": c.kill}
    if c.policy_failed:
        return _(
            "It waits while the policy of this machine cannot be used: nothing at all "
            "is sent until it is fixed."
        )
    return ""


def _report_name(name: Any) -> str:
    """Reports go by their names on the wire; the deletion request is none, and has
    a label (as in the settings pane's journal)."""
    return _("Deletion request") if name == Deletion.name else str(name)


def _deletion_text(state: Optional[Dict[str, Any]], c: consent.Config) -> str:
    """The state of the latest deletion request, as the settings pane says it."""
    if state is None:
        return _("none requested")
    if state["state"] == "requested":
        if c.kill:
            text = _("requested %(time)s; waits while %(variable)s is set")
        elif c.policy_failed:
            text = _(
                "requested %(time)s; waits until the policy of this machine can be used"
            )
        else:
            text = _("requested %(time)s; OctoPrint retries until the server answers")
        return text % {"time": when(state.get("requested")), "variable": c.kill}
    text = {
        "confirmed": _("confirmed by the server %(time)s"),
        "unsupported": _(
            "the server does not offer deletion (HTTP %(status)s, %(time)s)"
        ),
        "rejected": _("refused by the server (HTTP %(status)s, %(time)s)"),
    }.get(state["state"], _("answered %(time)s"))
    return text % {"time": when(state.get("time")), "status": state.get("status")}


def _server_data_message(answer: ServerData) -> str:
    if answer.state == "limited":
        if answer.retry_after:
            return _("The server was asked too often. Try again in %(seconds)s seconds.") % {
                "seconds": f"{answer.retry_after:.0f}"}  # fmt: skip
        return _("The server was asked too often. Try again later.")
    if answer.state == "unreachable" and answer.status:
        return _("The server could not answer (HTTP %(status)s). Try again later.") % {
            "status": answer.status}  # fmt: skip
    if answer.state == "off" and answer.reason == "server_not_allowed":
        return _("Nothing is asked of the configured tracking server: it is not allowed.")
    return {
        "ok": _("What the tracking server holds about this instance:"),
        "unknown": _("The server holds nothing about this instance."),
        "unsupported": _("This server does not offer a view of stored data."),
        "unreachable": _("The server could not be reached. Try again later."),
        "off": _("Tracking is off: nothing is asked of the server."),
    }[answer.state]


def _server_data_text(data: Dict[str, Any]) -> str:
    """The server's document for a terminal, labelled as the settings pane labels it
    (``core.server_view``). Any JSON object may come back: every part is read with a
    default."""

    def obj(value: Any) -> Dict[str, Any]:
        return value if isinstance(value, dict) else {}

    def items(value: Any) -> List[Dict[str, Any]]:
        return [obj(v) for v in value] if isinstance(value, list) else []

    def label(key: str) -> str:
        known = server_view.label(key)
        return _(known) if known else key

    env = obj(data.get("environment"))
    lines = [f"  {label(key) + ':':<22} {data.get(key) or '-'}"
             for key, _label in server_view.FACTS]  # fmt: skip
    lines.append("  " + _("Environment") + ":")
    lines += [
        f"    {label(k)}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in env.items()
        if k != "plugins" and v is not None
    ]
    plugins = ", ".join(f"{p.get('id')} {p.get('version') or ''}".strip()
                        for p in items(env.get("plugins")))  # fmt: skip
    lines.append(f"  {_('Plugins') + ':':<22} {plugins or '-'}")
    lines.append("  " + _("Days") + ":")
    for day in items(data.get("days")):
        prints = obj(day.get("prints"))
        hours = day.get("active_hours")
        lines.append(
            f"    {day.get('day')}  {day.get('version') or '-'}  "
            + _("%(count)s h active")
            % {"count": len(hours) if isinstance(hours, list) else 0}
            + "  "
            + _("prints")
            + " "
            + ", ".join(f"{k} {v}" for k, v in prints.items())
        )
    lines.append("  " + _("Recent events") + ":")
    for event in items(data.get("events")):
        text = ", ".join(f"{k}={v}" for k, v in obj(event.get("fields")).items())
        lines.append(f"    {event.get('ts')}  {event.get('event')}  {text}")
    return "\n".join(lines)


def _quiet_logger():
    return logging.getLogger("octoprint.plugins.usage_tracking.cli")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("Run as: octoprint plugins usage_tracking:<command>")
