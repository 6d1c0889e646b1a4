"""Fixtures for the cluster tests: a real redis-server, real chat nodes, clients spread over them."""

from __future__ import annotations

import contextlib
import itertools
import uuid

import pytest
from cluster_support import NODE_TIMEOUT, Node, RedisServer, new_prefix
from postgres_support import fresh_database, session_port

from support import RecordingClient


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One redis-server for the tests that do not stop it; each test keeps to its own key prefix."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def module_database(request):
    """A PostgreSQL database for the nodes a test module shares."""
    with fresh_database(session_port(request.config)) as url:
        yield url


@pytest.fixture
def start_nodes(tmp_path, request):
    """Return a function that starts ``count`` nodes on one Redis and prefix; all are stopped after the test.

    Every node the test starts shares one PostgreSQL database of its own.
    """
    started: list[Node] = []
    with contextlib.ExitStack() as stack:
        database_url = None

        def start(count: int, redis_url: str, prefix: str | None = None, node_timeout: float = NODE_TIMEOUT,
                  **options) -> list[Node]:
            nonlocal database_url
            if database_url is None:
                database_url = stack.enter_context(fresh_database(session_port(request.config)))
            prefix = prefix or new_prefix()
            nodes = [Node(redis_url, prefix, tmp_path, database_url, node_timeout=node_timeout, **options)
                     for _ in range(count)]
            for node in nodes:
                started.append(node.start())
            return nodes

        yield start
        for node in started:
            node.stop()


@pytest.fixture
def connect():
    """Return a function that connects a RecordingClient to a URL; all are closed after the test."""
    clients: list[RecordingClient] = []

    def connect_client(url: str, transports: list[str] | None = None) -> RecordingClient:
        client = RecordingClient(url, transports=transports)
        clients.append(client)
        return client

    yield connect_client
    for client in clients:
        if client.sio.connected:
            client.close()


_user_numbers = itertools.count(1)


@pytest.fixture
def user():
    """Return a function making user ids unique to this test (nodes may be shared by several tests)."""
    suffix = f"{next(_user_numbers)}-{uuid.uuid4().hex[:6]}"
    return lambda name: f"{name}-{suffix}"
