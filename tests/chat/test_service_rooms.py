"""Rooms in ChatService on a real SQLite store: the Outbox each command makes, no Flask, no sockets."""

from __future__ import annotations

import pytest

from chatserver.chat import ONLINE_ROOM, ChatService, Delivery, Move, room_key, user_room
from chatserver.chat.rooms import RoomLimits
from chatserver.store import open_store


@pytest.fixture
def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'chat.sqlite3'}")
    yield store
    store.close()


class SocketRooms:
    """The Socket.IO rooms of each socket, as the namespace would keep them from the Outboxes."""

    def __init__(self) -> None:
        self.rooms: dict[str, set[str]] = {}

    def __call__(self, sid: str) -> set:
        return self.rooms.get(sid, set()) | {None}  # python-socketio's room of every socket is None

    def apply(self, sid: str, outbox) -> None:
        for room in outbox.joins:
            self.rooms.setdefault(sid, set()).add(room)
        for move in outbox.moves:
            for rooms in self.rooms.values():
                if move.of_room in rooms:
                    (rooms.add if move.join else rooms.discard)(move.room)

    def participants(self, room: str) -> list[str]:
        return [sid for sid, rooms in self.rooms.items() if room in rooms]


@pytest.fixture
def sockets():
    return SocketRooms()


@pytest.fixture
def service(store, sockets):
    return ChatService(store=store, rate_per_second=0, socket_rooms=sockets,
                       room_limits=RoomLimits(rooms=3, rooms_per_user=2, members=2))


@pytest.fixture
def act(service, sockets):
    """Handle one event and keep the socket rooms up to date, as the namespace does."""

    def act(sid: str, event: str, payload=None):
        outbox = service.handle(sid, event, payload)
        sockets.apply(sid, outbox)
        return outbox

    return act


def test_create_moves_the_owners_sockets_in_and_changes_the_lists(act):
    act("s1", "login", {"id": "alice"})
    outbox = act("s1", "room", {"command": "create", "roomId": "lobby", "roomName": "Lobby"})
    assert outbox.reply["code"] == "200"
    assert outbox.moves == [Move(user_room("alice"), room_key("lobby"), True)]
    assert outbox.lists_changed is True


def test_groupchat_goes_to_the_rooms_socketio_room_after_a_set_lookup(act, store):
    act("s1", "login", {"id": "alice"})
    act("s1", "room", {"command": "create", "roomId": "lobby"})
    outbox = act("s1", "message", {"recepient": "lobby", "command": "groupchat", "data": "hi"})
    assert outbox.reply["code"] == "200"
    [delivery] = outbox.deliveries
    assert (delivery.event, delivery.to) == ("message", room_key("lobby"))
    act("s2", "login", {"id": "bob"})
    assert act("s2", "message", {"recepient": "lobby", "command": "groupchat", "data": "hi"}).reply["code"] == "403"


def test_a_login_joins_the_users_rooms_and_sends_the_room_list_first(act):
    act("s1", "login", {"id": "alice"})
    act("s1", "room", {"command": "create", "roomId": "lobby"})
    outbox = act("s2", "login", {"id": "alice"})
    assert room_key("lobby") in outbox.joins
    events = [(delivery.event, delivery.payload["command"]) for delivery in outbox.deliveries]
    assert events[:2] == [("room", "list"), ("presence", "list")]


def test_room_lists_go_to_everyone_in_one_emit_and_per_socket_to_private_members(act, service, sockets, store):
    act("s1", "login", {"id": "alice"})
    act("s2", "login", {"id": "bob"})
    act("s1", "room", {"command": "create", "roomId": "open"})
    act("s1", "room", {"command": "create", "roomId": "secret", "private": True})
    outbox = service.room_lists(sockets.participants)
    everyone, alice_only = outbox.deliveries
    assert (everyone.to, everyone.skip, everyone.local) == (ONLINE_ROOM, ["s1"], True)
    assert [entry["id"] for entry in everyone.payload["rooms"]] == ["open"]
    assert alice_only.to == "s1"
    assert [entry["id"] for entry in alice_only.payload["rooms"]] == ["open", "secret"]


def test_limits(act):
    act("s1", "login", {"id": "alice"})
    act("s2", "login", {"id": "bob"})
    act("s3", "login", {"id": "carol"})
    assert act("s1", "room", {"command": "create", "roomId": "a"}).reply["code"] == "200"
    assert act("s1", "room", {"command": "create", "roomId": "b"}).reply["code"] == "200"
    assert act("s1", "room", {"command": "create", "roomId": "c"}).reply["code"] == "403", "two rooms per user"
    assert act("s2", "room", {"command": "create", "roomId": "c"}).reply["code"] == "200"
    assert act("s3", "room", {"command": "create", "roomId": "d"}).reply["code"] == "403", "three rooms in all"
    assert act("s2", "room", {"command": "join", "roomId": "a"}).reply["code"] == "200"
    assert act("s3", "room", {"command": "join", "roomId": "a"}).reply["code"] == "403", "two members per room"


def test_a_guests_last_socket_takes_its_rooms_and_memberships_with_it(act, service, store):
    act("s1", "login", {"id": "alice"})
    act("g1", "login", {"id": "guest"})
    act("g2", "login", {"id": "guest"})
    act("g1", "room", {"command": "create", "roomId": "theirs"})
    act("s1", "room", {"command": "create", "roomId": "mine"})
    act("g1", "room", {"command": "join", "roomId": "mine"})
    assert service.disconnect("g1").moves == [], "the guest still has a socket"
    outbox = service.disconnect("g2")
    assert Delivery("room", {"command": "delete", "roomId": "theirs", "roomName": "theirs"},
                    room_key("theirs")) in outbox.deliveries
    assert outbox.lists_changed
    assert store.room("theirs") is None
    assert store.rooms_of("guest") == []
    assert [member for member, _ in store.members("mine")] == ["alice"]


def test_leftovers_of_an_earlier_guest_are_dropped_at_the_next_guests_login(service, store):
    """A guest whose last socket left where no node saw it (a crash) leaves rows; the next one starts clean."""
    store.create_room("old", "old", "ghost", False, 0)
    outbox = service.handle("s1", "login", {"id": "ghost"})
    assert store.room("old") is None
    assert room_key("old") not in outbox.joins
    assert outbox.deliveries[0].payload == {"command": "list", "rooms": []}


def test_a_recovered_socket_leaves_and_joins_only_the_rooms_that_changed_while_it_was_away(service, act, sockets):
    # Leaving a room it is still in to join it again would, in a cluster, take the node's route
    # for the room away for a moment, and another node's message to the room with it.
    act("b1", "login", {"id": "bob"})
    act("b1", "room", {"command": "create", "roomId": "kept"})
    act("b1", "room", {"command": "create", "roomId": "left"})
    session = service.session_of("b1")
    service.drop("b1")
    rooms_at_the_drop = set(sockets.rooms["b1"])  # what recovery gives the socket back
    act("b2", "login", {"id": "bob"})  # meanwhile, on another device
    act("b2", "room", {"command": "delete", "roomId": "left"})
    act("b2", "room", {"command": "create", "roomId": "new"})
    sockets.rooms["b1"] = rooms_at_the_drop
    resumed = service.resume("b1", "127.0.0.1", session)
    assert resumed.leaves == [room_key("left")]
    assert resumed.joins == [room_key("new")]
