"""PROTOCOL.md "Rooms", line by line, against real `python -m chatserver` processes and real clients.

Each test runs on SQLite and on PostgreSQL, over WebSocket and long-polling. Room ids are new
per test, so the tests share one server per module.
"""

from __future__ import annotations

import time

import pytest
from e2e_support import MESSAGE_FIELDS, login, new_id

from support import RecordingClient, ServerProcess, chatserver_command, free_port

PASSWORD = "correct horse battery"
QUIET = 0.5  # how long a test listens for an event that must not come


def registered(client, name: str) -> str:
    """Register a fresh id and log ``client`` in with its password; return the id."""
    user = new_id(name)
    assert client.call("register", {"id": user, "password": PASSWORD})["code"] == "200"
    assert client.call("login", {"id": user, "password": PASSWORD})["code"] == "200"
    client.next("presence", command="list")
    return user


def room(client, command: str, room_id: str | None = None, **fields) -> dict:
    """Send one `room` command; return its acknowledgement, after checking the `response` event says the same."""
    payload = {"command": command, **fields}
    if room_id is not None:
        payload["roomId"] = room_id
    ack = client.call("room", payload)
    assert ack == client.next("response", command="room"), "the ack and the response event agree"
    return ack


def listed(client, room_id: str) -> dict | None:
    """The entry for ``room_id`` in the next `room` list ``client`` receives (None if it is not listed)."""
    rooms = client.next("room", command="list")["rooms"]
    return next((entry for entry in rooms if entry["id"] == room_id), None)


def groupchat(client, room_id: str, data: str) -> dict:
    return client.call("message", {"recepient": room_id, "command": "groupchat", "data": data})


def received(client, event: str = "message", wait: float = QUIET) -> list:
    """The payloads of ``event`` that ``client`` received within ``wait`` seconds."""
    return [payload for name, payload in client.drain(wait) if name == event]


def test_the_books_room_flow(connect_to):
    """create (roomOwner ignored), list pushed, join, groupchat to every member's socket (the sender's too), leave."""
    alice, bob, carol = connect_to(), connect_to(), connect_to()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)
    login(carol, new_id("carol"))
    room_id = new_id("room")

    ack = room(alice, "create", room_id, roomName="Lobby", roomOwner="mallory")
    assert ack["code"] == "200", ack
    for client in (alice, bob, carol):
        assert listed(client, room_id) == {"id": room_id, "name": "Lobby", "owner": alice_id, "members": 1,
                                           "private": False}
    assert room(bob, "join", room_id)["code"] == "200"
    assert listed(carol, room_id)["members"] == 2

    ack = groupchat(alice, room_id, "hello room")
    assert ack["code"] == "200"
    assert ack == alice.next("response", command="message")
    assert room_id in ack["message"]
    for member in (alice, bob):
        message = member.next("message", data="hello room")
        assert set(message) == MESSAGE_FIELDS
        assert (message["sender"], message["recepient"], message["command"]) == (alice_id, room_id, "groupchat")
    assert received(carol) == [], "a non-member gets nothing"

    assert room(bob, "leave", room_id)["code"] == "200"
    assert listed(carol, room_id)["members"] == 1
    groupchat(alice, room_id, "after bob left")
    alice.next("message", data="after bob left")
    assert received(bob) == []
    assert room(bob, "leave", room_id)["code"] == "404", "not a member any more"


def test_groupchat_needs_membership_and_a_room(connect_to):
    """Not a member: 403 and nothing delivered; unknown room: 404; join twice is still one membership."""
    alice, bob = connect_to(), connect_to()
    login(alice, new_id("alice"))
    login(bob, new_id("bob"))
    room_id = new_id("room")
    assert room(alice, "create", room_id, roomName="r")["code"] == "200"
    assert groupchat(bob, room_id, "let me in")["code"] == "403"
    assert received(alice) == []
    assert groupchat(bob, new_id("nowhere"), "hello?")["code"] == "404"
    assert room(bob, "join", new_id("nowhere"))["code"] == "404"
    assert room(bob, "join", room_id)["code"] == "200"
    assert room(bob, "join", room_id)["code"] == "200"
    assert [entry["members"] for entry in room(bob, "list")["rooms"] if entry["id"] == room_id] == [2]


