"""Nodes and Redis failing for real: `kill -9` of a node, Redis killed and started again."""

from __future__ import annotations

import time

from cluster_support import NODE_TIMEOUT, RedisServer, eventually

# Slack on top of the node timeout for the reaper's tick and a loaded test machine.
REAP_SLACK = 5.0
# The promise: cross-node delivery is back within this long after Redis is.
RESUME_WITHIN = 5.0


def login(client, user):
    assert client.call("login", {"id": user})["code"] == "200"
    return client


def test_a_killed_nodes_users_go_offline_everywhere(redis_server, start_nodes, connect, user):
    survivor, doomed, witness = start_nodes(3, redis_server.url)
    mona, nick = user("mona"), user("nick")
    watchers = [login(connect(survivor.url), user("watcher0")), login(connect(witness.url), user("watcher2"))]
    login(connect(doomed.url), mona)
    login(connect(doomed.url), mona)  # two sockets, both on the node that dies
    login(connect(doomed.url), nick)
    login(connect(survivor.url), nick)  # nick stays online through the survivor
    for watcher in watchers:
        watcher.next("presence", command="online", id=mona)

    doomed.kill9()
    for watcher in watchers:
        assert watcher.next("presence", command="offline", id=mona, timeout=NODE_TIMEOUT + REAP_SLACK)

    assert watchers[0].call("message", {"recepient": mona, "data": "there?"})["code"] == "404"
    assert watchers[1].call("message", {"recepient": nick, "data": "there?"})["code"] == "200"
    # Once and only once, and nick never went offline.
    for watcher in watchers:
        late = [payload for event, payload in watcher.drain(1.0) if event == "presence"]
        assert [entry["command"] for entry in late if entry.get("id") in (mona, nick)] == []
    newcomer = login(connect(witness.url), user("olga"))
    listed = {entry["id"] for entry in newcomer.next("presence", command="list")["users"]}
    assert nick in listed and mona not in listed


def test_redis_restart_keeps_nodes_up_and_rebuilds_presence(tmp_path, start_nodes, connect, user):
    with RedisServer(tmp_path) as redis:
        left, right = start_nodes(2, redis.url)
        pam, quinn, rob, sara = user("pam"), user("quinn"), user("rob"), user("sara")
        pam_client = login(connect(left.url), pam)
        quinn_client = login(connect(left.url), quinn)
        rob_client = login(connect(right.url), rob)
        pam_client.next("presence", command="online", id=rob)

        redis.kill()
        # Same-node delivery keeps working; the node notices the outage within its heartbeat.
        eventually(lambda: pam_client.call("message", {"recepient": rob, "data": "probe"})["code"] == "500",
                   timeout=5)
        assert pam_client.call("message", {"recepient": quinn, "data": "same node"})["code"] == "200"
        assert quinn_client.next("message", data="same node")["sender"] == pam
        cross = pam_client.call("message", {"recepient": rob, "data": "other node"})
        assert cross["code"] == "500" and "nothing was delivered" in cross["message"]
        everyone = pam_client.call("message", {"recepient": "ALL", "data": "outage broadcast"})
        assert everyone["code"] == "500" and "only users on this server" in everyone["message"]
        assert quinn_client.next("message", data="outage broadcast")
        assert left.process.poll() is None and right.process.poll() is None

        # While Redis is away, rob leaves and sara arrives, both on the right node.
        rob_client.close()
        sara_client = login(connect(right.url), sara)

        redis.start()  # empty again: it keeps nothing on disk
        back_at = time.monotonic()
        eventually(lambda: pam_client.call("message", {"recepient": sara, "data": "welcome"})["code"] == "200",
                   timeout=RESUME_WITHIN)
        assert time.monotonic() - back_at <= RESUME_WITHIN
        assert sara_client.next("message", data="welcome")["sender"] == pam
        assert sara_client.call("message", {"recepient": quinn, "data": "hi"})["code"] == "200"
        assert quinn_client.next("message", data="hi")["sender"] == sara

        # No ghost: rob's disconnect during the outage holds after it.
        eventually(lambda: pam_client.call("message", {"recepient": rob, "data": "?"})["code"] == "404", timeout=10)
        # Nobody missing: a newcomer on either node sees exactly who is there.
        for node in (left, right):
            newcomer = login(connect(node.url), user("newcomer"))
            listed = {entry["id"] for entry in newcomer.next("presence", command="list")["users"]}
            assert {pam, quinn, sara} <= listed and rob not in listed
            newcomer.close()
        # pam's page learned of sara (online event or a fresh list), and of rob leaving.
        seen = [payload for event, payload in pam_client.drain(0.2) if event == "presence"]
        lists = [entry for entry in seen if entry["command"] == "list"]
        assert lists, "a node resends the online list to its sockets after an outage"
        final = {entry["id"] for entry in lists[-1]["users"]}
        online_after = {entry["id"] for entry in seen[seen.index(lists[-1]):] if entry["command"] == "online"}
        assert sara in final | online_after and rob not in final | online_after


def test_a_stopped_nodes_users_go_offline_at_once(redis_server, start_nodes, connect, user):
    # A node timeout far beyond the wait below: only the node's own shutdown can log them out.
    staying, stopping = start_nodes(2, redis_server.url, node_timeout=120)
    tess = user("tess")
    watcher = login(connect(staying.url), user("watcher"))
    login(connect(stopping.url), tess)
    watcher.next("presence", command="online", id=tess)

    assert stopping.stop() == 0  # SIGTERM: graceful shutdown
    assert watcher.next("presence", command="offline", id=tess, timeout=10)
    assert watcher.call("message", {"recepient": tess, "data": "bye"})["code"] == "404"
