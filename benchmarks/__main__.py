"""Entry point: ``python -m benchmarks [--rows 1,2,...] [--smoke]`` prints the
Markdown table; the exit code is 1 when a row (or a case of one) did not run."""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import sys
import time
from typing import Callable, Dict, List, Tuple

from . import common
from .common import Row

#: Every row of the table, in order: its module and function in this package. A run
#: without --rows runs all of them (the README's table), and so does --smoke.
ROWS: Dict[str, Tuple[str, str]] = {
    "1": ("hostcost", "run"),
    "2": ("throughput", "run"),
    "3": ("shutdown", "run"),
    "4": ("memory", "run"),
    "5": ("malformed", "run"),
    "6": ("serve", "run"),
    "7": ("collector", "run"),
    "7s": ("collector_store", "stats_rows"),
    "7d": ("collector_store", "size_rows"),
    "7h": ("collector_store", "history_rows"),
    "7e": ("collector_exports", "run"),
}


def _row(key: str) -> Callable[[], List[Row]]:
    # Imported only now, after the run's mode is set: modules read their sizes
    # (common.sized) at import.
    module, function = ROWS[key]
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)


def header(smoke: bool) -> str:
    from octoprint import __version__ as octoprint_version

    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    lines = [
        "# OctoPrint-UsageTracking benchmark: ours vs. the bundled tracking plugin",
        "",
        f"- Date: {now}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()})",
        f"- OctoPrint: {octoprint_version}",
        f"- CPUs: {os.cpu_count()} ({platform.machine()}, {platform.system()})",
    ]
    if smoke:
        lines.append(
            "- SMOKE RUN: every row at a small size; it shows that each row runs,"
            " its figures and goals mean nothing"
        )
    return "\n".join([*lines, ""])


def table(rows: List[Row]) -> str:
    lines = [
        "| # | Metric | Ours | Bundled | Ours/Bundled | Goal | Met |",
        "|---|---|---:|---:|---:|---|:---:|",
    ]
    for r in rows:
        met = "**error**" if r.error else {True: "yes", False: "**no**", None: "–"}[r.met]
        lines.append(
            f"| {r.number} | {r.metric} | {r.ours} | {r.bundled} | {r.ratio} "
            f"| {r.goal} | {met} |"
        )
    return "\n".join(lines)


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--rows",
        default=",".join(ROWS),
        help="comma separated rows to run (default: all, %(default)s)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every row (or those of --rows) at a small size, as CI runs it: proves"
        " that the rows run, in a minute or two",
    )
    args = parser.parse_args(argv)
    args.rows = [k.strip() for k in args.rows.split(",") if k.strip()]
    unknown = [k for k in args.rows if k not in ROWS]
    if unknown:
        parser.error(f"unknown rows {', '.join(unknown)} (rows: {', '.join(ROWS)})")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    common.set_smoke(args.smoke)
    common.prepare()
    started = time.monotonic()
    rows: List[Row] = []
    broken: List[str] = []
    for key in args.rows:
        print(f"running row {key} ...", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        try:
            produced = _row(key)()
            if not produced:
                raise RuntimeError("the row produced no figures")
        except Exception as exc:  # one broken row must not hide the others
            produced = common.failed(key, f"row {key}", exc)
        rows.extend(produced)
        if any(r.error for r in produced):
            broken.append(key)
        print(f"  row {key}: {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
    print(header(args.smoke))
    print(table(rows))
    print()
    print(f"Runtime: {time.monotonic() - started:.0f} s")
    if broken:
        print(f"FAILED: rows {', '.join(broken)} did not run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
