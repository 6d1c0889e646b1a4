"""Helpers for the abuse tests: raw Engine.IO clients, server memory, a started server."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from pathlib import Path

import websocket

from support import RecordingClient, ServerProcess, chatserver_command, free_port

SOCKETIO_PATH = "/socket.io/"


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


class RawWebSocket:
    """An Engine.IO v4 WebSocket client that speaks raw packets, for sending what no library would."""

    def __init__(self, server: ServerProcess, query: str = "", origin: str | None = None,
                 receive_buffer: int | None = None, timeout: float = 5.0) -> None:
        url = f"ws://127.0.0.1:{server.port}{SOCKETIO_PATH}?EIO=4&transport=websocket{query}"
        options = {"sockopt": [(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)]} if receive_buffer else {}
        headers = {"Origin": origin} if origin else {}
        self.ws = websocket.create_connection(url, timeout=timeout, header=headers, suppress_origin=True, **options)
        self.open = json.loads(self.ws.recv()[1:])

    def send(self, packet: str | bytes) -> None:
        """Send one Engine.IO packet (text) or binary frame (bytes)."""
        if isinstance(packet, bytes):
            self.ws.send_binary(packet)
        else:
            self.ws.send(packet)

    def receive(self) -> str:
        """Return the next packet, answering pings on the way."""
        while True:
            packet = self.ws.recv()
            if packet == "2":
                self.ws.send("3")
                continue
            return packet

    def connect_namespace(self) -> None:
        """Join the default Socket.IO namespace."""
        self.send("40")
        assert self.receive().startswith("40")

    def emit(self, event: str, payload: object) -> None:
        """Send a Socket.IO EVENT packet."""
        self.send("42" + json.dumps([event, payload]))

    def receive_event(self, event: str) -> object:
        """Return the payload of the next Socket.IO event named ``event``."""
        while True:
            packet = self.receive()
            if packet.startswith("42"):
                name, *args = json.loads(packet[2:])
                if name == event:
                    return args[0] if args else None

    def closed_by_server(self, timeout: float) -> bool:
        """Return whether the server closes the connection within ``timeout`` seconds (reading all)."""
        self.ws.settimeout(timeout)
        try:
            while True:
                if not self.ws.recv():
                    return True
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return True
        except (TimeoutError, websocket.WebSocketTimeoutException):
            return False

    def close(self) -> None:
        """Close the connection, ignoring errors (the server may have closed it first)."""
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass
        finally:
            self.ws.shutdown()  # releases the socket even when the closing handshake failed


class RawPolling:
    """An Engine.IO v4 long-polling client on raw HTTP requests."""

    def __init__(self, server: ServerProcess, origin: str | None = None) -> None:
        self.server = server
        self.origin = origin
        status, _, body = self.request("GET")
        assert status == 200, (status, body)
        self.open = json.loads(body[1:])
        self.sid = self.open["sid"]

    def request(self, method: str, body: bytes | None = None, query: str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, dict, str]:
        """Send one request on a new connection; return status, headers and body text."""
        if query is None:
            query = "EIO=4&transport=polling" + (f"&sid={self.sid}" if hasattr(self, "sid") else "")
        all_headers = {"Origin": self.origin} if self.origin else {}
        all_headers.update(headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        try:
            connection.request(method, f"{SOCKETIO_PATH}?{query}", body=body, headers=all_headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
        finally:
            connection.close()

    def post(self, payload: str) -> int:
        """POST Engine.IO packets (joined with the record separator); return the status."""
        return self.request("POST", payload.encode())[0]

    def get(self) -> list[str]:
        """GET waiting packets."""
        status, _, body = self.request("GET")
        assert status == 200, (status, body)
        return body.split("\x1e")
