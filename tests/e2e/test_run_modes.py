"""Every way to run the server is a real process on a free port that real clients chat through.

Each mode is checked over WebSocket, over HTTP long-polling, and with the seed's default client
behaviour (long-polling first, then the upgrade to WebSocket).
"""

from __future__ import annotations

import base64
import os
import resource
import runpy
import signal
import socket
import subprocess
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from e2e_support import RecordingClient, login, new_id

from support import BIN, PYTHON, ROOT, ServerProcess, chatserver_command, free_port

MODES = {
    "console-script": lambda port: ([str(BIN / "chatserver"), "--port", str(port)], {}),
    "python-m": lambda port: (chatserver_command(port), {}),
    "python-wsgi": lambda port: ([PYTHON, "wsgi.py"], {"CHATSERVER_PORT": str(port)}),
    "gunicorn": lambda port: (
        [str(BIN / "gunicorn"), "-k", "eventlet", "-w", "1", "--bind", f"127.0.0.1:{port}", "wsgi:app"], {}),
    "flask-run": lambda port: ([str(BIN / "flask"), "--app", "chatserver", "run", "--port", str(port)], {}),
    # The way off eventlet: gevent's worker patches, create_app follows (wsgi.py is eventlet's entry point).
    "gunicorn-gevent": lambda port: (
        [str(BIN / "gunicorn"), "-k", "gevent", "-w", "1", "--bind", f"127.0.0.1:{port}", "chatserver:create_app()"],
        {}),
}

# What the client asks for → the transport it must end up on.
CLIENT_TRANSPORTS = {
    "websocket": (["websocket"], "websocket"),
    "polling": (["polling"], "polling"),
    "seed-default": (["polling", "websocket"], "websocket"),
}


def start(mode: str, tmp_path: Path, **env: str) -> ServerProcess:
    """Start the server the way ``mode`` says, from the repository root, on a free port."""
    port = free_port()
    command, mode_env = MODES[mode](port)
    # gunicorn's SIGTERM is a graceful stop that waits seconds for idle connections; SIGINT is quick.
    stop_signal = signal.SIGINT if mode.startswith("gunicorn") else signal.SIGTERM
    return ServerProcess(command, port, env={**mode_env, **env}, cwd=ROOT, log_dir=tmp_path,
                         stop_signal=stop_signal).start()


def close_all(clients: list[RecordingClient]) -> None:
    """Close clients in parallel: python-engineio's WebSocket close can wait 3 s for the server's close frame."""
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(RecordingClient.close, clients))


@pytest.mark.parametrize("mode", MODES)
def test_run_mode_serves_the_chat_over_every_transport(mode, tmp_path):
    """Log in two users per transport, send one-to-one and to ALL, on the server started this way."""
    server = start(mode, tmp_path)
    clients = []
    try:
        for name, (transports, expected) in CLIENT_TRANSPORTS.items():
            alice = RecordingClient(server.url, transports=transports)
            bob = RecordingClient(server.url, transports=transports)
            clients += [alice, bob]
            assert (name, alice.sio.transport(), bob.sio.transport()) == (name, expected, expected)

            alice_id, bob_id = new_id("alice"), new_id("bob")
            login(alice, alice_id)
            assert {"id": alice_id, "alias": alice_id} in login(bob, bob_id)["users"]
            assert alice.call("message", {"recepient": bob_id, "data": f"private over {name}"})["code"] == "200"
            assert bob.next("message")["data"] == f"private over {name}"
            assert alice.call("message", {"recepient": "ALL", "data": f"all over {name}"})["code"] == "200"
            for client in (alice, bob):
                message = client.next("message", data=f"all over {name}")
                assert (message["sender"], message["recepient"]) == (alice_id, "ALL")
    finally:
        close_all(clients)
        server.stop()


# -- the default port -------------------------------------------------------------------------


