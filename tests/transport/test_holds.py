"""RoomHolds: a room is held while any socket or kept session is in it, and said so once per change."""

from chatserver.transport.holds import RoomHolds


def test_a_room_is_held_from_its_first_reason_to_its_last():
    changes = []
    holds = RoomHolds(lambda room, held: changes.append((room, held)))
    holds.add(["lobby", None])
    holds.add(["lobby"])
    holds.remove(["lobby"])
    assert changes == [("lobby", True)], "None (every socket) is never a held room; a second reason says nothing"
    holds.remove(["lobby"])
    holds.remove(["lobby"])  # one release too many changes nothing
    assert changes == [("lobby", True), ("lobby", False)]
    assert holds.rooms() == []


def test_a_dropped_session_keeps_its_rooms_held_after_its_socket_left_them():
    changes = []
    holds = RoomHolds(lambda room, held: changes.append((room, held)))
    holds.add(["user:bob", "room:r"])  # the socket enters
    holds.add(["user:bob", "room:r"])  # it drops: its session is kept, before the socket leaves its rooms
    holds.remove(["user:bob", "room:r"])  # the socket leaves
    assert sorted(holds.rooms()) == ["room:r", "user:bob"]
    holds.remove(["user:bob", "room:r"])  # the session expires
    assert changes[-2:] == [("user:bob", False), ("room:r", False)]