def test_only_the_owner_renames_or_deletes_and_members_are_told(connect_to):
    alice, bob = connect_to(), connect_to()
    login(alice, new_id("alice"))
    login(bob, new_id("bob"))
    room_id = new_id("room")
    assert room(alice, "create", room_id, roomName="before")["code"] == "200"
    assert room(bob, "join", room_id)["code"] == "200"
    assert room(bob, "update", room_id, roomName="mine now")["code"] == "403"
    assert room(bob, "delete", room_id)["code"] == "403"
    assert room(alice, "leave", room_id)["code"] == "403", "the owner deletes rather than leaves"

    bob.drain(QUIET)
    assert room(alice, "update", room_id, roomName="after")["code"] == "200"
    assert listed(bob, room_id)["name"] == "after"
    assert room(alice, "delete", room_id)["code"] == "200"
    assert bob.next("room", command="delete") == {"command": "delete", "roomId": room_id, "roomName": "after"}
    assert listed(bob, room_id) is None
    assert groupchat(bob, room_id, "anyone?")["code"] == "404"
    assert room(alice, "create", room_id, roomName="again")["code"] == "200", "a deleted room's id is free"


def test_private_rooms_need_an_invitation_and_are_listed_to_members_only(connect_to):
    alice, bob, guest = connect_to(), connect_to(), connect_to()
    alice_id = registered(alice, "alice")
    bob_id = registered(bob, "bob")
    login(guest, new_id("guest"))
    room_id = new_id("secret")
    bob.drain(QUIET)

    assert room(alice, "create", room_id, roomName="Secret", private=True)["code"] == "200"
    assert listed(alice, room_id)["private"] is True
    assert listed(bob, room_id) is None, "bob is pushed a list without it"
    assert room_id not in [entry["id"] for entry in room(bob, "list")["rooms"]]
    assert room(bob, "join", room_id)["code"] == "403"
    assert room(bob, "members", room_id)["code"] == "403"
    assert room(guest, "invite", room_id, userId=bob_id)["code"] == "403", "only members invite"
    assert room(alice, "invite", room_id, userId=new_id("nobody"))["code"] == "404"

    assert room(alice, "invite", room_id, userId=bob_id)["code"] == "200"
    invitation = bob.next("room", command="invite")
    assert (invitation["roomId"], invitation["sender"]) == (room_id, alice_id)
    assert room(bob, "join", room_id)["code"] == "200"
    assert listed(bob, room_id)["members"] == 2
    members = room(bob, "members", room_id)["members"]
    assert members == sorted([{"id": alice_id, "alias": alice_id, "online": True},
                              {"id": bob_id, "alias": bob_id, "online": True}], key=lambda member: member["id"])
    assert room_id not in [entry["id"] for entry in room(guest, "list")["rooms"]]


def test_membership_belongs_to_the_user_on_every_socket(connect_to):
    """A registered member's other and later sockets get the room's messages; leaving leaves on all of them."""
    alice, bob_phone = connect_to(), connect_to()
    login(alice, new_id("alice"))
    bob_id = registered(bob_phone, "bob")
    room_id = new_id("room")
    assert room(alice, "create", room_id, roomName="r")["code"] == "200"
    assert room(bob_phone, "join", room_id)["code"] == "200"

    bob_laptop = connect_to()
    ack = bob_laptop.call("login", {"id": bob_id, "password": PASSWORD})
    assert ack["code"] == "200"
    assert room_id in [entry["id"] for entry in bob_laptop.next("room", command="list")["rooms"]]
    groupchat(alice, room_id, "to both devices")
    for device in (bob_phone, bob_laptop):
        device.next("message", data="to both devices")

    bob_phone.close()
    bob_later = connect_to()
    assert bob_later.call("login", {"id": bob_id, "token": ack["token"]})["code"] == "200"
    groupchat(alice, room_id, "after a reconnect")
    bob_later.next("message", data="after a reconnect")

    assert room(bob_laptop, "leave", room_id)["code"] == "200"
    groupchat(alice, room_id, "gone")
    assert received(bob_later) == [] and received(bob_laptop) == []


