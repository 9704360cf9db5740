"""A self-signed certificate for 127.0.0.1 and a counting HTTP/HTTPS keep-alive server.

The certificate is made at run time with ``cryptography`` when it is installed, else
with ``openssl req -x509``. The server is the standard library's ThreadingHTTPServer
speaking HTTP/1.1 (keep-alive), its socket wrapped in TLS when a certificate is given;
it answers every request 200 (with TCP_NODELAY, as production servers do) and counts
the requests per report name.
"""

from __future__ import annotations

import datetime
import http.server
import ssl
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Optional, Tuple


def make_certificate(folder: Path) -> Tuple[Path, Path]:
    """``(cert.pem, key.pem)`` for CN and SAN IP 127.0.0.1, valid for a day."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        _with_cryptography(cert, key)
    except ImportError:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", str(key), "-out", str(cert), "-days", "1",
                "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip
    return cert, key


def _with_cryptography(cert_path: Path, key_path: Path) -> None:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


class CountingServer:
    """Loopback server answering 200 to every request, over HTTP or HTTPS."""

    def __init__(self, cert: Optional[Path] = None, key: Optional[Path] = None):
        self.counts: Counter = Counter()
        self.instances: Counter = Counter()
        self.connections = 0
        self._cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as real servers do: without it, a keep-alive client waits
            # for the delayed ACK (40 ms on Linux) between the header and body writes.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with outer._cond:
                    outer.connections += 1

            def do_GET(self):
                self._answer()

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer()

            def _answer(self):
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                parts = [p for p in self.path.partition("?")[0].split("/") if p]
                with outer._cond:
                    outer.counts[parts[2] if len(parts) > 2 else ""] += 1
                    outer.instances[parts[1] if len(parts) > 1 else ""] += 1
                    outer._cond.notify_all()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self._server = Server(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert), str(key))
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True
            )
            self.scheme = "https"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/track/{{id}}/{{event}}/"

    def start(self) -> "CountingServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, event: str) -> int:
        with self._cond:
            return self.counts[event]

    def sent_by(self, instance: str) -> int:
        with self._cond:
            return self.instances[instance]

    def wait_for(self, event: str, n: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.counts[event] >= n, timeout)
