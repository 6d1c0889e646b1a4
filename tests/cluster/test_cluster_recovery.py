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
from pathlib import Path

import pytest
from cluster_support import Nginx

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
