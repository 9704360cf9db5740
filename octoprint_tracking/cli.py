"""``octoprint plugins usage_tracking:<command>``: status, enable, disable, preview,
reset-id and sent, working on the same basedir as the server.

A running server notices changes to ``config.yaml`` within seconds (its delivery worker
watches the file), so a ``disable`` stops it sending without a restart.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any, Dict

import click
import yaml

from . import catalog, consent, delivery, host, preview, reports

KEY = "usage_tracking"


def data_folder(settings: Any) -> str:
    return os.path.join(settings.getBaseFolder("data"), KEY)


def read_json(path: str, default: Any) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read_yaml(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, yaml.YAMLError):
        return {}


def running_server(folder: str):
    """The pid of a running server that uses this basedir, or None."""
    status = read_json(os.path.join(folder, delivery.STATUS_NAME), {})
    pid = status.get("pid") if isinstance(status, dict) else None
    if not isinstance(pid, int) or pid == os.getpid():
        return None
    try:
        import psutil

        return pid if psutil.pid_exists(pid) else None
    except Exception:
        return None


def forget_url(server: str, instance: str) -> str:
    """``DELETE`` address of an instance on the tracking server."""
    return server.split("{event}")[0].format(id=instance)


def commands(cli_group, pass_octoprint_ctx, *args, **kwargs):
    def settings():
        return cli_group.settings

    def data() -> Dict[str, Any]:
        return consent.merged_settings(settings().get(["plugins", KEY]))

    def config() -> consent.Config:
        return consent.Config.from_settings(data(), consent.kill_switch(os.environ))

    def save(**values) -> None:
        # force: outside the server the plugin's defaults are not registered, and
        # OctoPrint drops a set() outside known paths silently.
        for key, value in values.items():
            settings().set(["plugins", KEY, key], value, force=True)
        settings().save(force=True)
        # Read back what is really in config.yaml.
        path = getattr(settings(), "_configfile", None) or os.path.join(
            settings().getBaseFolder("base"), "config.yaml"
        )
        stored = (read_yaml(path).get("plugins") or {}).get(KEY) or {}
        if any(stored.get(key) != value for key, value in values.items()):
            raise click.ClickException("The setting could not be saved to config.yaml.")

    def remove_spool() -> None:
        try:
            os.unlink(os.path.join(data_folder(settings()), delivery.SPOOL_NAME))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise click.ClickException(
                f"Could not delete the unsent reports: {exc}"
            ) from exc

    def takes_effect() -> None:
        pid = running_server(data_folder(settings()))
        if pid:
            click.echo(f"The running server (pid {pid}) picks this up within seconds.")
        else:
            click.echo("No running server found: this takes effect at its next start.")

    @click.command("status")
    @click.option("--show-id", is_flag=True, help="Also print the instance id.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def status(show_id, as_json):
        """Decision, kill switch, consent, queue, spool and last delivery."""
        c, d = config(), data()
        folder = data_folder(settings())
        spool = read_json(os.path.join(folder, delivery.SPOOL_NAME), {})
        live = read_json(os.path.join(folder, delivery.STATUS_NAME), {})
        journal = read_json(os.path.join(folder, delivery.JOURNAL_NAME), [])
        out = {
            "decision": {True: "enabled", False: "disabled"}.get(c.enabled, "undecided"),
            "kill_switch": c.kill,
            "consent": {"accepted": c.accepted, "current": catalog.CONSENT_VERSION},
            "server": d.get("server"),
            "server_allowed": delivery.server_allowed(d.get("server")),
            "running_server": running_server(folder),
            "queued": live.get("queued") if isinstance(live, dict) else None,
            "dropped": live.get("dropped") if isinstance(live, dict) else None,
            "spooled": len(spool["reports"])
            if isinstance(spool, dict) and isinstance(spool.get("reports"), list)
            else 0,
            "last_delivery": journal[-1]
            if isinstance(journal, list) and journal
            else None,
        }
        if show_id:
            out["instance_id"] = c.unique_id
        if as_json:
            click.echo(json.dumps(out, indent=2, sort_keys=True))
            return
        click.echo(f"Tracking:        {out['decision']}")
        click.echo(f"Kill switch:     {c.kill or 'none'}")
        click.echo(
            f"Consent version: {c.accepted} accepted, {catalog.CONSENT_VERSION} current"
        )
        click.echo(
            f"Server:          {out['server']}"
            + ("" if out["server_allowed"] else "  (refused: not https or loopback)")
        )
        if show_id:
            click.echo(f"Instance id:     {c.unique_id}")
        click.echo(f"Running server:  {out['running_server'] or 'not running'}")
        click.echo(
            f"Queued:          {out['queued'] if out['queued'] is not None else '-'}"
        )
        click.echo(f"Spooled:         {out['spooled']}")
        last = out["last_delivery"]
        if last:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["time"]))
            click.echo(f"Last delivery:   {when} {last['report']} {last['outcome']}")
        else:
            click.echo("Last delivery:   none")

    @click.command("enable")
    def enable():
        """Share anonymous usage data (accepts the current consent version)."""
        save(enabled=True, consent_version=catalog.CONSENT_VERSION)
        click.echo("Anonymous usage tracking is enabled.")
        kill = consent.kill_switch(os.environ)
        if kill:
            click.echo(
                f"Note: {kill} is set in this environment; nothing is sent while it is."
            )
        takes_effect()

    @click.command("disable")
    def disable():
        """Stop sharing; the spool of unsent reports is deleted at once."""
        save(enabled=False)
        remove_spool()
        click.echo("Anonymous usage tracking is disabled. Unsent reports were deleted.")
        takes_effect()

    @click.command("preview")
    @click.option("--json", "as_json", is_flag=True, help="The payloads as JSON.")
    def show_preview(as_json):
        """What would be sent now, field by field."""
        env = host.detect_environment(cli_group.plugin_manager)
        fields = reports.environment_fields(env, host.octoprint_version())
        live = {
            "startup": reports.make("startup", **fields),
            "shutdown": reports.make("shutdown", **fields),
            "ping": reports.ping(0, "OFFLINE"),
            "pong": host.pong(fields, cli_group.plugin_manager, settings()),
        }
        items = preview.build(live, config())
        if as_json:
            click.echo(json.dumps(items, indent=2, sort_keys=True))
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
        d = data()
        old = d.get("unique_id")
        save(unique_id=str(uuid.uuid4()))
        remove_spool()
        click.echo(
            "A new instance id was made. Unsent reports of the old one were deleted."
        )
        if old and config().active and delivery.server_allowed(d.get("server")):
            try:
                import requests

                answer = requests.delete(forget_url(d["server"], old), timeout=3)
                answer.raise_for_status()
                click.echo("The tracking server was asked to forget the old id.")
            except Exception:
                click.echo("The tracking server could not be asked to forget the old id.")
        takes_effect()

    @click.command("sent")
    @click.option("--json", "as_json", is_flag=True, help="The journal as JSON.")
    @click.option(
        "-n", "count", default=20, show_default=True, type=click.IntRange(min=1),
        help="How many.",
    )  # fmt: skip
    def sent(as_json, count):
        """The journal: what was delivered or dropped, newest last."""
        journal = read_json(
            os.path.join(data_folder(settings()), delivery.JOURNAL_NAME), []
        )
        entries = journal[-count:] if isinstance(journal, list) else []
        if as_json:
            click.echo(json.dumps(entries, indent=2, sort_keys=True))
            return
        if not entries:
            click.echo("Nothing sent yet.")
            return
        for e in entries:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.get("time", 0)))
            status = f" ({e['status']})" if e.get("status") else ""
            fields = ", ".join(f"{k}={v}" for k, v in (e.get("fields") or {}).items())
            click.echo(f"{when}  {e.get('report')}  {e.get('outcome')}{status}  {fields}")

    return [status, enable, disable, show_preview, reset_id, sent]


if __name__ == "__main__":  # pragma: no cover
    sys.exit("Run as: octoprint plugins usage_tracking:<command>")
