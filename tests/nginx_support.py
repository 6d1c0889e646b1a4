"""A real nginx in the foreground on free loopback ports, serving one site config, for the tests that need it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

NGINX = "/usr/sbin/nginx"


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts TCP connections on loopback ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


class Nginx:
    """nginx in the foreground with ``site`` (a site file's text) in its ``http`` block, listening on ``port``."""

    def __init__(self, site: str, port: int, log_dir: Path, scheme: str = "http") -> None:
        self.binary = NGINX
        if not os.access(self.binary, os.X_OK):
            pytest.fail(f"{NGINX} is not installed: the nginx tests need it (apt-get install nginx; "
                        "`make deps` does this)", pytrace=False)
        self.port = port
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.prefix = Path(tempfile.mkdtemp(prefix="nginx-", dir=log_dir))
        self.prefix.chmod(0o755)  # run as root, nginx's workers are `nobody` and must reach their temp dirs
        self.config_path = self.prefix / "nginx.conf"
        self.config_path.write_text(self.main_config(site))
        self.process: subprocess.Popen | None = None

    def main_config(self, site: str) -> str:
        """A whole nginx.conf around the site: temp paths, no root, logs in the prefix."""
        prefix = self.prefix
        return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{site}
}}
"""

    def start(self) -> Nginx:
        """Start nginx and wait until it listens."""
        command = [self.binary, "-p", str(self.prefix), "-c", str(self.config_path),
                   "-e", str(self.prefix / "error.log"), "-g", "daemon off;"]
        self.log_path = self.prefix / "stdout.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"nginx did not start:\n{self.log()}") from None
        return self

    def stop(self) -> None:
        """Stop nginx (SIGQUIT lets it finish; SIGKILL if it does not)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()

    def log(self) -> str:
        """What nginx printed and logged as errors."""
        parts = [path.read_text(errors="replace") for path in (self.log_path, self.prefix / "error.log")
                 if path.exists()]
        return "\n".join(parts)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
