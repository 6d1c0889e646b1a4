"""End-to-end fixtures: real `python -m chatserver` processes on free loopback ports, real clients.

One server process per module (per distinct configuration); every test uses its own login ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from e2e_support import TRANSPORTS, RecordingClient  # also puts tests/ on sys.path for `support`
from postgres_support import fresh_database, session_port

from support import ServerProcess, chatserver_command, free_port

# Tests share a server, all from 127.0.0.1: the per-address limit on failed logins has a test of its own.
SHARED_SERVER = {"CHATSERVER_LOGIN_FAILURES_PER_ADDRESS": "1000"}


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


@contextlib.contextmanager
def database(kind: str, folder, config) -> Iterator[str]:
    """An empty database of ``kind`` (sqlite or postgresql) for one test or module; its URL."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'chat.sqlite3'}"
    else:
        with fresh_database(session_port(config)) as url:
            yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory) -> Iterator[str]:
    """The database URL this module's servers share: each test module runs on SQLite and on PostgreSQL."""
    with database(request.param, tmp_path_factory.mktemp("db"), request.config) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty database for this test alone, on SQLite and on PostgreSQL."""
    with database(request.param, tmp_path, request.config) as url:
        yield url


@pytest.fixture
def connect_with(start_server, backend, transport):
    """Factory of RecordingClients connected to a server on ``backend`` with extra settings; closed after."""
    clients: list[RecordingClient] = []

    def connect(settings: dict | None = None) -> RecordingClient:
        server = start_server(CHATSERVER_DATABASE_URL=backend, **SHARED_SERVER, **(settings or {}))
        client = RecordingClient(server.url, transports=[transport])
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def connect_to(connect_with):
    """Factory of RecordingClients connected to this module's server on ``backend``."""
    return lambda: connect_with()


@pytest.fixture
def server_log(start_server, backend):
    """Return a function giving what this module's server on ``backend`` logged so far."""
    return lambda: start_server(CHATSERVER_DATABASE_URL=backend, **SHARED_SERVER).log()
