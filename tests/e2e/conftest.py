"""End-to-end fixtures: real `python -m chatserver` processes on free loopback ports, real clients.

One server process per module (per distinct configuration); every test uses its own login ids.
"""

from __future__ import annotations

import pytest
from e2e_support import TRANSPORTS, RecordingClient  # also puts tests/ on sys.path for `support`

from support import ServerProcess, chatserver_command, free_port


@pytest.fixture(scope="module")
def start_server(tmp_path_factory):
    """Start `python -m chatserver` with extra CHATSERVER_* settings; one process per settings per module."""
    servers: dict[tuple, ServerProcess] = {}
    log_dir = tmp_path_factory.mktemp("server-logs")

    def start(**env: str) -> ServerProcess:
        key = tuple(sorted(env.items()))
        if key not in servers:
            port = free_port()
            servers[key] = ServerProcess(chatserver_command(port), port, env=env, log_dir=log_dir).start()
        return servers[key]

    yield start
    crashed = {server.url: server.log() for server in servers.values() if server.process.poll() is not None}
    for server in servers.values():
        server.stop()
    assert not crashed, f"server processes died during the tests: {crashed}"


@pytest.fixture(scope="module")
def server(start_server):
    """The default server: `python -m chatserver` with no settings changed."""
    return start_server()


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    """Each test that connects runs once over WebSocket and once over HTTP long-polling."""
    return request.param


@pytest.fixture
def connect(server, transport):
    """Factory of connected RecordingClients (default server, the test's transport); logged out and closed after."""
    clients: list[RecordingClient] = []

    def connect(to=None, namespace: str = "/", headers: dict | None = None, transports: list | None = None):
        client = RecordingClient((to or server).url, transports=transports or [transport], namespace=namespace,
                                 headers=headers)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        if client.sio.connected:
            # Logging out first (acknowledged) makes the offline presence events go out now, not
            # during the next test, whose clients would see them.
            try:
                client.call("logout", timeout=5)
            except Exception:  # the test may have broken this socket on purpose
                pass
        client.close()
