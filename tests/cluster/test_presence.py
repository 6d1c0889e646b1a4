"""RedisPresence against a real redis-server, several "nodes" in one process, no sockets."""

from __future__ import annotations

import pytest
from cluster_support import RedisServer, new_prefix

from chatserver.chat import ONLINE_ROOM, ChatService, Delivery
from chatserver.chat.presence import PresenceChange, PresenceUnavailable
from chatserver.cluster import redis_client
from chatserver.cluster.presence import RedisPresence


class Recorder:
    """Collects what a presence announces through its hooks."""

    def __init__(self) -> None:
        self.changes: list[PresenceChange] = []
        self.rejoins = 0

    def attach(self, presence: RedisPresence) -> RedisPresence:
        presence.on_change = self.changes.extend
        presence.on_rejoin = self.rejoin
        return presence

    def rejoin(self) -> None:
        self.rejoins += 1


def make_node(url: str, prefix: str, name: str, timeout: float = 30.0) -> RedisPresence:
    """A registered RedisPresence, as a node has after start (without the background task)."""
    presence = RedisPresence(redis_client(url, decode_responses=True, socket_timeout=2.0), prefix=prefix,
                             node_id=name, timeout=timeout)
    presence.tick()
    return presence


@pytest.fixture
def prefix(redis_server):
    """A fresh key prefix; its keys are deleted after the test."""
    prefix = new_prefix()
    yield prefix
    client = redis_client(redis_server.url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def test_first_and_last_socket_are_seen_once_across_nodes(redis_server, prefix):
    one, two = make_node(redis_server.url, prefix, "one"), make_node(redis_server.url, prefix, "two")
    assert one.add("s1", "alice", "Al") is True
    assert two.add("s2", "alice", "Alice") is False
    assert one.is_online("alice") and two.is_online("alice") and not two.is_online("bob")
    assert two.users() == [{"id": "alice", "alias": "Al"}]
    assert two.user_of("s2") == "alice" and two.user_of("s1") is None  # a node answers for its own sockets

    first_out = one.remove("s1")
    assert (first_out.user, first_out.last) == ("alice", False)
    last_out = two.remove("s2")
    assert (last_out.user, last_out.alias, last_out.last) == ("alice", "Al", True)
    assert two.remove("s2") is None
    assert not one.is_online("alice") and one.users() == []


def test_a_dead_nodes_users_are_reaped_once(redis_server, prefix):
    dying = make_node(redis_server.url, prefix, "dying")
    dying.add("s1", "carol", "carol")
    dying.add("s2", "carol", "carol")
    dying.add("s3", "dave", "Dave")
    reaper, late = Recorder(), Recorder()
    survivor = reaper.attach(make_node(redis_server.url, prefix, "survivor"))
    other = late.attach(make_node(redis_server.url, prefix, "other"))
    survivor.add("s4", "dave", "Dave")

    redis_client(redis_server.url).delete(f"{prefix}:node:dying:alive")  # its heartbeat expired
    survivor.tick()
    other.tick()

    # carol had sockets on the dead node only; dave still has one on the survivor.
    assert reaper.changes == [PresenceChange("offline", "carol", "carol")]
    assert late.changes == []
    assert not other.is_online("carol") and other.is_online("dave")
    assert other.users() == [{"id": "dave", "alias": "Dave"}]


def test_a_node_taken_for_dead_registers_its_sockets_again(redis_server, prefix):
    node = Recorder()
    stalled = node.attach(make_node(redis_server.url, prefix, "stalled"))
    stalled.add("s1", "erin", "erin")
    reaper = Recorder()
    watcher = reaper.attach(make_node(redis_server.url, prefix, "watcher"))
    redis_client(redis_server.url).delete(f"{prefix}:node:stalled:alive")  # it missed heartbeats
    watcher.tick()
    assert reaper.changes == [PresenceChange("offline", "erin", "erin")]

    stalled.tick()  # its heartbeat finds itself gone
    assert node.changes == [PresenceChange("online", "erin", "erin")]
    assert watcher.is_online("erin")
    # Logging out now is a real transition again, announced once.
    assert stalled.remove("s1").last is True


def test_redis_losing_its_data_is_repaired_and_misses_are_not_404(redis_server, prefix):
    recorder = Recorder()
    one = recorder.attach(make_node(redis_server.url, prefix, "one"))
    two = make_node(redis_server.url, prefix, "two")
    one.add("s1", "frank", "frank")
    two.add("s2", "gina", "gina")
    client = redis_client(redis_server.url)
    client.delete(*client.scan_iter(f"{prefix}:*"))  # as after a restart of a Redis that keeps nothing

    one.tick()
    assert recorder.changes == [PresenceChange("online", "frank", "frank")]
    # gina's node has not registered again yet: "not online" is not known for a few seconds.
    with pytest.raises(PresenceUnavailable):
        one.is_online("gina")
    two.tick()
    assert one.is_online("gina") and one.is_online("frank")


def test_without_redis_a_node_serves_its_own_sockets(tmp_path):
    with RedisServer(tmp_path) as redis:
        recorder = Recorder()
        node = recorder.attach(make_node(redis.url, "outage", "lonely"))
        node.add("s1", "hana", "hana")
        redis.kill()

        assert node.add("s2", "ivan", "ivan") is True  # first here: announced to this node's sockets
        assert node.is_online("ivan") and node.is_online("hana")
        with pytest.raises(PresenceUnavailable):
            node.is_online("someone-elsewhere")
        assert node.reachable() is False
        assert node.users() == [{"id": "hana", "alias": "hana"}, {"id": "ivan", "alias": "ivan"}]
        assert node.remove("s1").last is True
        node.tick()  # must not raise while Redis is down
        assert node.reachable() is False

        redis.start()  # empty, on the same port
        node.tick()
        assert node.reachable() is True
        assert recorder.changes == [PresenceChange("online", "ivan", "ivan")]
        assert recorder.rejoins == 1  # its sockets get the list again
        assert node.users() == [{"id": "ivan", "alias": "ivan"}]


class UnreachablePresence(RedisPresence):
    """A presence whose Redis is down: only its own sockets are known."""

    def __init__(self) -> None:
        super().__init__(redis_client("redis://127.0.0.1:1/0"), node_id="cut-off")
        self.lost(ConnectionError("test: Redis is down"))


def test_the_sender_is_told_when_other_nodes_cannot_be_reached():
    service = ChatService(UnreachablePresence(), rate_per_second=0, new_id=lambda: "m1", clock=lambda: 1.0)
    service.handle("s1", "login", {"id": "jack"})
    service.handle("s2", "login", {"id": "kate"})

    same_node = service.handle("s1", "message", {"recepient": "kate", "data": "hi"})
    assert same_node.reply["code"] == "200" and same_node.deliveries[0].to[0].endswith(":kate")

    elsewhere = service.handle("s1", "message", {"recepient": "liam", "data": "hi"})
    assert elsewhere.reply["code"] == "500" and "nothing was delivered" in elsewhere.reply["message"]
    assert elsewhere.deliveries == []

    broadcast = service.handle("s1", "message", {"recepient": "ALL", "data": "hi"})
    assert broadcast.reply["code"] == "500" and broadcast.respond is True
    assert "only users on this server" in broadcast.reply["message"]
    assert [delivery.to for delivery in broadcast.deliveries] == [None]


def test_lists_are_refreshed_for_this_nodes_sockets_only():
    service = ChatService(UnreachablePresence(), rate_per_second=0)
    service.handle("s1", "login", {"id": "mia", "alias": "Mia"})
    outbox = service.refresh_lists()
    assert outbox.deliveries == [
        Delivery("presence", {"command": "list", "users": [{"id": "mia", "alias": "Mia"}]}, ONLINE_ROOM, local=True)
    ]
