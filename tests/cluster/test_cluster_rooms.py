"""Rooms and conversation signals across nodes: two real `python -m chatserver` nodes on one Redis and PostgreSQL.

Every Rooms and Conversation-signals line of PROTOCOL.md that involves another user is tried
with the users on different nodes.
"""

from __future__ import annotations

import pytest
from cluster_support import Node, started_nodes

QUIET = 0.5
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def nodes(redis_server, module_database, tmp_path_factory):
    """Two nodes shared by this module's tests; each test uses its own ids."""
    with started_nodes(2, redis_server.url, module_database, tmp_path_factory.mktemp("nodes")) as started:
        yield started


@pytest.fixture
def on(connect, user):
    """Return a function that logs a new client into ``node`` as a fresh guest id or a registered one."""

    def log_in(node: Node, name: str, registered: bool = False):
        client = connect(node.url)
        client.user = user(name)
        payload = {"id": client.user}
        if registered:
            assert client.call("register", {"id": client.user, "password": PASSWORD})["code"] == "200"
            payload["password"] = PASSWORD
        ack = client.call("login", payload)
        assert ack["code"] == "200", ack
        client.token = ack.get("token")
        client.next("presence", command="list")
        return client

    return log_in


def room(client, command: str, room_id: str, **fields) -> dict:
    return client.call("room", {"command": command, "roomId": room_id, **fields})


def groupchat(client, room_id: str, data: str) -> dict:
    return client.call("message", {"recepient": room_id, "command": "groupchat", "data": data})


def received(client, event: str, wait: float = QUIET) -> list:
    return [payload for name, payload in client.drain(wait) if name == event]


def listed(client, room_id: str) -> dict | None:
    rooms = client.next("room", command="list")["rooms"]
    return next((entry for entry in rooms if entry["id"] == room_id), None)


def listed_with(client, room_id: str, members: int) -> dict:
    """The first `room` list pushed to ``client`` that shows ``room_id`` with ``members`` members."""
    while True:
        entry = listed(client, room_id)
        if entry is not None and entry["members"] == members:
            return entry


def test_a_room_spans_nodes(nodes, on, user):
    """create on node 0, list pushed on node 1, join from node 1, groupchat both ways, leave."""
    alice, bob, carol = on(nodes[0], "alice"), on(nodes[1], "bob"), on(nodes[1], "carol")
    room_id = user("room")
    assert room(alice, "create", room_id, roomName="span")["code"] == "200"
    assert listed(bob, room_id)["owner"] == alice.user
    assert room(bob, "join", room_id)["code"] == "200"
    assert listed_with(alice, room_id, 2)["owner"] == alice.user

    assert groupchat(alice, room_id, "from node 0")["code"] == "200"
    assert groupchat(bob, room_id, "from node 1")["code"] == "200"
    for member in (alice, bob):
        assert [member.next("message", data=text)["sender"] for text in ("from node 0", "from node 1")] == [
            alice.user, bob.user]
    assert received(carol, "message") == []

    assert room(bob, "leave", room_id)["code"] == "200"
    assert groupchat(alice, room_id, "bob left")["code"] == "200"
    alice.next("message", data="bob left")
    assert received(bob, "message") == []


def test_a_join_on_one_node_reaches_the_users_sockets_on_the_other(nodes, on, connect):
    """Membership belongs to the user: bob joins on node 0 and his socket on node 1 gets the room too."""
    alice = on(nodes[0], "alice")
    bob = on(nodes[0], "bob", registered=True)
    bob_elsewhere = connect(nodes[1].url)
    assert bob_elsewhere.call("login", {"id": bob.user, "token": bob.token})["code"] == "200"
    room_id = alice.user + "-room"
    assert room(alice, "create", room_id, roomName="r")["code"] == "200"
    assert room(bob, "join", room_id)["code"] == "200"
    assert groupchat(alice, room_id, "to both nodes")["code"] == "200"
    bob.next("message", data="to both nodes")
    bob_elsewhere.next("message", data="to both nodes")
    assert groupchat(bob_elsewhere, room_id, "sent from node 1")["code"] == "200", "a member on this node too"
    alice.next("message", data="sent from node 1")


def test_private_rooms_invitations_and_deletes_cross_nodes(nodes, on, user):
    alice = on(nodes[0], "alice", registered=True)
    bob = on(nodes[1], "bob", registered=True)
    room_id = user("secret")
    bob.drain(QUIET)
    assert room(alice, "create", room_id, roomName="s", private=True)["code"] == "200"
    assert listed(bob, room_id) is None
    assert room(bob, "join", room_id)["code"] == "403"
    assert room(alice, "invite", room_id, userId=bob.user)["code"] == "200"
    assert bob.next("room", command="invite")["roomId"] == room_id
    assert room(bob, "join", room_id)["code"] == "200"
    assert listed_with(bob, room_id, 2)["private"] is True
    members = {member["id"]: member["online"] for member in room(bob, "members", room_id)["members"]}
    assert members == {alice.user: True, bob.user: True}

    assert room(alice, "delete", room_id)["code"] == "200"
    assert bob.next("room", command="delete")["roomId"] == room_id
    assert listed(bob, room_id) is None
    assert groupchat(bob, room_id, "?")["code"] == "404"


def test_typing_and_read_receipts_cross_nodes(nodes, on):
    alice = on(nodes[0], "alice", registered=True)
    bob = on(nodes[1], "bob", registered=True)
    assert alice.call("typing", {"recepient": bob.user, "typing": True})["code"] == "200"
    assert bob.next("typing") == {"sender": alice.user, "recepient": bob.user, "command": "chat", "typing": True}

    assert alice.call("message", {"recepient": bob.user, "data": "read this"})["code"] == "200"
    message = bob.next("message", data="read this")
    assert bob.call("read", {"recepient": alice.user, "id": message["id"]})["code"] == "200"
    assert alice.next("read")["id"] == message["id"]
    unread = {entry["recepient"]: entry["unread"] for entry in alice.call("conversations")["conversations"]}
    assert unread == {bob.user: 0}


def test_room_typing_and_read_cross_nodes(nodes, on, user):
    alice, bob = on(nodes[0], "alice"), on(nodes[1], "bob")
    room_id = user("room")
    assert room(alice, "create", room_id, roomName="r")["code"] == "200"
    assert room(bob, "join", room_id)["code"] == "200"
    signal = {"recepient": room_id, "command": "groupchat"}
    assert bob.call("typing", {**signal, "typing": True})["code"] == "200"
    assert alice.next("typing")["sender"] == bob.user
    assert groupchat(alice, room_id, "seen?")["code"] == "200"
    message = bob.next("message", data="seen?")
    assert bob.call("read", {**signal, "id": message["id"]})["code"] == "200"
    receipt = alice.next("read")
    assert (receipt["reader"], receipt["recepient"], receipt["id"]) == (bob.user, room_id, message["id"])


def test_a_guests_room_ends_with_the_guest_on_the_other_node(nodes, on, user):
    alice, guest = on(nodes[0], "alice"), on(nodes[1], "guest")
    theirs = user("guest-room")
    assert room(guest, "create", theirs, roomName="g")["code"] == "200"
    assert room(alice, "join", theirs)["code"] == "200"
    guest.close()
    assert alice.next("room", command="delete")["roomId"] == theirs
    assert groupchat(alice, theirs, "?")["code"] == "404"