def test_default_port_is_3000_in_the_settings(monkeypatch):
    """CHATSERVER_PORT unset: the app config, and gunicorn.conf.py's bind, say port 3000."""
    monkeypatch.delenv("CHATSERVER_PORT", raising=False)
    monkeypatch.delenv("CHATSERVER_HOST", raising=False)
    from chatserver import create_app

    assert create_app().config["CHATSERVER_PORT"] == 3000
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "127.0.0.1:3000"


DEFAULT_PORT_PROBE = textwrap.dedent(
    """
    import subprocess, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from support import PYTHON, RecordingClient, ServerProcess
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)  # a new namespace's loopback is down
    with ServerProcess([PYTHON, "-m", "chatserver"], 3000, log_dir=Path(sys.argv[2])):
        client = RecordingClient("http://127.0.0.1:3000")
        ack = client.call("login", {"id": "alice"})
        client.close()
        print("LOGIN", ack["code"])
    """
)


def test_python_m_chatserver_listens_on_3000_by_default(tmp_path):
    """`python -m chatserver` with no --port and no CHATSERVER_PORT serves on 3000.

    It runs in a private network namespace (unshare --net, as root), so port 3000 is free there
    whatever else this machine runs; a client in the same namespace logs in on 3000.
    """
    env = {key: value for key, value in os.environ.items() if key not in ("CHATSERVER_PORT", "CHATSERVER_HOST")}
    probe = subprocess.run(
        ["unshare", "--net", "--", PYTHON, "-c", DEFAULT_PORT_PROBE, str(ROOT / "tests"), str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert probe.returncode == 0, (
        f"the probe failed (it needs `unshare --net` and `ip`, i.e. root and util-linux + iproute2):\n"
        f"{probe.stdout}\n{probe.stderr}"
    )
    assert "LOGIN 200" in probe.stdout


# -- more connections than eventlet's default pool ----------------------------------------------

RAW_CONNECTIONS = 1100  # eventlet.wsgi.server's default pool is 1,024 green threads


def open_raw_websocket(port: int) -> socket.socket:
    """Open a TCP connection and send the WebSocket upgrade request for Engine.IO v4."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    return sock


def read_open_packet(sock: socket.socket) -> str:
    """Read the 101 response and the first WebSocket frame: the Engine.IO open packet."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed during the upgrade: {data!r}"
        data += chunk
    head, _, frame = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    while len(frame) < 2 or len(frame) < 2 + (frame[1] & 0x7F):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed before the open packet: {frame!r}"
        frame += chunk
    assert frame[0] == 0x81 and (frame[1] & 0x7F) < 126, frame  # one short unmasked text frame
    return frame[2 : 2 + (frame[1] & 0x7F)].decode()


@pytest.fixture
def many_open_files():
    """Raise this process's soft limit on open files for the duration of the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = RAW_CONNECTIONS + 500
    assert hard == resource.RLIM_INFINITY or hard >= wanted, f"hard RLIMIT_NOFILE {hard} < {wanted}: raise it"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("mode", ["python-m", "gunicorn"])
def test_more_connections_than_eventlets_default_pool(mode, tmp_path, many_open_files):
    """Hold 1,100 WebSocket connections open (each got its Engine.IO open packet); a normal client still
    connects, logs in and gets its ack."""
    server = start(mode, tmp_path)
    sockets: list[socket.socket] = []
    try:
        sockets = [open_raw_websocket(server.port) for _ in range(RAW_CONNECTIONS)]
        for number, sock in enumerate(sockets):
            try:
                packet = read_open_packet(sock)
            except TimeoutError:
                message = f"connection {number + 1} of {RAW_CONNECTIONS} got no open packet in 10 s"
                raise AssertionError(message) from None
            assert packet.startswith('0{"sid":'), packet
        client = RecordingClient(server.url)
        try:
            assert client.call("login", {"id": new_id("alice")})["code"] == "200"
        finally:
            client.close()
    finally:
        for sock in sockets:
            sock.close()
        server.stop()

