"""Item 1: every limit holds against a real server, and each one follows its setting."""

from __future__ import annotations

import json

import pytest
from abuse_support import chatserver_process, still_serves, wait_until
from raw_clients import RawPolling, RawWebSocket

from support import RecordingClient


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server with small, non-default limits, so the tests also prove the settings are read."""
    with chatserver_process(
        tmp_path_factory.mktemp("limits"),
        MAX_PACKET_SIZE=4096,
        MAX_MESSAGE_LENGTH=100,
        MAX_ID_LENGTH=8,
        MAX_CLIENTS_PER_ADDRESS=3,
        PING_INTERVAL=1,
        PING_TIMEOUT=1,
        # A ping timeout is a drop: its user stays online for the grace (PROTOCOL.md, reconnect without loss).
        PRESENCE_GRACE=1,
    ) as process:
        yield process


def test_the_handshake_announces_the_configured_packet_size_and_ping(server):
    raw = RawWebSocket(server)
    try:
        assert raw.open["maxPayload"] == 4096
        assert raw.open["pingInterval"] == 1000
        assert raw.open["pingTimeout"] == 1000
    finally:
        raw.close()


def test_an_oversized_websocket_frame_closes_only_that_connection(server):
    raw = RawWebSocket(server)
    try:
        raw.connect_namespace()
        raw.emit("message", {"recepient": "ALL", "data": "x" * 5000})
        assert raw.closed_by_server(timeout=5)
    finally:
        raw.close()
    still_serves(server)


def test_an_oversized_polling_body_is_refused_and_its_session_ends(server):
    raw = RawPolling(server)
    assert raw.post("40") == 200
    status, _, _ = raw.request("POST", body=b"42" + json.dumps(["message", {"data": "x" * 5000}]).encode())
    assert status == 400
    status, _, _ = raw.request("GET")
    assert status == 400  # the session is gone
    still_serves(server)


def test_data_and_id_lengths_follow_their_settings(server):
    client = RecordingClient(server.url)
    try:
        assert client.call("login", {"id": "x" * 9})["code"] == "400"
        assert client.call("login", {"id": "x" * 8})["code"] == "200"
        assert client.call("message", {"recepient": "x" * 9, "data": "hi"})["code"] == "400"
        assert client.call("message", {"recepient": "ALL", "data": "d" * 101})["code"] == "413"
        assert client.call("message", {"recepient": "ALL", "data": "d" * 100})["code"] == "200"
    finally:
        client.close()


def test_connections_per_address_are_capped_and_freed_on_disconnect(server):
    clients = [RawWebSocket(server) for _ in range(3)]
    try:
        refused = RawPolling.__new__(RawPolling)
        refused.server, refused.origin = server, None
        status, _, body = refused.request("GET", query="EIO=4&transport=polling")
        assert status == 429, body
        clients.pop().close()
        # The session counts until Engine.IO forgets it: at once for a WebSocket that closes.
        assert wait_until(lambda: refused.request("GET", query="EIO=4&transport=polling")[0] == 200, timeout=5)
    finally:
        for client in clients:
            client.close()


def test_a_client_that_answers_pings_stays_connected_through_many_intervals(server):
    """Idle but answering pings: kept for 4 intervals, twice what engine.io's writer waits for a packet."""
    idle, peer = RecordingClient(server.url), RecordingClient(server.url)
    try:
        assert idle.call("login", {"id": "idle"})["code"] == "200"
        assert peer.call("login", {"id": "peer"})["code"] == "200"
        sid = idle.sio.get_sid()
        peer.drain(wait=4.0)
        assert idle.sio.connected and idle.sio.get_sid() == sid, "the idle client was dropped and reconnected"
        assert peer.call("message", {"recepient": "idle", "data": "still there?"})["code"] == "200"
        assert idle.next("message", data="still there?")["sender"] == "peer"
    finally:
        idle.close()
        peer.close()


def test_a_client_that_stops_answering_pings_is_dropped_within_interval_plus_timeout(server):
    watcher = RecordingClient(server.url)
    silent = RawWebSocket(server)
    try:
        assert watcher.call("login", {"id": "watcher"})["code"] == "200"
        silent.connect_namespace()
        silent.emit("login", {"id": "silent"})
        watcher.next("presence", command="online", id="silent")
        # From now on `silent` reads nothing and so answers no ping (interval 1 s, timeout 1 s).
        watcher.next("presence", timeout=6, command="offline", id="silent")
    finally:
        silent.close()
        watcher.close()
