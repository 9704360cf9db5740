"""Entry point: ``python -m benchmarks [--rows 1,2,...]`` prints the Markdown table."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from typing import Callable, Dict, List

from . import common
from .common import Row


def _modules() -> Dict[str, Callable[[], List[Row]]]:
    from . import (
        collector,
        collector_exports,
        collector_store,
        hostcost,
        malformed,
        memory,
        serve,
        shutdown,
        throughput,
    )

    return {
        "1": hostcost.run,
        "2": throughput.run,
        "3": shutdown.run,
        "4": memory.run,
        "5": malformed.run,
        "6": serve.run,
        "7": collector.run,
        "7s": collector_store.stats_rows,
        "7d": collector_store.size_rows,
        "7h": collector_store.history_rows,
        "7e": collector_exports.run,
    }


def header() -> str:
    from octoprint import __version__ as octoprint_version

    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return "\n".join(
        [
            "# OctoPrint-UsageTracking benchmark: ours vs. the bundled tracking plugin",
            "",
            f"- Date: {now}",
            f"- Python: {platform.python_version()} ({platform.python_implementation()})",
            f"- OctoPrint: {octoprint_version}",
            f"- CPUs: {os.cpu_count()} ({platform.machine()}, {platform.system()})",
            "",
        ]
    )


def table(rows: List[Row]) -> str:
    lines = [
        "| # | Metric | Ours | Bundled | Ours/Bundled | Goal | Met |",
        "|---|---|---:|---:|---:|---|:---:|",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "–"}[r.met]
        lines.append(
            f"| {r.number} | {r.metric} | {r.ours} | {r.bundled} | {r.ratio} "
            f"| {r.goal} | {met} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--rows", default="1,2,3,4,5,6,7,7s,7d,7h", help="comma separated rows to run"
    )
    args = parser.parse_args(argv)
    common.prepare()
    started = time.monotonic()
    modules = _modules()
    rows: List[Row] = []
    for key in [k.strip() for k in args.rows.split(",") if k.strip()]:
        print(f"running row {key} ...", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        try:
            rows.extend(modules[key]())
        except Exception as exc:  # one broken row must not hide the others
            rows.extend(common.failed(key, f"row {key}", exc))
        print(f"  row {key}: {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
    print(header())
    print(table(rows))
    print()
    print(f"Runtime: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
