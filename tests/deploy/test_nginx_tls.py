"""The shipped TLS site in a real nginx with a self-signed certificate, in front of a real chatserver process."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import ssl
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

import pytest
from deploy_support import DEPLOY, make_certificate, site, tls_client_options
from nginx_support import Nginx

from support import RecordingClient, ServerProcess, chatserver_command, free_port

# nginx reaches the node from this address, so the node can tell the proxy (127.0.0.2) from the
# client behind it (127.0.0.1), both on loopback. The node trusts it as production trusts nginx.
PROXY_ADDRESS = "127.0.0.2"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate and key for localhost and 127.0.0.1."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@dataclass
class Site:
    """A chatserver node and the TLS site in front of it, and the site's plain-HTTP port."""

    nginx: Nginx
    node: ServerProcess
    http_port: int


@pytest.fixture(scope="module")
def start_site(tmp_path_factory, certificate):
    """Start a chatserver node with extra settings and the TLS site in front of it; one of each per settings."""
    started: dict[tuple, Site] = {}
    log_dir = tmp_path_factory.mktemp("deploy")
    with contextlib.ExitStack() as stack:

        def start(**env: str) -> Site:
            key = tuple(sorted(env.items()))
            if key not in started:
                port, https_port, http_port = free_port(), free_port(), free_port()
                node = stack.enter_context(ServerProcess(chatserver_command(port), port, log_dir=log_dir, env={
                    "CHATSERVER_TRUSTED_PROXIES": PROXY_ADDRESS, "CHATSERVER_RATE_LIMIT_PER_SECOND": "0", **env}))
                text = site("chatserver-tls.conf", [port], {80: http_port, 443: https_port}, certificate,
                            proxy_bind=PROXY_ADDRESS)
                nginx = stack.enter_context(Nginx(text, https_port, log_dir, scheme="https"))
                started[key] = Site(nginx, node, http_port)
            return started[key]

        yield start


@pytest.fixture
def connect(certificate):
    """Connect RecordingClients that verify the server's certificate against ours; closed after the test."""
    clients = []

    def connect_client(url: str, transports: list[str], headers: dict | None = None) -> RecordingClient:
        client = RecordingClient(url, transports=transports, headers=headers, **tls_client_options(certificate[0]))
        clients.append(client)
        return client

    yield connect_client
    for client in clients:
        if client.sio.connected:
            client.close()


