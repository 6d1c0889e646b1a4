"""Reconnect without loss: socket.io-client 4.8 in Node whose transport is killed mid-stream.

tests/node/recovery_client.js does the talking (`socket.io.engine.close()`, as socket.io's own
tests simulate a drop: no DISCONNECT packet) and prints what each side saw; these tests check it.
Servers run under eventlet (`python -m chatserver`) and under threading (`flask run`).
"""

from __future__ import annotations

import json
import subprocess

import pytest
from e2e_support import login, new_id
from test_node_client import NODE_DIR, node  # noqa: F401 (the fixture: node with socket.io-client 4.8)

from support import BIN, ROOT, RecordingClient, ServerProcess, chatserver_command, free_port

# alice sends 60 messages 10 ms apart: more than the default rate limit allows.
UNLIMITED = {"CHATSERVER_RATE_LIMIT_PER_SECOND": "0"}
MODES = {
    "eventlet": chatserver_command,
    "threading": lambda port: [str(BIN / "flask"), "--app", "chatserver", "run", "--port", str(port)],
}


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """Start a server in ``mode`` with extra settings; one process per (mode, settings) in this module."""
    servers: dict[tuple, ServerProcess] = {}
    log_dir = tmp_path_factory.mktemp("recovery-logs")

    def start(mode: str = "eventlet", **env: str) -> ServerProcess:
        key = (mode, *sorted(env.items()))
        if key not in servers:
            port = free_port()
            servers[key] = ServerProcess(MODES[mode](port), port, env={**UNLIMITED, **env}, log_dir=log_dir).start()
        return servers[key]

    yield start
    for server in servers.values():
        server.stop()


def run_recovery_client(node: str, url: str, scenario: str, transport: str) -> dict:  # noqa: F811 (node: a path here)
    """Run recovery_client.js and return its JSON record; fail with its output when it did not finish."""
    result = subprocess.run([node, str(NODE_DIR / "recovery_client.js"), url, scenario, transport], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"recovery_client.js failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def offsets_increase(events: list[dict]) -> bool:
    numbers = [int(event["offset"]) for event in events]
    return numbers == sorted(set(numbers))


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize("mode", ["eventlet", "threading"])
def test_a_dropped_client_recovers_every_missed_message_once_in_order(node, start, mode, transport):  # noqa: F811
    """bob's transport dies after 20 of 60 one-to-one, ALL and room messages; he reconnects recovered."""
    record = run_recovery_client(node, start(mode).url, "stream", transport)
    bob = record["bob"]
    assert bob["connects"] == [{"id": bob["firstId"], "recovered": True}], "one reconnect, same sid, recovered"
    assert bob["lastId"] == bob["firstId"] and bob["recovered"] is True
    assert [message["data"] for message in bob["messages"]] == [f"m{i}" for i in range(60)], \
        "every message once, in the order sent"
    assert offsets_increase(bob["messages"]), "every event carries a new offset, in order"
    assert {ack["code"] for ack in record["acks"]} == {"200"}
    # Within the presence grace bob never went offline for alice.
    assert {"command": "offline", "id": record["ids"]["bob"]} not in record["alice"]["presence"]


def test_beyond_the_window_a_client_connects_as_new(node, start):  # noqa: F811
    """Away longer than CHATSERVER_RECOVERY_WINDOW: recovered false, a new sid, logged out."""
    record = run_recovery_client(node, start(CHATSERVER_RECOVERY_WINDOW="1").url, "expire", "websocket")
    bob = record["bob"]
    assert bob["connects"] == [{"id": bob["lastId"], "recovered": False}]
    assert bob["lastId"] != bob["firstId"]
    assert bob["afterExpiry"]["code"] == "401", "a normal connect is not logged in"
    assert [message["data"] for message in bob["messages"]] == ["before"]


def test_after_the_presence_grace_stored_messages_follow_the_missed_ones(node, start):  # noqa: F811
    """Away longer than the grace: offline went out and the next message was stored (202); the
    recovery announces online again, then delivers the missed message and the stored one, each once."""
    record = run_recovery_client(node, start(CHATSERVER_PRESENCE_GRACE="1").url, "grace", "websocket")
    bob, alice, bob_id = record["bob"], record["alice"], record["ids"]["bob"]
    assert [(ack["data"], ack["code"]) for ack in record["acks"]] == [
        ("before", "200"), ("within the grace", "200"), ("after the grace", "202")]
    assert bob["connects"] == [{"id": bob["firstId"], "recovered": True}]
    assert [message["data"] for message in bob["messages"]] == ["before", "within the grace", "after the grace"]
    assert offsets_increase(bob["messages"])
    assert [event for event in alice["presence"] if event["id"] == bob_id] == [
        {"command": "online", "id": bob_id}, {"command": "offline", "id": bob_id}, {"command": "online", "id": bob_id}]
    assert bob["afterRecovery"]["code"] == "200", "logged in again as before"


def test_offsets_are_appended_and_recovery_off_appends_none(start):
    """Every event carries socket.io's offset (the CONNECT reply a pid); with the window 0, neither."""
    for env, offsets in (({}, True), ({"CHATSERVER_RECOVERY_WINDOW": "0"}, False)):
        client = RecordingClient(start(**env).url)
        try:
            login(client, new_id("offsets"))  # its response and presence list came with offsets, or not
            assert bool(client.offsets) is offsets
        finally:
            client.close()


def test_a_client_disconnect_ends_the_session_at_once(start):
    """disconnect() sends DISCONNECT: the user goes offline now, no grace."""
    server = start()
    watcher, leaver = RecordingClient(server.url), RecordingClient(server.url)
    try:
        login(watcher, new_id("watcher"))
        user = new_id("leaver")
        login(leaver, user)
        watcher.next("presence", command="online", id=user)
        leaver.close()
        watcher.next("presence", command="offline", id=user, timeout=3)
    finally:
        watcher.close()
