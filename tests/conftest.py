"""Fixtures like flaskr's: an app, its HTTP client, and a factory of Socket.IO test clients."""

import os

import postgres_support
import pytest

from chatserver import create_app


@pytest.fixture(autouse=True, scope="session")
def database_outside_the_checkout(tmp_path_factory):
    """Apps the tests make keep their SQLite file in a temp folder, not in the checkout's instance/."""
    folder = tmp_path_factory.mktemp("instance")
    os.environ.setdefault("CHATSERVER_DATABASE_URL", f"sqlite:///{folder / 'chat.sqlite3'}")


@pytest.fixture
def app(tmp_path):
    """The standalone app with test settings (no rate limit unless a test sets one), on its own SQLite file."""
    app = create_app({
        "TESTING": True,
        "CHATSERVER_RATE_LIMIT_PER_SECOND": 0,
        "CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.sqlite3'}",
    })
    yield app
    app.extensions["chatserver"].store.close()


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
