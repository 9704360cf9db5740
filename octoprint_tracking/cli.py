"""``octoprint plugins usage_tracking:<command>``: status, enable, disable, preview,
reset-id, sent and server-data, working on the same basedir as the server.

A running server notices changes to ``config.yaml`` within seconds (its timer watches
the file), so a ``disable`` stops it sending without a restart.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict, Optional

import click
import yaml

from . import actions, host, settings
from .core import catalog, consent, preview
from .core.builders import ping
from .delivery import Target, files
from .delivery.client import Client, fetch_server_data
from .delivery.protocol import ServerData, server_allowed

KEY = "usage_tracking"
USER_AGENT = "OctoPrint-UsageTracking CLI"


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
        raise click.ClickException(f"Could not write {output}: {exc}") from exc


class ConfigStore:
    """Where ``actions`` write from the CLI: config.yaml, read back to be sure."""

    def __init__(self, octoprint_settings: Any):
        self._settings = octoprint_settings

    def data(self) -> Dict[str, Any]:
        return settings.merged(self._settings.get(["plugins", KEY]))

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
            raise click.ClickException("The setting could not be saved to config.yaml.")


def commands(cli_group, pass_octoprint_ctx, *args, **kwargs):
    def store() -> ConfigStore:
        return ConfigStore(cli_group.settings)

    def folder() -> str:
        return data_folder(cli_group.settings)

    def config() -> consent.Config:
        return settings.snapshot(store().data(), os.environ)

    def target(c: consent.Config) -> Optional[Target]:
        """Where reports go under ``c``: only an allowed server."""
        server = store().get("server")
        return Target(server, c) if server_allowed(server) else None

    def remove_spool() -> None:
        try:
            files.remove_spool(folder())
        except OSError as exc:
            raise click.ClickException(
                f"Could not delete the unsent reports: {exc}"
            ) from exc

    def takes_effect() -> None:
        pid = running_server(folder())
        if pid:
            click.echo(f"The running server (pid {pid}) picks this up within seconds.")
        else:
            click.echo("No running server found: this takes effect at its next start.")

    output_option = click.option(
        "--output", "output", type=click.Path(dir_okay=False), default=None,
        help="With --json: write the JSON to this file instead of stdout.",
    )  # fmt: skip

    @click.command("status")
    @click.option("--show-id", is_flag=True, help="Also print the instance id.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def status(show_id, as_json):
        """Decision, kill switch, consent, queue, spool and last delivery."""
        c, server = config(), store().get("server")
        live = files.read_status(folder())
        journal = files.read_journal(folder())
        out = {
            "decision": {True: "enabled", False: "disabled"}.get(c.enabled, "undecided"),
            "kill_switch": c.kill,
            "consent": {"accepted": c.accepted, "current": catalog.CONSENT_VERSION},
            "server": server,
            "server_allowed": server_allowed(server),
            "running_server": running_server(folder()),
            "queued": live.get("queued"),
            "dropped": live.get("dropped"),
            "spooled": files.spooled_count(folder()),
            "last_delivery": journal[-1] if journal else None,
        }
        if show_id:
            out["instance_id"] = c.unique_id
        if as_json:
            emit(out, None)
            return
        queued = out["queued"] if out["queued"] is not None else "-"
        refused = "" if out["server_allowed"] else "  (refused: not https or loopback)"
        lines = [
            f"Tracking:        {out['decision']}",
            f"Kill switch:     {c.kill or 'none'}",
            f"Consent version: {c.accepted} accepted, {catalog.CONSENT_VERSION} current",
            f"Server:          {server}{refused}",
        ]
        if show_id:
            lines.append(f"Instance id:     {c.unique_id}")
        lines += [
            f"Running server:  {out['running_server'] or 'not running'}",
            f"Queued:          {queued}",
            f"Spooled:         {out['spooled']}",
        ]
        last = out["last_delivery"]
        if last:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["time"]))
            lines.append(f"Last delivery:   {when} {last['report']} {last['outcome']}")
        else:
            lines.append("Last delivery:   none")
        click.echo("\n".join(lines))

    @click.command("enable")
    def enable():
        """Share anonymous usage data (accepts the current consent version)."""
        actions.decide(store(), True)
        click.echo("Anonymous usage tracking is enabled.")
        kill = settings.kill_switch(os.environ)
        if kill:
            click.echo(
                f"Note: {kill} is set in this environment; nothing is sent while it is."
            )
        takes_effect()

    @click.command("disable")
    def disable():
        """Stop sharing; the spool of unsent reports is deleted at once."""
        actions.decide(store(), False)
        remove_spool()
        click.echo("Anonymous usage tracking is disabled. Unsent reports were deleted.")
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
            mark = "" if item["sent"] else "  [switched off]"
            sample = " (sample values)" if item["sample"] else ""
            click.echo(f"{item['report']} ({item['method']}){sample}{mark}")
            for name, value in item["fields"].items():
                click.echo(f"    {name} = {value}    # {item['meanings'][name]}")

    @click.command("reset-id")
    def reset_id():
        """Make a new instance id; nothing more is sent under the old one."""
        before = config()
        where = target(before)
        old = actions.reset_id(store(), folder())
        remove_spool()
        click.echo(
            "A new instance id was made. Unsent reports of the old one were deleted."
        )
        forget = actions.forget_address(old, where)
        if forget:
            client = Client(USER_AGENT, 3.0, _quiet_logger())
            if client.forget(forget):
                click.echo("The tracking server was asked to forget the old id.")
            else:
                click.echo("The tracking server could not be asked to forget the old id.")
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
            click.echo("Nothing sent yet.")
            return
        for e in entries:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.get("time", 0)))
            status = f" ({e['status']})" if e.get("status") else ""
            fields = ", ".join(f"{k}={v}" for k, v in (e.get("fields") or {}).items())
            click.echo(f"{when}  {e.get('report')}  {e.get('outcome')}{status}  {fields}")

    @click.command("server-data")
    @click.option("--json", "as_json", is_flag=True, help="The answer as JSON.")
    @output_option
    def server_data(as_json, output):
        """Ask the tracking server what it holds about this instance (nothing is
        asked while tracking is off)."""
        answer = fetch_server_data(target(config()), USER_AGENT, logger=_quiet_logger())
        if as_json:
            emit(answer.as_dict(), output)
            return
        if answer.state not in ("ok", "unknown"):
            raise click.ClickException(_server_data_message(answer))
        click.echo(_server_data_message(answer))
        if answer.data is not None:
            click.echo(_server_data_text(answer.data))

    return [status, enable, disable, show_preview, reset_id, sent, server_data]


def _server_data_message(answer: ServerData) -> str:
    if answer.state == "limited":
        later = f"in {answer.retry_after:.0f} seconds" if answer.retry_after else "later"
        return f"The server was asked too often. Try again {later}."
    if answer.state == "unreachable" and answer.status:
        return f"The server could not answer (HTTP {answer.status}). Try again later."
    if answer.state == "off" and answer.reason == "server_not_allowed":
        return "Nothing is asked of the configured tracking server: it is not allowed."
    return {
        "ok": "What the tracking server holds about this instance:",
        "unknown": "The server holds nothing about this instance.",
        "unsupported": "This server does not offer a view of stored data.",
        "unreachable": "The server could not be reached. Try again later.",
        "off": "Tracking is off: nothing is asked of the server.",
    }[answer.state]


def _server_data_text(data: Dict[str, Any]) -> str:
    """The server's document for a terminal. Any JSON object may come back: every
    part is read with a default."""

    def obj(value: Any) -> Dict[str, Any]:
        return value if isinstance(value, dict) else {}

    def items(value: Any) -> list:
        return [obj(v) for v in value] if isinstance(value, list) else []

    env = obj(data.get("environment"))
    lines = [f"  {key.replace('_', ' ').capitalize() + ':':<12} {data.get(key) or '-'}"
             for key in ("first_seen", "last_seen", "last_print")]  # fmt: skip
    lines.append("  Environment:")
    lines += [f"    {k}: {v}" for k, v in env.items() if k != "plugins" and v is not None]
    plugins = ", ".join(f"{p.get('id')} {p.get('version') or ''}".strip()
                        for p in items(env.get("plugins")))  # fmt: skip
    lines.append(f"  Plugins:     {plugins or '-'}")
    lines.append("  Days:")
    for day in items(data.get("days")):
        prints = obj(day.get("prints"))
        hours = day.get("active_hours")
        lines.append(
            f"    {day.get('day')}  {day.get('version') or '-'}  "
            f"{len(hours) if isinstance(hours, list) else 0} h active  prints "
            + ", ".join(f"{k} {v}" for k, v in prints.items())
        )
    lines.append("  Recent events:")
    for event in items(data.get("events")):
        text = ", ".join(f"{k}={v}" for k, v in obj(event.get("fields")).items())
        lines.append(f"    {event.get('ts')}  {event.get('event')}  {text}")
    return "\n".join(lines)


def _quiet_logger():
    import logging

    return logging.getLogger("octoprint.plugins.usage_tracking.cli")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("Run as: octoprint plugins usage_tracking:<command>")
