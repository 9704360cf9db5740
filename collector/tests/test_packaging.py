"""What a user installs: the sdist and the wheel hold the whole package, and the
README's first commands (``pip install ./collector``, ``tracking-collector serve``)
give a collector that answers."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile

import requests
from testkit import REPO_ROOT, Server, new_id

SOURCE = REPO_ROOT / "collector"


def shipped_files() -> set[str]:
    """Every module and data file of the source tree's package."""
    package = SOURCE / "tracking_collector"
    return {
        path.relative_to(SOURCE).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_sdist_and_wheel_hold_every_module_and_data_file(tmp_path):
    # sdist first, then the wheel built from the sdist: what pip makes of either.
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(SOURCE)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    expected = shipped_files()
    assert {"tracking_collector/openapi.json", "tracking_collector/store/writer.py"} <= (
        expected
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    assert sorted(expected - in_wheel) == []
    (sdist,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert sorted(expected - in_sdist) == []


def test_the_readme_serve_command_answers(tmp_path):
    # tracking-collector serve --host 127.0.0.1 --port <port> --db ./tracking.sqlite
    server = Server([], "./tracking.sqlite", tmp_path / "serve.log", cwd=tmp_path)
    try:
        iid = new_id()
        answer = requests.get(f"{server.url}/track/{iid}/ping/", timeout=10)
        assert answer.json() == {"ok": True}
        assert requests.get(f"{server.url}/api/stats", timeout=10).status_code == 200
    finally:
        assert server.stop() == 0
    assert (tmp_path / "tracking.sqlite").exists()
