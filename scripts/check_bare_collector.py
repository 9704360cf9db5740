"""The collector as `pip install ./collector` leaves it: no extras, started with the
README's development command. Run by `make test-collector` with the python of a
fresh venv holding only the built wheel (standard library only here: that venv has
nothing else). A runtime import of a test or production extra fails this check.

Usage: <bare venv>/bin/python scripts/check_bare_collector.py
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

BIN = Path(sys.executable).parent
DEADLINE = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main() -> int:
    subprocess.run([str(BIN / "pip"), "check"], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        where = subprocess.run(
            [
                str(BIN / "python"),
                "-c",
                "import tracking_collector as t; print(t.__file__)",
            ],
            cwd=tmp,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not where.startswith(str(BIN.parent)):
            print(f"tracking_collector comes from {where}, not the venv", file=sys.stderr)
            return 1
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path(tmp, "serve.log")
        command = [str(BIN / "tracking-collector"), "serve", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--db", str(Path(tmp, "tracking.sqlite"))]
        with log.open("wb") as out:
            server = subprocess.Popen(command, cwd=tmp, stdout=out, stderr=out)
        try:
            started = time.monotonic()
            while True:
                if server.poll() is not None:
                    raise SystemExit(
                        f"serve exited {server.returncode}:\n{log.read_text()}"
                    )
                try:
                    if get(f"{base}/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() - started > DEADLINE:
                    raise SystemExit(
                        f"no /healthz within {DEADLINE} s:\n{log.read_text()}"
                    )
                time.sleep(0.2)
            status, body = get(f"{base}/track/{uuid.uuid4()}/ping/")
            assert (status, json.loads(body)) == (200, {"ok": True}), (status, body)
            status, body = get(f"{base}/api/stats")
            assert status == 200 and isinstance(json.loads(body), dict), status
            status, _ = get(f"{base}/")
            assert status == 200, status
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(30)
    print("bare install: pip check, serve, /healthz, a ping, /api/stats, / all fine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
