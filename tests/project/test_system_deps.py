"""`make test` sets the machine up itself, or stops before any test with the command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system-deps.sh"
RUNUSER = shutil.which("runuser")


def as_nobody(**env: str) -> subprocess.CompletedProcess:
    """The script as an unprivileged user, who cannot install anything. It is fed on
    stdin from /: the checkout may be somewhere nobody cannot read (under /root)."""
    assert RUNUSER and os.geteuid() == 0, "the tests run as root (see COMMON rules)"
    return subprocess.run(
        [
            RUNUSER,
            "-u",
            "nobody",
            "--",
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            "sh",
            "-s",
        ],
        input=SCRIPT.read_text(),
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
    )


def test_a_set_up_machine_passes_silently():
    done = as_nobody()
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize(
    "override, package",
    [
        ({"SYSTEM_DEPS_CHROMIUM": "/nonexistent/chromium"}, "chromium"),
        ({"SYSTEM_DEPS_FONT": "/nonexistent/font.ttf"}, "fonts-dejavu-core"),
        ({"SYSTEM_DEPS_POSTGRESQL": "/nonexistent/postgresql"}, "postgresql"),
    ],
)
def test_without_root_it_stops_with_the_exact_command(override, package):
    done = as_nobody(**override)
    assert done.returncode == 1
    assert (
        "sudo apt-get update && sudo apt-get install -y --no-install-recommends "
        f"{package}\n" in done.stderr
    ), done.stderr


def test_all_missing_packages_go_into_one_command():
    done = as_nobody(
        SYSTEM_DEPS_CHROMIUM="/nonexistent", SYSTEM_DEPS_POSTGRESQL="/nonexistent"
    )
    assert done.returncode == 1
    assert "install -y --no-install-recommends chromium postgresql\n" in done.stderr


def test_make_test_runs_it_before_any_test():
    # -n: print the recipe without running it. The check must come before pytest.
    recipe = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    check = recipe.find("scripts/system-deps.sh")
    tests = [m.start() for m in re.finditer(r"-m pytest", recipe)]
    assert check >= 0 and tests and check < min(tests), recipe
