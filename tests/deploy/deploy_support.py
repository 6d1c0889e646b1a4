"""Helpers for the deployment tests: a self-signed certificate, the shipped nginx sites on free ports."""

from __future__ import annotations

import re
import select
import shutil
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

TESTS = Path(__file__).resolve().parent.parent
if str(TESTS) not in sys.path:  # tests/ has no __init__.py: make tests/support.py importable
    sys.path.insert(0, str(TESTS))

from support import ROOT  # noqa: E402

DEPLOY = ROOT / "deploy"


def require(command: str, package: str) -> str:
    """Return the path of ``command``; fail (never skip) the test when it is not installed."""
    path = shutil.which(command)
    if path is None:
        pytest.fail(f"{command} is not installed: the deployment tests need it (apt-get install {package}; "
                    "`make deps` does this)", pytrace=False)
    return path


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key; clients trust it as their CA."""
    certificate, key = directory / "chat.crt", directory / "chat.key"
    subprocess.run(
        [require("openssl", "openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )
    return certificate, key


def site(name: str, upstream_ports: list[int], listen_ports: dict[int, int],
         certificate: tuple[Path, Path] | None = None, proxy_bind: str | None = None) -> str:
    """The shipped site ``deploy/nginx/<name>`` on loopback ports, with only these things replaced.

    ``listen_ports`` maps each port the file listens on (80, 443) to a free one; IPv6 listens are
    dropped (a container may have no IPv6). ``proxy_bind`` makes nginx reach the nodes from that
    address, so that on one host the proxy and the client have different addresses.
    """
    text = (DEPLOY / "nginx" / name).read_text()
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in upstream_ports)
    text, upstreams = re.subn(r"(?m)^(\s*server 127\.0\.0\.1:\d+;\n)+", servers, text)
    text = re.sub(r"(?m)^\s*listen \[::\]:\d+( ssl)?;\n", "", text)
    text, listens = re.subn(r"(?m)^(\s*)listen (\d+)( ssl)?;",
                            lambda m: f"{m[1]}listen 127.0.0.1:{listen_ports[int(m[2])]}{m[3] or ''};", text)
    assert upstreams == 1 and listens == len(listen_ports), f"deploy/nginx/{name} changed shape: update site()"
    if certificate is not None:
        text, replaced = re.subn(r"ssl_certificate \S+;", f"ssl_certificate {certificate[0]};", text)
        text, replaced_key = re.subn(r"ssl_certificate_key \S+;", f"ssl_certificate_key {certificate[1]};", text)
        assert replaced == replaced_key == 1, f"deploy/nginx/{name} changed shape: update site()"
    if proxy_bind is not None:
        text, binds = re.subn(r"(?m)^(\s*)(proxy_pass .*;)$", rf"\g<1>\g<2>\n\g<1>proxy_bind {proxy_bind};", text)
        assert binds == 1
    return text


class OneAtATimeSSLSocket(ssl.SSLSocket):
    """An SSL socket that never reads and writes at the same time, which OpenSSL does not allow.

    python-engineio's threaded client reads a WebSocket in one thread while another writes to it;
    over TLS that now and then breaks the connection right after the handshake (python-engineio
    #461, python-socketio #1568; 1 in about 100 connections here). Waiting for data happens outside
    the lock, so a writer never waits for the peer; only the read itself, non-blocking, holds it.
    """

    def _one_at_a_time(self) -> threading.Lock:
        return self.__dict__.setdefault("_lock", threading.Lock())

    def recv(self, bufsize: int = 1024, flags: int = 0) -> bytes:
        timeout = self.gettimeout()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self.pending():
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not select.select([self], [], [], remaining)[0]:
                    raise TimeoutError("timed out")
            with self._one_at_a_time():
                self.settimeout(0)
                try:
                    return super().recv(bufsize, flags)
                except ssl.SSLWantReadError:
                    pass  # a record only part there, or no application data in it: wait again
                finally:
                    self.settimeout(timeout)

    def send(self, data: bytes, flags: int = 0) -> int:
        with self._one_at_a_time():
            return super().send(data, flags)

    def sendall(self, data: bytes, flags: int = 0) -> None:
        with self._one_at_a_time():
            return super().sendall(data, flags)


def tls_client_options(certificate: Path) -> dict:
    """python-socketio ``Client`` options that trust ``certificate`` alone, for polling and WebSocket."""
    session = requests.Session()
    session.verify = str(certificate)
    # Else REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, when set, replace it (and *_PROXY variables apply).
    session.trust_env = False
    context = ssl.create_default_context(cafile=str(certificate))
    context.sslsocket_class = OneAtATimeSSLSocket
    return {"http_session": session, "websocket_extra_options": {"sslopt": {"context": context}}}
