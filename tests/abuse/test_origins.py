"""Item 7: with an allowlist, other origins are refused at the Socket.IO handshake (both
transports) and get no CORS headers from the HTTP routes; listed origins and clients that send
no Origin (not browsers) are accepted. The default, as in the seed, accepts any origin."""

from __future__ import annotations

import http.client

import pytest
from abuse_support import chatserver_process, websocket_handshake_status
from raw_clients import RawPolling, RawWebSocket

ALLOWED = ["https://a.example", "https://b.example"]
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def allowlist_server(tmp_path_factory):
    with chatserver_process(tmp_path_factory.mktemp("origins"), CORS_ORIGINS=",".join(ALLOWED)) as process:
        yield process


def polling_handshake(server, origin):
    raw = RawPolling.__new__(RawPolling)
    raw.server, raw.origin = server, origin
    return raw.request("GET", query="EIO=4&transport=polling")


def healthz_headers(server, origin):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", "/healthz", headers={"Origin": origin})
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


@pytest.mark.parametrize("origin", ALLOWED)
def test_listed_origins_are_accepted_on_both_transports_and_http(allowlist_server, origin):
    status, headers, _ = polling_handshake(allowlist_server, origin)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
    assert websocket_handshake_status(allowlist_server, origin) == 101
    status, headers = healthz_headers(allowlist_server, origin)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin


def test_other_origins_are_refused_at_the_handshake_and_by_http_cors(allowlist_server):
    status, headers, body = polling_handshake(allowlist_server, EVIL)
    assert status == 400 and "Access-Control-Allow-Origin" not in headers, body
    assert websocket_handshake_status(allowlist_server, EVIL) == 400
    status, headers = healthz_headers(allowlist_server, EVIL)
    assert "Access-Control-Allow-Origin" not in headers  # the browser will not hand the answer to the page


def test_clients_without_an_origin_are_not_browsers_and_are_accepted(allowlist_server):
    assert polling_handshake(allowlist_server, None)[0] == 200
    raw = RawWebSocket(allowlist_server)  # sends no Origin
    raw.close()


def test_the_default_accepts_any_origin_as_the_seed_does(tmp_path):
    with chatserver_process(tmp_path) as server:
        status, headers, _ = polling_handshake(server, EVIL)
        assert status == 200 and headers["Access-Control-Allow-Origin"] in {EVIL, "*"}
        assert websocket_handshake_status(server, EVIL) == 101
        assert healthz_headers(server, EVIL)[1]["Access-Control-Allow-Origin"] in {EVIL, "*"}
