"""No traceback reaches a client: what engine.io cannot decode is refused with a close frame or a plain 400.

Raw sockets against `python -m chatserver` and `gunicorn -k eventlet`, so that every byte the
server sends back is seen, as an attacker would see it.
"""

from __future__ import annotations

import base64
import http.client
import os
import signal
import socket
import struct

import pytest
from abuse_support import still_serves
from raw_clients import RawPolling

from support import BIN, ROOT, ServerProcess, chatserver_command, free_port

COMMANDS = {
    "python-m": chatserver_command,
    "gunicorn": lambda port: [str(BIN / "gunicorn"), "-k", "eventlet", "-w", "1", "--bind", f"127.0.0.1:{port}",
                              "wsgi:app"],
}
# What a client must never get back: a traceback, or paths and lines of the server's code.
LEAKS = (b"Traceback", b'File "', b"site-packages", b"500 Internal Server Error")


@pytest.fixture(scope="module", params=list(COMMANDS))
def server(request, tmp_path_factory):
    port = free_port()
    # gunicorn's SIGTERM is a graceful stop that waits seconds for idle connections; SIGINT is quick.
    stop_signal = signal.SIGINT if request.param == "gunicorn" else signal.SIGTERM
    process = ServerProcess(COMMANDS[request.param](port), port, cwd=ROOT, stop_signal=stop_signal,
                            log_dir=tmp_path_factory.mktemp(request.param)).start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


def open_websocket(port: int, sid: str | None = None) -> tuple[socket.socket, bytes]:
    """Send the WebSocket upgrade (new session, or upgrading ``sid``); return the socket and what followed 101."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    session = f"&sid={sid}" if sid else ""
    sock.sendall(
        f"GET /socket.io/?EIO=4&transport=websocket{session} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, rest


def send_text(sock: socket.socket, text: str) -> None:
    """Send one masked text frame, as a client must."""
    payload = text.encode()
    mask = os.urandom(4)
    assert len(payload) < 126
    sock.sendall(bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def read_until_closed(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Return everything the server sends until it closes the connection; fail if it does not within ``timeout``."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open; it sent {data!r}") from None
    finally:
        sock.close()
    return data


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split unmasked server frames into (opcode, payload); assert nothing else is there."""
    found = []
    while data:
        assert len(data) >= 2 and not data[1] & 0x80, f"not a server WebSocket frame: {data!r}"
        length, start = data[1] & 0x7F, 2
        if length == 126:
            length, start = struct.unpack("!H", data[2:4])[0], 4
        elif length == 127:
            length, start = struct.unpack("!Q", data[2:10])[0], 10
        assert len(data) >= start + length, f"truncated frame: {data!r}"
        found.append((data[0] & 0x0F, data[start : start + length]))
        data = data[start + length :]
    return found


def assert_closed_for_protocol_error(reply: bytes) -> None:
    """The reply is a close frame with status 1002 (or nothing: the connection just closed), and no leak."""
    assert not any(leak in reply for leak in LEAKS), reply
    if reply:
        ((opcode, payload),) = frames(reply)
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1002, reply


# Text messages that are no Engine.IO packet: no type digit, empty, broken base64, a digit int() takes.
NOT_PACKETS = ["abc", "", "ba", "\u0663probe"]


@pytest.mark.parametrize("message", NOT_PACKETS)
def test_a_websocket_message_that_is_no_engineio_packet_closes_the_connection(server, message):
    sock, rest = open_websocket(server.port)
    if not rest:
        rest = sock.recv(4096)
    assert rest.startswith(b"\x81") and b'0{"sid"' in rest, rest  # the OPEN packet
    send_text(sock, message)
    assert_closed_for_protocol_error(read_until_closed(sock))


@pytest.mark.parametrize("message", NOT_PACKETS)
def test_a_websocket_upgrade_whose_probe_is_no_engineio_packet_is_closed(server, message):
    """engine.io reads the upgrade's probe outside its guarded loop too; the polling session carries on."""
    polling = RawPolling(server)
    sock, rest = open_websocket(server.port, polling.sid)
    assert rest == b""
    send_text(sock, message)
    assert_closed_for_protocol_error(read_until_closed(sock))
    assert polling.post("40") == 200
    still_serves(server)


# Long-polling bodies python-engineio cannot decode: no type digit, invalid UTF-8, broken base64,
# more than its 16 packets, an empty packet, a JSONP body without its d= value.
BAD_BODIES = {
    "no-type": b"x",
    "invalid-utf-8": b"4\xff",
    "broken-base64": b"ba",
    "17-packets": b"\x1e".join([b"6"] * 17),
    "empty-packet": b"4\x1e\x1e4",
    "jsonp-without-d": b"d=",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES)
def test_a_long_polling_body_that_is_no_engineio_payload_gets_a_plain_400_and_no_logged_traceback(server, body):
    polling = RawPolling(server)
    query = f"EIO=4&transport=polling&sid={polling.sid}" + ("&j=0" if body.startswith(b"d=") else "")
    status, headers, text = polling.request("POST", body, query=query)
    assert status == 400 and headers["Content-Type"].startswith("text/plain"), (status, text)
    assert not any(leak.decode() in text for leak in LEAKS) and len(text) < 200, text
    assert polling.request("GET")[0] == 400  # the session was closed
    log = server.log()
    assert "Traceback" not in log and "post request handler error" not in log, log


BAD_QUERIES = [
    "EIO=3&transport=polling",
    "EIO=4&transport=carrier-pigeon",
    "EIO=4&transport=polling&sid=no-such-session",
    "EIO=4&transport=polling&j=not-a-number",
    "EIO=4&transport=websocket",  # without the upgrade headers
]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_a_bad_query_gets_a_plain_400(server, query):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", f"/socket.io/?{query}")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 400 and response.getheader("Content-Type").startswith("text/plain"), response.status
    assert not any(leak in body for leak in LEAKS) and len(body) < 200, body


def test_the_server_still_serves_after_the_garbage(server):
    still_serves(server)
