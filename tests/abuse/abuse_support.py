"""Helpers for the abuse tests: server memory, a started server, whether it still serves."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from raw_clients import SOCKETIO_PATH

from support import RecordingClient, ServerProcess, chatserver_command, free_port


def chatserver_process(tmp_path: Path, **settings: object) -> ServerProcess:
    """A `python -m chatserver` process (not started) on a free port with CHATSERVER_<name> settings."""
    port = free_port()
    env = {f"CHATSERVER_{name}": str(value) for name, value in settings.items()}
    return ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path)


def rss_kib(pid: int) -> int:
    """Return the resident memory of process ``pid`` in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def still_serves(server: ServerProcess, user: str = "probe") -> None:
    """Assert that a fresh client can connect, log in and message itself."""
    client = RecordingClient(server.url)
    try:
        assert client.call("login", {"id": user})["code"] == "200"
        assert client.call("message", {"recepient": user, "data": "still here"})["code"] == "200"
        assert client.next("message")["data"] == "still here"
    finally:
        client.close()


def websocket_handshake_status(server: ServerProcess, origin: str) -> int:
    """Send a WebSocket upgrade request for a new session from ``origin``; return the HTTP status."""
    request = (
        f"GET {SOCKETIO_PATH}?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {origin}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(request.encode())
        return int(connection.recv(1024).split(b" ")[1])

