"""Raw Engine.IO v4 clients for the conformance tests: every byte on the wire is the test's own."""

from __future__ import annotations

import http.client
import json

import websocket

from support import ServerProcess

SOCKETIO_PATH = "/socket.io/"


def request(server: ServerProcess, method: str, query: str, body: bytes | None = None,
            timeout: float = 10.0) -> tuple[int, str]:
    """Send one request to the Engine.IO endpoint on a new connection; return status and body text."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request(method, f"{SOCKETIO_PATH}?{query}", body=body)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


class RawPolling:
    """A long-polling Engine.IO session on raw HTTP requests."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        status, body = request(server, "GET", "EIO=4&transport=polling")
        assert status == 200, (status, body)
        self.open = json.loads(body[1:])
        self.sid = self.open["sid"]
        self.query = f"EIO=4&transport=polling&sid={self.sid}"

    def get(self, timeout: float = 10.0) -> tuple[int, str]:
        """GET what waits for the client: status and body."""
        return request(self.server, "GET", self.query, timeout=timeout)

    def packets(self) -> list[str]:
        """GET what waits for the client, which must be answered 200, as packets."""
        status, body = self.get()
        assert status == 200, (status, body)
        return body.split("\x1e")

    def post(self, payload: str) -> int:
        """POST Engine.IO packets (joined with the record separator); return the status."""
        return request(self.server, "POST", self.query, payload.encode())[0]


class RawWebSocket:
    """A WebSocket Engine.IO session on websocket-client, answering pings on the way."""

    def __init__(self, server: ServerProcess, query: str = "") -> None:
        url = f"ws://127.0.0.1:{server.port}{SOCKETIO_PATH}?EIO=4&transport=websocket{query}"
        self.ws = websocket.create_connection(url, timeout=5)
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
        """Return the payload of the next Socket.IO event named ``event``."""
        while True:
            packet = self.receive()
            assert packet.startswith("42"), f"expected an event, got {packet!r}"
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
            self.ws.shutdown()
