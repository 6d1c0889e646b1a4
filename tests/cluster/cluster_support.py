"""Real parts for the cluster tests: redis-server and nginx on free ports, chat nodes sharing Redis."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nginx_support
import pytest

from support import BIN, ROOT, ServerProcess, chatserver_command, free_port

REDIS_SERVER = "redis-server"
SHIPPED_NGINX_SITE = ROOT / "deploy" / "nginx" / "chatserver.conf"
# Short, so that the dead-node tests wait seconds, not the default half-minute.
NODE_TIMEOUT = 3.0


def new_prefix() -> str:
    """A Redis key prefix (and channel) no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


def require(command: str, package: str) -> str:
    """Return the path of ``command``; fail (never skip) the test when it is not installed."""
    path = shutil.which(command)
    if path is None:
        pytest.fail(f"{command} is not installed: the cluster tests need it (apt-get install {package}; "
                    "`make deps` does this)", pytrace=False)
    return path


def eventually(check, timeout: float, interval: float = 0.1):
    """Call ``check`` until it returns something truthy, and return that; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        time.sleep(interval)


class RedisServer:
    """A throwaway redis-server on a free port that keeps nothing on disk; can be killed and restarted."""

    def __init__(self, log_dir: Path) -> None:
        self.binary = require(REDIS_SERVER, "redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        """Start (or start again, on the same port) and wait until it accepts connections."""
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--logfile", str(self.log_path)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        nginx_support.wait_for_port(self.port)
        return self

    def kill(self) -> None:
        """Stop it at once, as a crash would (SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.kill()


def gunicorn_command(port: int) -> list[str]:
    """The docs' other way to start a node: gunicorn, eventlet worker, one worker."""
    return [str(BIN / "gunicorn"), "-k", "eventlet", "-w", "1", "--bind", f"127.0.0.1:{port}", "wsgi:app"]


class Node(ServerProcess):
    """One chat node on a free port, sharing ``redis_url`` under ``prefix`` and the database at ``database_url``:
    `python -m chatserver` by default."""

    def __init__(self, redis_url: str, prefix: str, log_dir: Path, database_url: str,
                 node_timeout: float = NODE_TIMEOUT, extra_env: dict[str, str] | None = None,
                 command=chatserver_command) -> None:
        port = free_port()
        env = {
            "CHATSERVER_MESSAGE_QUEUE": redis_url,
            # Nodes of one chat share one PostgreSQL database (a cluster refuses SQLite).
            "CHATSERVER_DATABASE_URL": database_url,
            "CHATSERVER_REDIS_PREFIX": prefix,
            "CHATSERVER_NODE_TIMEOUT": str(node_timeout),
            "CHATSERVER_RATE_LIMIT_PER_SECOND": "0",
            **(extra_env or {}),
        }
        super().__init__(command(port), port, env=env, log_dir=log_dir)

    def kill9(self) -> None:
        """Kill the node without letting it clean up anything."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


@contextmanager
def started_nodes(count: int, redis_url: str, database_url: str, log_dir: Path) -> Iterator[list[Node]]:
    """``count`` nodes of one new cluster (a fresh prefix), stopped on the way out."""
    prefix = new_prefix()
    started: list[Node] = []
    try:
        for _ in range(count):
            started.append(Node(redis_url, prefix, log_dir, database_url).start())
        yield started
    finally:
        for node in started:
            node.stop()


class Nginx(nginx_support.Nginx):
    """nginx in the foreground with the shipped site config, its upstream pointed at ``node_ports``."""

    def __init__(self, node_ports: list[int], log_dir: Path) -> None:
        port = free_port()
        super().__init__(site_config(node_ports, port), port, log_dir)


def site_config(node_ports: list[int], listen_port: int) -> str:
    """The shipped deploy/ site config with its upstream servers and listen port replaced."""
    text = SHIPPED_NGINX_SITE.read_text()
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in node_ports)
    text, upstreams = re.subn(r"(?m)^(\s*server 127\.0\.0\.1:\d+;\n)+", servers, text)
    text, listens = re.subn(r"(?m)^(\s*)listen \d+;", rf"\g<1>listen 127.0.0.1:{listen_port};", text)
    assert upstreams == 1 and listens == 1, "deploy/nginx/chatserver.conf changed shape: update site_config()"
    return text
