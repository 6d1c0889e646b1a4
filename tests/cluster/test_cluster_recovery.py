"""Reconnect without loss in a cluster: two nodes on Redis, with and without the shipped nginx config.

nginx's ip_hash sends a client back to the node it came from, so a drop recovers there while
alice, on either node, keeps sending one-to-one, ALL and room messages (emits from the other
node arrive through Redis and are kept like local ones). A reconnect that lands on the other
node (a phone's new address, another bucket) is recovered there too: that node asks the one
that kept the session (cluster/recovery.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cluster_support import Nginx
from redis import Redis

from support import ROOT

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from test_node_client import NODE_DIR, node  # noqa: E402, F401 (the fixture: node with socket.io-client 4.8)


def run_recovery_client(node: str, *args: str) -> dict:  # noqa: F811
    result = subprocess.run([node, str(NODE_DIR / "recovery_client.js"), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"recovery_client.js failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.mark.parametrize("alice_on", [0, 1], ids=["alice-on-node-0", "alice-on-node-1"])
def test_a_client_behind_nginx_recovers_with_messages_from_both_nodes(node, redis_server, start_nodes,  # noqa: F811
                                                                      tmp_path, alice_on):
    nodes = start_nodes(2, redis_server.url)
    with Nginx([n.port for n in nodes], tmp_path) as nginx:
        record = run_recovery_client(node, nginx.url, "stream", "websocket", nodes[alice_on].url)
    bob = record["bob"]
    assert bob["connects"] == [{"id": bob["firstId"], "recovered": True}]
    assert [message["data"] for message in bob["messages"]] == [f"m{i}" for i in range(60)]
    assert {ack["code"] for ack in record["acks"]} == {"200"}
    assert {"command": "offline", "id": record["ids"]["bob"]} not in record["alice"]["presence"]


@pytest.mark.parametrize("alice_on", [0, 1], ids=["alice-on-the-old-node", "alice-on-the-new-node"])
def test_a_client_recovers_on_the_other_node(node, redis_server, start_nodes, alice_on):  # noqa: F811
    """bob drops from node 0 and reconnects to node 1: same sid, every message once, in order, no offline."""
    nodes = start_nodes(2, redis_server.url)
    record = run_recovery_client(node, nodes[0].url, "stream", "websocket", nodes[alice_on].url, nodes[1].url)
    bob = record["bob"]
    assert bob["connects"] == [{"id": bob["firstId"], "recovered": True}]
    assert [message["data"] for message in bob["messages"]] == [f"m{i}" for i in range(60)]
    assert {ack["code"] for ack in record["acks"]} == {"200"}
    assert {"command": "offline", "id": record["ids"]["bob"]} not in record["alice"]["presence"]
    assert nodes[0].log().count("handed the session") == 1


def test_a_client_recovers_on_the_other_node_and_back_again(node, redis_server, start_nodes):  # noqa: F811
    """Two drops: node 0 → node 1 → node 0; the second restore starts from an offset node 1 gave."""
    nodes = start_nodes(2, redis_server.url)
    record = run_recovery_client(node, nodes[0].url, "hops", "websocket", nodes[1].url, nodes[1].url)
    bob = record["bob"]
    assert bob["connects"] == [{"id": bob["firstId"], "recovered": True}] * 2
    assert [message["data"] for message in bob["messages"]] == [f"m{i}" for i in range(60)]
    assert {ack["code"] for ack in record["acks"]} == {"200"}
    assert nodes[0].log().count("handed the session") == 1 and nodes[1].log().count("handed the session") == 1


def test_after_the_grace_a_client_recovers_on_the_other_node_with_its_stored_messages(node, redis_server,  # noqa: F811
                                                                                        start_nodes):
    nodes = start_nodes(2, redis_server.url, extra_env={"CHATSERVER_PRESENCE_GRACE": "1"})
    record = run_recovery_client(node, nodes[0].url, "grace", "websocket", nodes[0].url, nodes[1].url)
    bob = record["bob"]
    assert [(ack["data"], ack["code"]) for ack in record["acks"]] == [
        ("before", "200"), ("within the grace", "200"), ("after the grace", "202")]
    assert bob["connects"] == [{"id": bob["firstId"], "recovered": True}]
    assert [message["data"] for message in bob["messages"]] == ["before", "within the grace", "after the grace"]
    assert bob["afterRecovery"]["code"] == "200"


def test_beyond_the_window_a_reconnect_on_the_other_node_is_a_normal_connect(node, redis_server,  # noqa: F811
                                                                              start_nodes):
    nodes = start_nodes(2, redis_server.url, extra_env={"CHATSERVER_RECOVERY_WINDOW": "1"})
    record = run_recovery_client(node, nodes[0].url, "expire", "websocket", nodes[0].url, nodes[1].url)
    bob = record["bob"]
    assert bob["connects"] == [{"id": bob["lastId"], "recovered": False}]
    assert bob["lastId"] != bob["firstId"]
    assert bob["afterExpiry"]["code"] == "401"


def test_when_the_node_that_kept_the_session_is_gone_the_reconnect_is_a_normal_connect(node, redis_server,  # noqa: F811
                                                                                        start_nodes):
    """bob drops from node 0, node 0 is killed, bob reconnects to node 1: it asks, no answer, a normal connect."""
    nodes = start_nodes(2, redis_server.url)
    prefix = nodes[0].env["CHATSERVER_REDIS_PREFIX"]
    redis = Redis.from_url(redis_server.url)
    # "expire" waits 3 s before reconnecting: time to kill node 0 once it noted bob's session.
    client = subprocess.Popen([node, str(NODE_DIR / "recovery_client.js"), nodes[0].url, "expire", "websocket",
                               nodes[1].url, nodes[1].url], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while not [key for key in redis.keys(f"{prefix}:recovery:*") if b":secret" not in key]:
            assert time.monotonic() < deadline, "node 0 never noted bob's session in Redis"
            time.sleep(0.05)
        nodes[0].kill9()
        output, _ = client.communicate(timeout=60)
    finally:
        client.kill()
    assert client.returncode == 0, output
    bob = json.loads(output)["bob"]
    assert bob["connects"] == [{"id": bob["lastId"], "recovered": False}]
    assert bob["afterExpiry"]["code"] == "401"
    assert "did not answer" in nodes[1].log()