def test_a_guests_rooms_and_memberships_end_with_the_guest(connect_to):
    alice, guest, bob = connect_to(), connect_to(), connect_to()
    login(alice, new_id("alice"))
    guest_id = new_id("guest")
    login(guest, guest_id)
    login(bob, new_id("bob"))
    theirs, mine = new_id("guest-room"), new_id("alice-room")
    assert room(guest, "create", theirs, roomName="g")["code"] == "200"
    assert room(alice, "create", mine, roomName="a")["code"] == "200"
    assert room(bob, "join", theirs)["code"] == "200"
    assert room(guest, "join", mine)["code"] == "200"
    bob.drain(QUIET)

    guest.close()
    assert bob.next("room", command="delete")["roomId"] == theirs, "the guest's own room goes, its members told"
    members = [entry["id"] for entry in room(alice, "members", mine)["members"]]
    assert guest_id not in members

    again = connect_to()
    login(again, guest_id)
    assert room(again, "list")["code"] == "200"
    assert groupchat(again, mine, "am I still in?")["code"] == "403", "a new guest of that id starts with nothing"


def test_bad_room_commands_get_their_code_and_change_nothing(connect_to):
    """Each malformed `room` event is answered and the socket keeps working; the room list is unchanged."""
    stranger, alice = connect_to(), connect_to()
    assert room(stranger, "list")["code"] == "401"
    login(alice, new_id("alice"))
    room_id = new_id("room")
    assert room(alice, "create", room_id, roomName="r")["code"] == "200"
    before = room(alice, "list")["rooms"]
    tried = [
        "not an object",
        ["create", room_id],
        {"command": "explode", "roomId": room_id},
        {"command": "join"},
        {"command": "join", "roomId": ""},
        {"command": "join", "roomId": 42},
        {"command": "create", "roomId": "ALL", "roomName": "everyone"},
        {"command": "create", "roomId": "x" * 65, "roomName": "long id"},
        {"command": "create", "roomId": new_id("room"), "roomName": "n" * 65},
        {"command": "create", "roomId": new_id("room"), "roomName": "line\nbreak"},
        {"command": "create", "roomId": new_id("room"), "roomName": "r", "private": "yes"},
        {"command": "update", "roomId": room_id},
        {"command": "invite", "roomId": room_id},
    ]
    for payload in tried:
        ack = alice.call("room", payload)
        assert ack["code"] == "400", (payload, ack)
        assert alice.next("response", command="room") == ack
    assert room(alice, "create", room_id, roomName="again")["code"] == "409"
    assert room(alice, "list")["rooms"] == before
    assert groupchat(alice, room_id, "still works")["code"] == "200"


def test_room_history_is_for_members(connect_to):
    alice, bob = connect_to(), connect_to()
    login(alice, new_id("alice"))
    login(bob, new_id("bob"))
    room_id = new_id("room")
    assert room(alice, "create", room_id, roomName="r")["code"] == "200"
    texts = [new_id("said") for _ in range(3)]
    for text in texts:
        groupchat(alice, room_id, text)
    delivered = [alice.next("message", data=text) for text in texts]
    query = {"recepient": room_id, "command": "groupchat"}
    assert bob.call("history", query)["code"] == "403"
    assert room(bob, "join", room_id)["code"] == "200"
    ack = bob.call("history", query)
    assert (ack["code"], ack["messages"], ack["more"]) == ("200", delivered, False)
    assert bob.call("history", {**query, "recepient": new_id("nowhere")})["code"] == "404"