def new_id(name: str) -> str:
    """A login id no other test uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("transport", ["websocket", "polling"], ids=["wss", "https-polling"])
def test_clients_log_in_and_chat_through_tls(start_site, connect, transport):
    nginx = start_site().nginx
    assert nginx.url.startswith("https://")
    alice, bob = new_id("alice"), new_id("bob")
    # python-socketio turns https:// into wss:// for the WebSocket transport.
    alice_client, bob_client = connect(nginx.url, [transport]), connect(nginx.url, [transport])
    assert alice_client.call("login", {"id": alice})["code"] == "200"
    assert bob_client.call("login", {"id": bob})["code"] == "200"

    assert alice_client.call("message", {"recepient": bob, "data": "over TLS"})["code"] == "200"
    assert bob_client.next("message", data="over TLS")["sender"] == alice
    assert bob_client.call("message", {"recepient": alice, "data": "and back"})["code"] == "200"
    assert alice_client.next("message", data="and back")["sender"] == bob
    assert alice_client.sio.transport() == bob_client.sio.transport() == transport


def test_a_client_that_does_not_trust_the_certificate_gets_nowhere(start_site):
    nginx = start_site().nginx
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(nginx.url + "/healthz", timeout=5)


def test_plain_http_is_sent_to_https_and_https_asks_to_stay(start_site, certificate):
    nginx = start_site().nginx
    connection = http.client.HTTPConnection("127.0.0.1", start_site().http_port, timeout=5)
    connection.request("GET", "/socket.io/?EIO=4&transport=polling")
    response = connection.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == "https://127.0.0.1/socket.io/?EIO=4&transport=polling"
    connection.close()

    context = ssl.create_default_context(cafile=str(certificate[0]))
    with urllib.request.urlopen(nginx.url + "/healthz", timeout=5, context=context) as response:
        assert response.status == 200
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_node_logs_and_limits_the_client_behind_nginx_not_the_proxy(start_site, connect):
    deployed = start_site(CHATSERVER_LOGIN_FAILURES_PER_ADDRESS="3", CHATSERVER_LOGIN_FAILURES_PER_ID="0")
    nginx, node = deployed.nginx, deployed.node
    victim = new_id("victim")
    assert connect(nginx.url, ["websocket"]).call("register", {"id": victim, "password": PASSWORD})["code"] == "200"

    # Each client claims another address of its own; nginx appends the one it saw (127.0.0.1).
    codes = []
    for number in range(4):
        client = connect(nginx.url, ["websocket"], headers={"X-Forwarded-For": f"198.51.100.{number}"})
        codes.append(client.call("login", {"id": victim, "password": "wrong password"})["code"])
    assert codes == ["401", "401", "401", "429"]
    # The failures were counted against 127.0.0.1, so a direct client from there is refused too; had
    # they been counted against the proxy (127.0.0.2), it would get 401.
    direct = connect(node.url, ["websocket"], headers={"X-Forwarded-For": "198.51.100.9"})
    assert direct.call("login", {"id": victim, "password": "wrong password"})["code"] == "429"

    log = node.log()
    assert f"connection {client.sio.get_sid()} from 127.0.0.1 via {PROXY_ADDRESS}:" in log
    # Not trusted, the direct client's own header is ignored: its address and port, as before.
    assert f"connection {direct.sio.get_sid()} from 127.0.0.1:" in log
    assert f"refused login for {victim} from 127.0.0.1" in log
    assert "198.51.100." not in log


class RecordingUpstream(http.server.ThreadingHTTPServer):
    """An HTTP server on a free loopback port that records the headers of each request it gets."""

    def __init__(self) -> None:
        self.headers: list = []
        recorded = self.headers

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append(self.headers)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.mark.parametrize("name, scheme", [("chatserver.conf", "http"), ("chatserver-tls.conf", "https")])
def test_the_sites_tell_the_node_who_the_client_is(tmp_path, certificate, name, scheme):
    upstream = RecordingUpstream()
    port = free_port()
    ports = {80: port} if scheme == "http" else {80: free_port(), 443: port}
    text = site(name, [upstream.server_address[1]], ports, certificate if scheme == "https" else None)
    try:
        with Nginx(text, port, tmp_path, scheme=scheme) as nginx:
            context = ssl.create_default_context(cafile=str(certificate[0]))
            request = urllib.request.Request(nginx.url + "/healthz", headers={"X-Forwarded-For": "198.51.100.7"})
            with urllib.request.urlopen(request, timeout=5, context=context if scheme == "https" else None):
                pass
    finally:
        upstream.shutdown()
        upstream.server_close()
    [headers] = upstream.headers
    assert headers["X-Forwarded-For"] == "198.51.100.7, 127.0.0.1"
    assert headers["X-Real-IP"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == scheme
    assert headers["Host"] == "127.0.0.1"


def test_both_sites_proxy_alike():
    # The TLS site is the plain one plus TLS: a fix to one's upstream, map or location belongs in both.
    def proxying(name: str) -> list[str]:
        text = (DEPLOY / "nginx" / name).read_text()
        blocks = []
        for start in ("upstream chatserver_nodes {", "map $http_upgrade", "    location / {"):
            begin = text.index(start)
            blocks.append(text[begin:text.index("\n}" if not start.startswith(" ") else "\n    }", begin)])
        # Only the node list may differ (two nodes for the cluster, the systemd unit's one here).
        blocks[0] = "\n".join(line for line in blocks[0].splitlines() if not line.strip().startswith("server "))
        return blocks

    assert proxying("chatserver.conf") == proxying("chatserver-tls.conf")
