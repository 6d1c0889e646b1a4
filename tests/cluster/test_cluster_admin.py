"""`chatserver admin` asking one node of two acts for the cluster: the online list and kicks span nodes."""

from __future__ import annotations

import subprocess
import time

from cluster_support import Node

from support import BIN, ROOT

TOKEN = "cluster-operator-token"


def admin(node: Node, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "CHATSERVER_PORT": str(node.port), "CHATSERVER_ADMIN_TOKEN": TOKEN}
    return subprocess.run([str(BIN / "chatserver"), "admin", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60)


def test_online_lists_and_kicks_reach_every_node(start_nodes, redis_server, connect, user):
    first, second = start_nodes(2, redis_server.url, extra_env={"CHATSERVER_ADMIN_TOKEN": TOKEN})
    alice, bob = user("alice"), user("bob")
    here, there, bystander = connect(first.url), connect(second.url), connect(second.url)
    for client, name in ((here, alice), (there, alice), (bystander, bob)):
        assert client.call("login", {"id": name})["code"] == "200"

    online = admin(first, "online")
    assert online.returncode == 0, online.stderr
    assert {line.split("\t")[0] for line in online.stdout.splitlines()} >= {alice, bob}

    assert admin(first, "kick", alice).returncode == 0
    deadline = time.monotonic() + 5
    while (here.sio.connected or there.sio.connected) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not here.sio.connected and not there.sio.connected, "both of alice's sockets, on both nodes"
    assert bystander.sio.connected
    assert bystander.next("presence", command="offline", id=alice)["id"] == alice