@pytest.mark.parametrize("transport", ["websocket"])
def test_limits_on_rooms_and_members(connect_with, transport):
    settings = {"CHATSERVER_MAX_ROOMS_PER_USER": "2", "CHATSERVER_MAX_ROOM_MEMBERS": "2"}
    alice, bob, carol = (connect_with(settings) for _ in range(3))
    for client in (alice, bob, carol):
        login(client, new_id("user"))
    first, second = new_id("room"), new_id("room")
    assert room(alice, "create", first, roomName="1")["code"] == "200"
    assert room(alice, "create", second, roomName="2")["code"] == "200"
    ack = room(alice, "create", new_id("room"), roomName="3")
    assert ack["code"] == "403" and "2" in ack["message"]
    assert room(bob, "join", first)["code"] == "200"
    assert room(carol, "join", first)["code"] == "403", "two members at most"
    assert room(carol, "members", first)["code"] == "200"
    assert len(room(carol, "members", first)["members"]) == 2


def test_the_books_korean_texts(start_server, backend):
    """join, leave and groupchat answer with the book's sentences under the Korean locale."""
    server = start_server(CHATSERVER_DATABASE_URL=backend, CHATSERVER_LOCALE="ko")
    alice, bob = RecordingClient(server.url), RecordingClient(server.url)
    try:
        login(alice, new_id("alice"))
        login(bob, new_id("bob"))
        room_id = new_id("room")
        assert room(alice, "create", room_id, roomName="방")["code"] == "200"
        assert room(bob, "join", room_id)["message"] == "방에 입장했습니다."
        sent = f"방 [{room_id}]의 모든 사용자들에게 메시지를 전송했습니다."
        assert groupchat(bob, room_id, "안녕")["message"] == sent
        assert room(bob, "leave", room_id)["message"] == "방에서 나갔습니다."
    finally:
        alice.close()
        bob.close()


def test_rooms_and_memberships_survive_a_restart(tmp_path):
    """A registered user's rooms are stored: after a restart the room and its members are back, and it works."""
    port = free_port()
    env = {"CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.sqlite3'}"}
    room_id = new_id("room")
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path) as server:
        alice, bob = RecordingClient(server.url), RecordingClient(server.url)
        registered(alice, "alice")
        bob_id = registered(bob, "bob")
        assert room(alice, "create", room_id, roomName="kept", private=True)["code"] == "200"
        assert room(alice, "invite", room_id, userId=bob_id)["code"] == "200"
        assert room(bob, "join", room_id)["code"] == "200"
        alice.close()
        bob.close()
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path) as server:
        bob = RecordingClient(server.url)
        try:
            assert bob.call("login", {"id": bob_id, "password": PASSWORD})["code"] == "200"
            kept = [entry for entry in bob.next("room", command="list")["rooms"] if entry["id"] == room_id]
            assert [(entry["name"], entry["members"], entry["private"]) for entry in kept] == [("kept", 2, True)]
            assert groupchat(bob, room_id, "still here")["code"] == "200"
            bob.next("message", data="still here")
        finally:
            bob.close()


def test_a_burst_of_joins_reaches_others_as_few_lists_ending_with_the_final_count(connect_to):
    """Lists are pushed at most once per 0.2 s per node (plus one at the end), so N joins are not N lists to all."""
    observer, owner = connect_to(), connect_to()
    login(observer, new_id("observer"))
    login(owner, new_id("owner"))
    room_id = new_id("room")
    assert room(owner, "create", room_id, roomName="busy")["code"] == "200"
    joiners = [connect_to() for _ in range(10)]
    for joiner in joiners:
        login(joiner, new_id("joiner"))
    observer.drain(0.5)

    started = time.monotonic()
    for joiner in joiners:
        assert joiner.call("room", {"command": "join", "roomId": room_id})["code"] == "200"
    took = time.monotonic() - started
    lists = [payload for name, payload in observer.drain(1.0) if name == "room" and payload["command"] == "list"]
    counts = [entry["members"] for payload in lists for entry in payload["rooms"] if entry["id"] == room_id]
    assert counts[-1] == 11, "the last list has every join"
    assert len(lists) <= 2 + took / 0.2, (len(lists), took)
