"""PROTOCOL.md "Conversation signals" (typing, read, conversations) against real server processes and clients.

Each test runs on SQLite and on PostgreSQL, over WebSocket and long-polling.
"""

from __future__ import annotations

from e2e_support import login, new_id

PASSWORD = "correct horse battery"
QUIET = 0.5


def registered(client, name: str) -> str:
    user = new_id(name)
    assert client.call("register", {"id": user, "password": PASSWORD})["code"] == "200"
    ack = client.call("login", {"id": user, "password": PASSWORD})
    assert ack["code"] == "200"
    client.next("presence", command="list")
    client.token = ack["token"]
    return user


def events(client, name: str, wait: float = QUIET) -> list:
    return [payload for event, payload in client.drain(wait) if event == name]


def make_room(owner, *members) -> str:
    room_id = new_id("room")
    assert owner.call("room", {"command": "create", "roomId": room_id, "roomName": "r"})["code"] == "200"
    for member in members:
        assert member.call("room", {"command": "join", "roomId": room_id})["code"] == "200"
    return room_id


def test_typing_reaches_the_peer_and_is_acknowledged_only(connect_to):
    alice, bob = connect_to(), connect_to()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)
    alice.drain(QUIET)
    assert alice.call("typing", {"recepient": bob_id, "typing": True})["code"] == "200"
    assert bob.next("typing") == {"sender": alice_id, "recepient": bob_id, "command": "chat", "typing": True}
    assert alice.call("typing", {"recepient": bob_id, "typing": False})["code"] == "200"
    assert bob.next("typing")["typing"] is False
    received = alice.drain(QUIET)
    assert [name for name, _ in received if name in ("response", "typing")] == [], "no response event, no echo"


def test_typing_in_a_room_goes_to_the_other_members(connect_to):
    alice, bob, carol = connect_to(), connect_to(), connect_to()
    alice_id = new_id("alice")
    login(alice, alice_id)
    login(bob, new_id("bob"))
    login(carol, new_id("carol"))
    room_id = make_room(alice, bob)
    carol.drain(QUIET)
    assert alice.call("typing", {"recepient": room_id, "command": "groupchat", "typing": True})["code"] == "200"
    assert bob.next("typing") == {"sender": alice_id, "recepient": room_id, "command": "groupchat", "typing": True}
    assert events(carol, "typing") == [], "not a member"
    assert events(alice, "typing") == [], "not back to the typist"
    assert carol.call("typing", {"recepient": room_id, "command": "groupchat", "typing": True})["code"] == "403"


def test_bad_typing_events_get_their_code(connect_to):
    """Each bad `typing` gets its code in the ack, never a `response` event, and nothing is delivered."""
    stranger, alice, bob = connect_to(), connect_to(), connect_to()
    assert stranger.call("typing", {"recepient": "x", "typing": True})["code"] == "401"
    login(alice, new_id("alice"))
    bob_id = new_id("bob")
    login(bob, bob_id)
    alice.drain(QUIET)
    for payload, code in [
        ("typing", "400"),
        ({"recepient": bob_id}, "400"),
        ({"recepient": bob_id, "typing": "yes"}, "400"),
        ({"recepient": "", "typing": True}, "400"),
        ({"recepient": new_id("offline"), "typing": True}, "404"),
        ({"recepient": new_id("room"), "command": "groupchat", "typing": True}, "404"),
    ]:
        assert alice.call("typing", payload)["code"] == code, payload
    assert events(bob, "typing") == []
    assert [name for name, _ in alice.drain(QUIET) if name == "response"] == []


def test_read_marks_reach_the_peer_and_the_readers_other_sockets(connect_to):
    alice, bob, bob_laptop = connect_to(), connect_to(), connect_to()
    alice_id = registered(alice, "alice")
    bob_id = registered(bob, "bob")
    assert bob_laptop.call("login", {"id": bob_id, "token": bob.token})["code"] == "200"
    assert alice.call("message", {"recepient": bob_id, "data": "read me"})["code"] == "200"
    message = bob.next("message", data="read me")
    bob_laptop.next("message", data="read me")

    ack = bob.call("read", {"recepient": alice_id, "id": message["id"]})
    assert ack["code"] == "200"
    assert ack == bob.next("response", command="read")
    receipt = alice.next("read")
    assert {key: receipt[key] for key in ("reader", "recepient", "command", "id")} == {
        "reader": bob_id, "recepient": alice_id, "command": "chat", "id": message["id"]}
    assert isinstance(receipt["timestamp"], int)
    assert bob_laptop.next("read")["id"] == message["id"]
    assert events(bob, "read") == [], "not echoed to the socket that read"


def test_read_refusals(connect_to):
    guest, alice, bob = connect_to(), connect_to(), connect_to()
    guest_id = new_id("guest")
    login(guest, guest_id)
    alice_id = registered(alice, "alice")
    bob_id = registered(bob, "bob")
    assert alice.call("message", {"recepient": bob_id, "data": "x"})["code"] == "200"
    message = bob.next("message", data="x")
    assert guest.call("read", {"recepient": alice_id, "id": message["id"]})["code"] == "403"
    assert bob.call("read", {"recepient": alice_id, "id": "no-such-id"})["code"] == "404"
    assert bob.call("read", {"recepient": guest_id, "id": message["id"]})["code"] == "404", "not in that conversation"
    assert bob.call("read", {"recepient": alice_id})["code"] == "400"
    assert bob.call("read", {"recepient": "ALL", "id": message["id"]})["code"] == "400"
    room_id = new_id("room")
    assert bob.call("read", {"recepient": room_id, "command": "groupchat", "id": message["id"]})["code"] == "404"
    assert events(alice, "read") == []


def test_conversations_list_unread_counts_most_recent_first(connect_to):
    alice, bob, carol = connect_to(), connect_to(), connect_to()
    alice_id = registered(alice, "alice")
    bob_id = registered(bob, "bob")
    carol_id = registered(carol, "carol")
    room_id = make_room(carol, alice)

    for text in ("b1", "b2", "b3"):
        assert bob.call("message", {"recepient": alice_id, "data": text})["code"] == "200"
    first = alice.next("message", data="b1")
    assert alice.call("message", {"recepient": bob_id, "data": "mine"})["code"] == "200"
    assert carol.call("message", {"recepient": room_id, "command": "groupchat", "data": "c1"})["code"] == "200"
    newest = alice.next("message", data="c1")

    ack = alice.call("conversations", {})
    assert ack["code"] == "200"
    assert ack == alice.next("response", command="conversations")
    summary = [(entry["recepient"], entry["command"], entry["last"]["data"], entry["unread"])
               for entry in ack["conversations"]]
    assert summary == [(room_id, "groupchat", "c1", 1), (bob_id, "chat", "mine", 3)], "own messages are not unread"
    assert ack["conversations"][0]["last"] == newest

    assert alice.call("read", {"recepient": bob_id, "id": first["id"]})["code"] == "200"
    assert alice.call("read", {"recepient": room_id, "command": "groupchat", "id": newest["id"]})["code"] == "200"
    unread = {entry["recepient"]: entry["unread"] for entry in alice.call("conversations")["conversations"]}
    assert unread == {room_id: 0, bob_id: 2}
    assert carol_id not in unread, "no one-to-one conversation with carol"


def test_conversations_are_for_registered_users(connect_to):
    stranger, guest = connect_to(), connect_to()
    assert stranger.call("conversations", {})["code"] == "401"
    login(guest, new_id("guest"))
    assert guest.call("conversations", {})["code"] == "403"
    assert guest.call("conversations", "not an object")["code"] == "400"
