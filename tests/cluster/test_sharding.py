"""Each emit goes only to the nodes that hold its rooms: watched on the real Redis channels."""

from __future__ import annotations

import threading
import time

import pytest
from cluster_support import NODE_TIMEOUT, RedisServer, eventually, new_prefix
from redis import Redis

# How long to listen for a publication that must NOT come.
QUIET = 0.5


class ChannelSpy:
    """A real Redis subscriber to every channel of one chat (shared and per node): what was published where."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.prefix = prefix
        self.pubsub = Redis.from_url(redis_url).pubsub()
        self.pubsub.psubscribe(f"{prefix}:socketio*")
        while self.pubsub.get_message(timeout=1) is None:  # the psubscribe confirmation
            pass
        self.seen: list[tuple[str, str]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop:
            message = self.pubsub.get_message(timeout=0.1)
            if message and message["type"] == "pmessage":
                self.seen.append((message["channel"].decode(), message["data"].decode()))

    def channels_with(self, text: str, wait: float = QUIET) -> list[str]:
        """The channels a message containing ``text`` was published on, after ``wait`` seconds."""
        time.sleep(wait)
        return [channel for channel, data in self.seen if text in data]

    def node_channel(self, node_id: str) -> str:
        return f"{self.prefix}:socketio:{node_id}"

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.pubsub.close()


@pytest.fixture
def cluster(redis_server, start_nodes):
    """Three nodes on a prefix of their own, a spy on their channels and a Redis client."""
    prefix = new_prefix()
    nodes = start_nodes(3, redis_server.url, prefix)
    spy = ChannelSpy(redis_server.url, prefix)
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    yield nodes, spy, redis, prefix
    spy.close()
    redis.close()


@pytest.fixture
def login(connect):
    """Return a function that connects to ``node``, logs in as ``user`` and returns the client."""

    def connect_and_login(node, user: str):
        client = connect(node.url)
        assert client.call("login", {"id": user})["code"] == "200"
        return client

    return connect_and_login


def nodes_holding(redis: Redis, prefix: str, room: str) -> set[str]:
    """The node ids Redis routes ``room``'s emits to."""
    return set(redis.hkeys(f"{prefix}:route:{room}"))


def test_one_to_one_between_two_users_of_one_node_is_published_nowhere(cluster, login, user):
    nodes, spy, _, _ = cluster
    alice, carol = user("alice"), user("carol")
    alice_client, carol_client = login(nodes[0], alice), login(nodes[0], carol)

    assert alice_client.call("message", {"recepient": carol, "data": "kept on node 0"})["code"] == "200"
    assert carol_client.next("message")["data"] == "kept on node 0"
    assert spy.channels_with("kept on node 0") == [], "no other node has a socket of carol or alice"


def test_one_to_one_across_nodes_is_published_to_the_recipients_node_only(cluster, login, user):
    nodes, spy, redis, prefix = cluster
    alice, bob = user("alice"), user("bob")
    alice_client, bob_client = login(nodes[0], alice), login(nodes[1], bob)
    (bob_node,) = nodes_holding(redis, prefix, f"chatserver:user:{bob}")

    assert alice_client.call("message", {"recepient": bob, "data": "only to node 1"})["code"] == "200"
    assert bob_client.next("message")["data"] == "only to node 1"
    assert spy.channels_with("only to node 1") == [spy.node_channel(bob_node)], "once, and not to node 2"


def test_a_room_message_reaches_members_on_two_nodes_and_no_third(cluster, login, user):
    nodes, spy, redis, prefix = cluster
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    alice_client, bob_client, carol_client = login(nodes[0], alice), login(nodes[1], bob), login(nodes[2], carol)
    room = user("room")
    assert alice_client.call("room", {"command": "create", "roomId": room})["code"] == "200"
    # Joined and at once written to: the join travels to node 1 as a node event, the message right behind it.
    assert bob_client.call("room", {"command": "join", "roomId": room})["code"] == "200"
    ack = alice_client.call("message", {"recepient": room, "command": "groupchat", "data": "to the room"})
    assert ack["code"] == "200"

    assert bob_client.next("message", data="to the room")["recepient"] == room
    assert [p for e, p in carol_client.drain(QUIET) if e == "message"] == [], "carol is not a member"
    (bob_node,) = nodes_holding(redis, prefix, f"chatserver:user:{bob}")
    assert spy.channels_with("to the room") == [spy.node_channel(bob_node)], "not to carol's node"
    assert len(nodes_holding(redis, prefix, f"chatserver:room:{room}")) == 2


