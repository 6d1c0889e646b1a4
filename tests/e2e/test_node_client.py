"""A client written like the seed's, on Node with socket.io-client 4.8, against `python -m chatserver`.

tests/node/seed_client.js does the talking and prints what it received as JSON; these tests
check that record. Its dependencies come from `npm ci --prefix tests/node`.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from e2e_support import MESSAGE_FIELDS

from support import ROOT

NODE_DIR = ROOT / "tests" / "node"
INSTALL = "npm ci --prefix tests/node"


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with socket.io-client 4.8 installed; fail (never skip) when either is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not installed: install Node.js (Debian package nodejs), then run `{INSTALL}`")
    package = NODE_DIR / "node_modules" / "socket.io-client" / "package.json"
    if not package.exists():
        pytest.fail(f"socket.io-client is not installed for tests/node: run `{INSTALL}` from the repository root")
    version = json.loads(package.read_text())["version"]
    assert version.startswith("4.8."), f"tests/node has socket.io-client {version}, not 4.8.x: run `{INSTALL}`"
    return node


def run_seed_client(node: str, url: str, *transport: str) -> dict:
    """Run seed_client.js and return its JSON record; fail with its output when it did not finish."""
    result = subprocess.run([node, str(NODE_DIR / "seed_client.js"), url, *transport], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"seed_client.js failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.mark.parametrize("transport", [[], ["websocket"], ["polling"]], ids=["seed-default", "websocket", "polling"])
def test_seed_style_node_client_chats(node, server, transport):
    """Node socket.io-client 4.8, `io.connect(url, {forceNew: true})`: login, ALL, one-to-one, 404, ack.

    With the seed's options as they are, the client starts on long-polling and upgrades to WebSocket.
    """
    record = run_seed_client(node, server.url, *transport)
    alice, bob = record["ids"]["alice"], record["ids"]["bob"]
    expected = transport[0] if transport else "websocket"
    assert record["transports"] == {"alice": expected, "bob": expected}

    def received(name, event, **match):
        return [payload for got, payload in record["received"][name]
                if got == event and all(payload.get(key) == value for key, value in match.items())]

    # login: the seed's response, then presence
    for name, user, alias in (("alice", alice, "Alice"), ("bob", bob, "Bob")):
        [login] = received(name, "response", command="login")
        assert login["code"] == "200" and login["message"]
        [listing] = received(name, "presence", command="list")
        assert {"id": user, "alias": alias} in listing["users"]
    assert received("alice", "presence", command="online", id=bob) == [
        {"command": "online", "id": bob, "alias": "Bob"}]

    # ALL: both got the same message, sender included; no response followed it
    [at_alice] = received("alice", "message", data="hello everyone")
    [at_bob] = received("bob", "message", data="hello everyone")
    assert at_alice == at_bob
    assert set(at_alice) == MESSAGE_FIELDS
    assert (at_alice["sender"], at_alice["recepient"], at_alice["command"], at_alice["type"]) == (
        alice, "ALL", "chat", "text")
    assert isinstance(at_alice["timestamp"], int)

    # one-to-one: bob got it; alice got 200, then 404 for the unknown recipient
    [private] = received("bob", "message", data="hello bob")
    assert (private["sender"], private["recepient"]) == (alice, bob)
    assert received("alice", "message", data="hello bob") == []
    assert [reply["code"] for reply in received("alice", "response", command="message")] == ["200", "404"]
    assert received("bob", "message", data="anyone?") == []

    # emitWithAck: the ack is the response object
    [ack] = record["acks"]
    assert ack["command"] == "message" and ack["code"] == "200"
    [acked] = received("alice", "message", data="ack me")
    assert (acked["sender"], acked["recepient"], acked["command"], acked["type"]) == (bob, alice, "chat", "text")


@pytest.mark.parametrize("transport", [["websocket"], ["polling"]], ids=["websocket", "polling"])
def test_node_client_registers_logs_in_by_token_and_reads_history(node, start_server, backend, transport):
    """socket.io-client 4.8: register, password login, logout revokes the token, a new token logs in,
    a 202 delivered at the next login, history pages; on SQLite and on PostgreSQL."""
    server = start_server(CHATSERVER_DATABASE_URL=backend)
    result = subprocess.run([node, str(NODE_DIR / "accounts_client.js"), server.url, *transport], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"accounts_client.js failed:\n{result.stdout}\n{result.stderr}"
    record = json.loads(result.stdout)
    acks, alice = record["acks"], record["ids"]["alice"]
    assert acks["registerAlice"]["code"] == acks["registerBob"]["code"] == "200"
    for name in ("aliceLogin", "bobLogin"):
        assert acks[name]["code"] == "200" and acks[name]["registered"] is True and acks[name]["token"]
    assert acks["toOfflineBob"]["code"] == "202"
    assert acks["bobLogout"]["code"] == "200" and acks["revokedTokenLogin"]["code"] == "401"
    assert (acks["bobTokenLogin"]["code"], acks["bobTokenLogin"]["token"]) == ("200", acks["bobLoginAgain"]["token"])

    events = [event for event, _ in record["bobReceived"]]
    assert events[:2] == ["response", "presence"] and events.count("message") == 1, events
    [kept] = [payload for event, payload in record["bobReceived"] if event == "message"]
    assert set(kept) == MESSAGE_FIELDS and (kept["sender"], kept["data"]) == (alice, "while you were away")

    assert acks["historyNewest"]["code"] == "200"
    assert acks["historyNewest"]["messages"] == [kept] and acks["historyNewest"]["more"] is False
    assert acks["historyAll"]["code"] == "200" and isinstance(acks["historyAll"]["messages"], list)
    assert acks["badLimit"]["code"] == "400"
