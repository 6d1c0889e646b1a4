"""CHATSERVER_TRUSTED_PROXIES: the client's address from X-Forwarded-For, only through trusted proxies."""

import ipaddress

import pytest
from flask import Flask, request
from flask_socketio import SocketIO

from chatserver import ChatServer, create_app
from chatserver.config import DEFAULTS, from_environ
from chatserver.proxies import PROXY_ADDR, PROXY_PORT, TrustedProxies, networks
from chatserver.transport import Admission


def seen_by_the_app(trusted, remote_addr, forwarded_for=None, remote_port="50000"):
    """Pass one request through the middleware and return the environ the wrapped app got."""
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b""]

    environ = {"REMOTE_ADDR": remote_addr, "REMOTE_PORT": remote_port}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    TrustedProxies(app, trusted)(environ, lambda *args: None)
    return seen


def test_an_untrusted_peer_is_the_client_whatever_it_claims():
    environ = seen_by_the_app("10.0.0.0/8", "203.0.113.5", "198.51.100.1")
    assert environ["REMOTE_ADDR"] == "203.0.113.5"
    assert environ["REMOTE_PORT"] == "50000"
    assert PROXY_ADDR not in environ


def test_a_trusted_proxy_is_replaced_by_the_address_it_forwarded():
    environ = seen_by_the_app("127.0.0.1", "127.0.0.1", "203.0.113.5", remote_port="41000")
    assert environ["REMOTE_ADDR"] == "203.0.113.5"
    # The port was the proxy's connection's: kept beside the proxy's address, not as the client's.
    assert "REMOTE_PORT" not in environ
    assert (environ[PROXY_ADDR], environ[PROXY_PORT]) == ("127.0.0.1", "41000")


def test_the_right_most_untrusted_entry_is_the_client_and_what_the_client_wrote_is_ignored():
    # The client wrote 198.51.100.1 itself; the edge proxy 10.0.0.2 appended the client's real address.
    trusted = "10.0.0.0/8, 127.0.0.1"
    assert seen_by_the_app(trusted, "127.0.0.1", "198.51.100.1, 203.0.113.5, 10.0.0.2")["REMOTE_ADDR"] == \
        "203.0.113.5"
    assert seen_by_the_app(trusted, "127.0.0.1", "198.51.100.1,203.0.113.5")["REMOTE_ADDR"] == "203.0.113.5"


def test_a_malformed_entry_ends_the_walk_at_the_trusted_hop_that_passed_it_on():
    trusted = "10.0.0.0/8"
    assert seen_by_the_app(trusted, "10.0.0.1", "203.0.113.5, not-an-ip, 10.0.0.2")["REMOTE_ADDR"] == "10.0.0.2"
    assert seen_by_the_app(trusted, "10.0.0.1", "not-an-ip")["REMOTE_ADDR"] == "10.0.0.1"
    # nginx writes bare addresses; with a port or brackets an entry is not one.
    assert seen_by_the_app(trusted, "10.0.0.1", "203.0.113.5:4711")["REMOTE_ADDR"] == "10.0.0.1"
    assert seen_by_the_app(trusted, "10.0.0.1", "[2001:db8::1]")["REMOTE_ADDR"] == "10.0.0.1"


def test_empty_entries_and_spaces_are_skipped():
    assert seen_by_the_app("10.0.0.1", "10.0.0.1", " , 203.0.113.5 ,, ")["REMOTE_ADDR"] == "203.0.113.5"


def test_no_header_or_an_empty_one_leaves_the_proxy_as_the_client():
    for header in (None, "", " , "):
        environ = seen_by_the_app("10.0.0.1", "10.0.0.1", header)
        assert environ["REMOTE_ADDR"] == "10.0.0.1" and PROXY_ADDR not in environ


def test_when_every_entry_is_trusted_the_left_most_is_the_client():
    assert seen_by_the_app("10.0.0.0/8", "10.0.0.1", "10.0.0.7, 10.0.0.3")["REMOTE_ADDR"] == "10.0.0.7"