def test_a_room_message_right_after_a_join_reaches_the_members_devices_on_every_node(cluster, login, user):
    nodes, _, _, _ = cluster
    alice, bob = user("alice"), user("bob")
    alice_client, bob_phone, bob_laptop = login(nodes[0], alice), login(nodes[1], bob), login(nodes[2], bob)
    for number in range(5):
        room = user(f"room{number}")
        assert alice_client.call("room", {"command": "create", "roomId": room})["code"] == "200"
        # bob joins from his phone on node 1: node 2 hears of it as a node event, and alice (node 0)
        # writes the moment the join is acknowledged (its `response` comes before the node event).
        assert bob_phone.call("room", {"command": "join", "roomId": room})["code"] == "200"
        alice_client.emit("message", {"recepient": room, "command": "groupchat", "data": f"first {number}"})
        assert bob_phone.next("message", data=f"first {number}")["recepient"] == room
        assert bob_laptop.next("message", data=f"first {number}")["recepient"] == room


def test_a_user_logging_in_on_another_node_right_before_a_message_gets_it(cluster, login, user, connect):
    nodes, _, _, _ = cluster
    alice, bob = user("alice"), user("bob")
    alice_client, bob_phone = login(nodes[0], alice), login(nodes[0], bob)
    for number in range(5):
        # bob's laptop logs in on node 1 (or 2); alice, on node 0 with bob's phone, writes at once.
        laptop = connect(nodes[1 + number % 2].url)
        assert laptop.call("login", {"id": bob})["code"] == "200"
        assert alice_client.call("message", {"recepient": bob, "data": f"hello {number}"})["code"] == "200"
        assert laptop.next("message", data=f"hello {number}")["sender"] == alice
        assert bob_phone.next("message", data=f"hello {number}")["sender"] == alice
        laptop.close()


def test_a_first_login_anywhere_right_before_a_message_gets_it(cluster, login, user, connect):
    nodes, _, _, _ = cluster
    alice = login(nodes[0], user("alice"))
    for number in range(5):
        bob = user(f"bob{number}")
        laptop = connect(nodes[1].url)
        assert laptop.call("login", {"id": bob})["code"] == "200"
        assert alice.call("message", {"recepient": bob, "data": f"hi {number}"})["code"] == "200"
        assert laptop.next("message", data=f"hi {number}")["recepient"] == bob


def test_a_dead_nodes_routes_are_reaped(cluster, login, user):
    nodes, _, redis, prefix = cluster
    bob = user("bob")
    login(nodes[2], bob)
    (dead,) = nodes_holding(redis, prefix, f"chatserver:user:{bob}")
    assert redis.exists(f"{prefix}:node:{dead}:rooms")

    nodes[2].kill9()
    eventually(lambda: not nodes_holding(redis, prefix, f"chatserver:user:{bob}"), NODE_TIMEOUT + 3)
    assert not redis.exists(f"{prefix}:node:{dead}:rooms")
    assert dead not in nodes_holding(redis, prefix, "chatserver:online")


def test_after_redis_restarts_empty_each_node_registers_its_rooms_again(tmp_path, start_nodes, login, user):
    with RedisServer(tmp_path) as server:
        prefix = new_prefix()
        left, right = start_nodes(2, server.url, prefix)
        alice, bob = user("alice"), user("bob")
        alice_client, bob_client = login(left, alice), login(right, bob)
        redis = Redis.from_url(server.url, decode_responses=True)
        (bob_node,) = nodes_holding(redis, prefix, f"chatserver:user:{bob}")

        server.kill()
        time.sleep(1)
        server.start()  # empty: it keeps nothing on disk
        eventually(lambda: nodes_holding(redis, prefix, f"chatserver:user:{bob}") == {bob_node}, timeout=5)
        eventually(lambda: len(nodes_holding(redis, prefix, "chatserver:online")) == 2, timeout=5)
        # Past the settling time every emit is routed again: to bob's node, once.
        spy = ChannelSpy(server.url, prefix)
        time.sleep(4.5)  # SETTLE_SECONDS, from the nodes' first heartbeat after the restart
        assert alice_client.call("message", {"recepient": bob, "data": "after the restart"})["code"] == "200"
        assert bob_client.next("message", data="after the restart")["sender"] == alice
        assert spy.channels_with("after the restart") == [spy.node_channel(bob_node)]
        spy.close()
        redis.close()
