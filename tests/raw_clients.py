"""Raw Engine.IO v4 clients: every byte on the wire is the test's own, for conformance checks and
for sending what no client library would."""

from __future__ import annotations

import http.client
import json
import socket

import websocket

from support import ServerProcess

SOCKETIO_PATH = "/socket.io/"


def exchange(server: ServerProcess, method: str, query: str, body: bytes | None = None,
             headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, dict, str]:
    """Send one request to the Engine.IO endpoint on a new connection; return status, headers and body text."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request(method, f"{SOCKETIO_PATH}?{query}", body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def request(server: ServerProcess, method: str, query: str, body: bytes | None = None,
            timeout: float = 10.0) -> tuple[int, str]:
    """Send one request to the Engine.IO endpoint on a new connection; return status and body text."""
    status, _, text = exchange(server, method, query, body, timeout=timeout)
    return status, text


class RawPolling:
    """A long-polling Engine.IO session on raw HTTP requests, from ``origin`` when given."""

    def __init__(self, server: ServerProcess, origin: str | None = None) -> None:
        self.server = server
        self.origin = origin
        status, _, body = self.request("GET")
        assert status == 200, (status, body)
        self.open = json.loads(body[1:])
        self.sid = self.open["sid"]

    def request(self, method: str, body: bytes | None = None, query: str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, dict, str]:
        """Send one request on a new connection (to this session unless ``query`` says otherwise);
        return status, headers and body text."""
        if query is None:
            query = "EIO=4&transport=polling" + (f"&sid={self.sid}" if hasattr(self, "sid") else "")
        all_headers = {"Origin": self.origin} if self.origin else {}
        all_headers.update(headers or {})
        return exchange(self.server, method, query, body, all_headers, timeout)

    def get(self, timeout: float = 10.0) -> tuple[int, str]:
        """GET what waits for the client: status and body."""
        status, _, body = self.request("GET", timeout=timeout)
        return status, body

    def packets(self) -> list[str]:
        """GET what waits for the client, which must be answered 200, as packets."""
        status, body = self.get()
        assert status == 200, (status, body)
        return body.split("\x1e")

    def post(self, payload: str) -> int:
        """POST Engine.IO packets (joined with the record separator); return the status."""
        return self.request("POST", payload.encode())[0]


class RawWebSocket:
    """A WebSocket Engine.IO session on websocket-client, answering pings on the way."""

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
        """Return the next packet that is not a PING (answered)."""
        while True:
            packet = self.ws.recv()
            if packet != "2":
                return packet
            self.ws.send("3")

    def connect_namespace(self) -> None:
        """Join the main Socket.IO namespace."""
        self.send("40")
        answer = self.receive()
        assert answer.startswith("40{"), answer

    def emit(self, event: str, payload: object) -> None:
        """Send a Socket.IO EVENT packet."""
        self.send("42" + json.dumps([event, payload]))

    def receive_event(self, event: str) -> object:
        """Return the payload of the next Socket.IO event named ``event``, skipping other packets."""
        while True:
            packet = self.receive()
            if packet.startswith("42"):
                name, *args = json.loads(packet[2:])
                if name == event:
                    return args[0] if args else None

    def closed_by_server(self, timeout: float) -> bool:
        """Return whether the server closes the connection within ``timeout`` seconds (reading all it sends)."""
        self.ws.settimeout(timeout)
        try:
            while self.ws.recv():
                pass
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
