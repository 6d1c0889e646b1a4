"""Item 3: transport abuse against a real server — malformed packets, bad long-polling requests,
binary attachments, half-open and slowloris connections. None may hang a request slot, stop the
server from accepting clients, or leak memory."""

from __future__ import annotations

import json
import socket
import time

import pytest
from abuse_support import chatserver_process, rss_kib, still_serves, wait_until
from raw_clients import RawPolling, RawWebSocket

from support import RecordingClient

HEAD_TIMEOUT = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server with short pings and head deadline, so abandoned things expire within the test."""
    with chatserver_process(
        tmp_path_factory.mktemp("transport"),
        PING_INTERVAL=1,
        PING_TIMEOUT=2,
        REQUEST_HEAD_TIMEOUT=HEAD_TIMEOUT,
        RATE_LIMIT_PER_SECOND=0,
    ) as process:
        yield process


@pytest.fixture
def bystander(server):
    """A logged-in client that must keep getting its messages whatever the others do."""
    client = RecordingClient(server.url)
    assert client.call("login", {"id": "bystander"})["code"] == "200"
    yield client
    assert client.call("message", {"recepient": "bystander", "data": "after"})["code"] == "200"
    assert client.next("message", data="after")
    client.close()


MALFORMED_PACKETS = [
    "",
    "x",
    "9",
    "0",  # OPEN from a client
    "2",  # PING from a client (Engine.IO v4 clients only answer pings)
    "5",
    "6",
    "7",
    "4",
    "42",
    "42[",
    "42{}",
    "42[]",
    "42[1]",
    "42[null]",
    '42["message"',
    '42["login",{"id":"a"},{"x":1},[2]]',
    "4" + "[" * 30000 + "]" * 30000,  # nesting deep enough to exhaust the JSON decoder's recursion
    '4' + "2" * 200 + '["login",{"id":"a"}]',  # an ack id of 200 digits
    '42/nowhere,["login",{"id":"a"}]',
    "40/nowhere",
    "41/nowhere",
    "43",
    "431[]",
    "44",
    "44{}",
    "47",
    '4' + "5" * 11 + '-["login"]',  # an absurd attachment count
    '42["connect"]',
    '42["disconnect"]',
    "4" + json.dumps(["message", {"recepient": "ALL", "data": "\ud800"}]),  # a lone surrogate, escaped
    b"\xff\xfe\x00garbage",
]


def test_malformed_packets_over_websocket_do_not_disturb_the_server(server, bystander):
    for packet in MALFORMED_PACKETS:
        raw = RawWebSocket(server)
        try:
            raw.connect_namespace()
            raw.send(packet)
            raw.emit("login", {"id": "after-garbage"})
            # The connection either carries on (the packet was ignored or answered) or is closed.
            try:
                assert raw.receive_event("response")["code"] in {"200", "400"}
            except Exception:
                pass
        finally:
            raw.close()
    still_serves(server)


def test_malformed_long_polling_bodies_are_answered_at_once(server, bystander):
    for body in ["x", "2", "0", "9", "4", "42[", "4" + "[" * 30000, "1", "\x1e\x1e", "bad\x1e42[]"]:
        raw = RawPolling(server)
        started = time.monotonic()
        status = raw.post(body)
        assert status in {200, 400}, body
        # engine.io answers a bad POST by closing the session and waiting for a GET to collect the
        # last packets; chatserver bounds that wait (it would hang for good without a GET pending).
        assert time.monotonic() - started < 5, body
    still_serves(server)


def test_bad_long_polling_requests_are_refused(server, bystander):
    raw = RawPolling(server)
    assert raw.request("POST", b"40", query="EIO=4&transport=polling&sid=nonexistent")[0] == 400
    assert raw.request("POST", b"40", query="EIO=4&transport=polling")[0] == 400
    assert raw.request("GET", query="EIO=3&transport=polling")[0] == 400
    assert raw.request("GET", query="EIO=4&transport=carrier-pigeon")[0] == 400
    assert raw.request("PUT", b"40")[0] == 405


def test_posts_while_no_get_is_pending_are_kept_for_the_next_get(server, bystander):
    raw = RawPolling(server)
    assert raw.post("40") == 200
    assert raw.post('42["login",{"id":"poster"}]') == 200
    assert raw.post('42["message",{"recepient":"bystander","data":"from a poster"}]') == 200
    assert bystander.next("message", data="from a poster")["sender"] == "poster"
    packets = raw.packets()
    assert packets[0].startswith("40")
    assert any('"code":"200"' in packet and '"login"' in packet for packet in packets)


def test_a_stalled_polling_body_times_out_and_frees_its_slot(server, bystander):
    raw = RawPolling(server)
    connection = socket.create_connection(("127.0.0.1", server.port))
    try:
        path = f"/socket.io/?EIO=4&transport=polling&sid={raw.sid}"
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4".encode())
        connection.settimeout(10)
        started = time.monotonic()
        # Never sends the other 99 bytes: the read times out after ping interval + timeout (3 s).
        while connection.recv(4096):
            pass
        assert time.monotonic() - started < 8
    finally:
        connection.close()
    still_serves(server)


def test_binary_packets_are_refused_so_attachments_cannot_pile_up(tmp_path):
    # Default pings: this client sends for seconds without reading, so it answers none.
    with chatserver_process(tmp_path) as server:
        raw = RawWebSocket(server)
        try:
            raw.connect_namespace()
            before = rss_kib(server.process.pid)
            # Announce a binary event with 99,999 attachments, then send 400 of 60 KB (24 MB).
            raw.send("45" + '99999-["message",{"_placeholder":true,"num":0}]')
            attachment = b"\x00" * 60_000
            for _ in range(400):
                raw.send(attachment)
            # The announcement was dropped, so this text packet is an event again, not attachment 401.
            raw.emit("login", {"id": "binary-sender"})
            assert raw.receive_event("response")["code"] == "200"
            grown = rss_kib(server.process.pid) - before
            print(f"server RSS growth after 24 MB of binary attachments: {grown} KiB")
            assert grown < 12_000
        finally:
            raw.close()


def test_a_binary_packet_announced_and_never_completed_leaves_the_socket_usable(server, bystander):
    raw = RawWebSocket(server)
    try:
        raw.connect_namespace()
        raw.send('451-["message",{"_placeholder":true,"num":0}]')
        raw.emit("login", {"id": "half-binary"})
        assert raw.receive_event("response")["code"] == "200"
    finally:
        raw.close()


def test_a_half_open_connection_is_closed_after_the_head_deadline(server, bystander):
    silent = socket.create_connection(("127.0.0.1", server.port))
    try:
        silent.settimeout(HEAD_TIMEOUT + 5)
        started = time.monotonic()
        assert silent.recv(1) == b""  # closed by the server, having sent nothing
        assert time.monotonic() - started < HEAD_TIMEOUT + 3
    finally:
        silent.close()


def test_slowloris_connections_are_cut_and_do_not_stop_new_clients(server, bystander):
    attackers = []
    try:
        for _ in range(200):
            attacker = socket.create_connection(("127.0.0.1", server.port))
            attacker.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
            attackers.append(attacker)
        started = time.monotonic()
        still_serves(server)  # while 200 heads trickle in
        for _ in range(3):  # one header byte every half second, well inside any per-read timeout
            time.sleep(0.5)
            for attacker in attackers:
                try:
                    attacker.sendall(b"X")
                except OSError:
                    pass

        def all_cut():
            for attacker in attackers:
                attacker.setblocking(False)
                try:
                    if attacker.recv(1) != b"":
                        return False
                except BlockingIOError:
                    return False
                except OSError:
                    pass
            return True

        assert wait_until(all_cut, timeout=HEAD_TIMEOUT + 5)
        assert time.monotonic() - started < HEAD_TIMEOUT + 6
    finally:
        for attacker in attackers:
            attacker.close()
    still_serves(server)


def test_many_abandoned_sessions_expire_without_leaking(server, bystander):
    def abandon_sessions(count):
        for _ in range(count):
            RawPolling(server)
        still_serves(server)
        # Ping interval 1 s + timeout 2 s: the abandoned sessions are closed within a few seconds.
        time.sleep(5)
        return rss_kib(server.process.pid)

    first = abandon_sessions(500)
    second = abandon_sessions(500)
    print(f"server RSS after 500 abandoned sessions: {first} KiB; after 500 more: {second} KiB")
    assert second - first < 10_000


def test_heads_bodies_and_replies_bigger_than_the_connection_buffers_are_served(server, bystander):
    """The HTTP read and write buffers are 1 KiB (headdeadline.py): bigger ones go around them."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * 8000 + b"\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := raw.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200") and b'"status"' in reply

    polling = RecordingClient(server.url, transports=["polling"], headers={"X-Padding": "p" * 6000})
    try:
        assert polling.call("login", {"id": "big-polling"})["code"] == "200"
        text = "한" * 1900  # about 11 KB of JSON escapes each way
        assert polling.call("message", {"recepient": "big-polling", "data": text})["code"] == "200"
        assert polling.next("message", data=text)["sender"] == "big-polling"
    finally:
        polling.close()