def test_ipv6_and_ipv4_seen_through_a_dual_stack_socket():
    assert seen_by_the_app("2001:db8::/32", "2001:db8::1", "2001:db8:ffff::9, 2001:db8::2")["REMOTE_ADDR"] == \
        "2001:db8:ffff::9"
    # A listener on :: sees IPv4 peers as ::ffff:a.b.c.d: still the trusted 127.0.0.1.
    assert seen_by_the_app("127.0.0.1", "::ffff:127.0.0.1", "203.0.113.5")["REMOTE_ADDR"] == "203.0.113.5"
    assert seen_by_the_app("127.0.0.1", "127.0.0.1", "::ffff:203.0.113.5")["REMOTE_ADDR"] == "203.0.113.5"


def test_a_peer_that_is_no_ip_address_is_never_trusted():
    # A Unix socket peer has no address; trusting everything still trusts no non-address.
    environ = seen_by_the_app("0.0.0.0/0, ::/0", "", "203.0.113.5")
    assert environ["REMOTE_ADDR"] == ""


def test_the_setting_parses_addresses_and_blocks_and_names_itself_when_wrong():
    parsed = from_environ({"CHATSERVER_TRUSTED_PROXIES": "127.0.0.1, ::1,10.0.0.0/8"})["CHATSERVER_TRUSTED_PROXIES"]
    assert parsed == (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"),
                      ipaddress.ip_network("10.0.0.0/8"))
    assert from_environ({"CHATSERVER_TRUSTED_PROXIES": ""})["CHATSERVER_TRUSTED_PROXIES"] == ()
    for wrong in ("nginx.local", "10.0.0.5/8", "10.0.0.0/33"):
        with pytest.raises(ValueError, match="CHATSERVER_TRUSTED_PROXIES"):
            from_environ({"CHATSERVER_TRUSTED_PROXIES": wrong})
    assert networks(["127.0.0.1", ipaddress.ip_network("10.0.0.0/8")]) == (
        ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


def test_by_default_no_one_is_trusted_and_nothing_is_wrapped(tmp_path):
    assert DEFAULTS["CHATSERVER_TRUSTED_PROXIES"] == ()
    app = create_app({"CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.sqlite3'}"})
    try:
        assert isinstance(app.wsgi_app, Admission)
    finally:
        app.extensions["chatserver"].store.close()


def test_the_middleware_wraps_the_whole_app_outside_admission(tmp_path):
    app = create_app({"CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.sqlite3'}",
                      "CHATSERVER_TRUSTED_PROXIES": "127.0.0.1"})
    app.add_url_rule("/whoami", "whoami", lambda: request.remote_addr)
    try:
        # Outside admission, so its per-address cap counts clients, not the proxy.
        assert isinstance(app.wsgi_app, TrustedProxies)
        assert isinstance(app.wsgi_app.wsgi_app, Admission)
        client = app.test_client()
        through_proxy = client.get("/whoami", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                   headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.5"})
        assert through_proxy.text == "203.0.113.5"
        direct = client.get("/whoami", environ_base={"REMOTE_ADDR": "192.0.2.8"},
                            headers={"X-Forwarded-For": "203.0.113.5"})
        assert direct.text == "192.0.2.8"
    finally:
        app.extensions["chatserver"].store.close()


def test_a_host_app_with_its_own_socketio_sees_the_client_too(tmp_path):
    app = Flask("host")
    app.config.update(CHATSERVER_DATABASE_URL=f"sqlite:///{tmp_path / 'chat.sqlite3'}",
                      CHATSERVER_TRUSTED_PROXIES="10.0.0.0/8")
    app.add_url_rule("/whoami", "whoami", lambda: request.remote_addr)
    ChatServer(app, socketio=SocketIO(app, async_mode="threading"))
    try:
        response = app.test_client().get("/whoami", environ_base={"REMOTE_ADDR": "10.1.2.3"},
                                         headers={"X-Forwarded-For": "203.0.113.5"})
        assert response.text == "203.0.113.5"
    finally:
        app.extensions["chatserver"].store.close()
