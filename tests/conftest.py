"""Fixtures like flaskr's: an app, its HTTP client, and a factory of Socket.IO test clients."""

import postgres_support
import pytest

from chatserver import create_app


@pytest.fixture
def app():
    """The standalone app with test settings (no rate limit unless a test sets one)."""
    return create_app({"TESTING": True, "CHATSERVER_RATE_LIMIT_PER_SECOND": 0})


@pytest.fixture
def client(app):
    """Flask's HTTP test client."""
    return app.test_client()


@pytest.fixture
def connect(app):
    """Return a function that connects one more Socket.IO test client to ``app``."""
    clients = []

    def connect_client(namespace=None, **kwargs):
        socketio = app.extensions["chatserver"].socketio
        test_client = socketio.test_client(app, namespace=namespace, **kwargs)
        clients.append(test_client)
        return test_client

    yield connect_client
    for test_client in clients:
        if test_client.is_connected():
            test_client.disconnect()


@pytest.fixture
def postgres_url(request):
    """A PostgreSQL database created for this test alone and dropped after it, as a ``postgresql://`` URL."""
    with postgres_support.fresh_database(postgres_support.session_port(request.config)) as url:
        yield url
