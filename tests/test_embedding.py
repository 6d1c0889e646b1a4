"""A host Flask app with its own routes and its own SocketIO adds the chat; neither breaks the other."""

import subprocess
import sys

import pytest
from flask import Flask
from flask_socketio import SocketIO

from chatserver import ChatServer, create_app


@pytest.fixture
def host():
    """A host app with a page, a /static folder and its own Socket.IO echo handler on '/'."""
    app = Flask("host")
    app.config.update(TESTING=True, CHATSERVER_URL_PREFIX="/chat", CHATSERVER_NAMESPACE="/chat")

    @app.get("/")
    def home():
        return "host home"

    socketio = SocketIO(app, async_mode="threading")

    @socketio.on("echo")
    def echo(data):
        return data

    ChatServer(app, socketio=socketio)
    return app, socketio


def test_host_routes_and_chat_page_coexist(host):
    app, _ = host
    http = app.test_client()
    assert http.get("/").get_data(as_text=True) == "host home"
    page = http.get("/chat/")
    assert page.status_code == 200 and b"chatserver" in page.data
    assert http.get("/chat/healthz").json["status"] == "ok"
    with http.get("/chat/static/chatserver/chat.js") as script:
        assert script.status_code == 200


def test_host_socket_events_and_chat_events_coexist(host):
    app, socketio = host
    client = socketio.test_client(app, namespace="/chat")
    client.connect("/")
    assert client.emit("echo", {"n": 1}, callback=True) == {"n": 1}
    assert client.emit("login", {"id": "alice"}, callback=True, namespace="/chat")["code"] == "200"
    # The chat did not take over the host's namespace.
    assert client.emit("login", {"id": "bob"}, callback=True) is None


def test_host_routes_get_no_cors_headers_from_the_chat(host):
    app, _ = host
    http = app.test_client()
    assert "Access-Control-Allow-Origin" not in http.get("/", headers={"Origin": "https://x.example"}).headers
    chat = http.get("/chat/healthz", headers={"Origin": "https://x.example"})
    assert chat.headers["Access-Control-Allow-Origin"] == "https://x.example"


def test_registering_twice_is_a_clear_error():
    app = create_app({"TESTING": True})
    with pytest.raises(RuntimeError, match="already registered"):
        ChatServer(app)


def test_two_apps_do_not_share_handlers():
    first, second = create_app({"TESTING": True}), create_app({"TESTING": True})
    first_state, second_state = first.extensions["chatserver"], second.extensions["chatserver"]
    assert first_state.socketio is not second_state.socketio
    client = first_state.socketio.test_client(first)
    assert client.emit("login", {"id": "alice"}, callback=True)["code"] == "200"
    assert second_state.service.presence.users() == []


def test_importing_chatserver_does_not_import_eventlet():
    code = "import sys, chatserver; chatserver.create_app(); print('eventlet' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(("setting", "message"), [
    ("no_such_authenticator_module:check", "no module 'no_such_authenticator_module' on the import path or in "
                                           "the working directory"),
    ("chatserver.config:no_such_function", "module 'chatserver.config' has no function 'no_such_function'"),
    ("chatserver.config:ENV_PREFIX", "module 'chatserver.config' has no function 'ENV_PREFIX'"),
    ("check_without_module", "expected module:function"),
])
def test_a_bad_authenticator_setting_is_refused_with_a_clear_error(setting, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = list(sys.path)
    with pytest.raises(ValueError, match=f"CHATSERVER_AUTHENTICATOR='{setting}': {message}"):
        create_app({"CHATSERVER_AUTHENTICATOR": setting})
    assert sys.path == path  # the working directory, looked in for nothing, was not left on it
