"""FanOutManager keeps python-socketio's room bookkeeping exactly, with a per-socket room index."""

import itertools

from hypothesis import given
from hypothesis import strategies as st
from socketio import Manager
from socketio.packet import Packet

from chatserver.transport.fanout import FanOutManager

NAMESPACE = "/"
ROOMS = ["ONLINE", "user:a", "user:b"]


class _Ids:
    """What BaseManager.pre_connect asks the Engine.IO server for: a new id."""

    def __init__(self):
        self.ids = itertools.count()

    def generate_id(self):
        return f"sid{next(self.ids)}"


class _Server:
    """The two things a manager asks of its Socket.IO server for room bookkeeping."""

    packet_class = Packet

    def __init__(self):
        self.eio = _Ids()


def _manager(cls):
    manager = cls()
    manager.set_server(_Server())
    manager.initialize()
    return manager


def _snapshot(manager, sids):
    rooms = {ns: {room: dict(members) for room, members in by_room.items()} for ns, by_room in manager.rooms.items()}
    return rooms, {sid: sorted(manager.get_rooms(sid, NAMESPACE)) for sid in sids}


operations = st.lists(
    st.tuples(st.sampled_from(["connect", "enter", "leave", "disconnect", "close"]),
              st.integers(0, 5), st.sampled_from(ROOMS)),
    max_size=40,
)


@given(operations)
def test_rooms_and_get_rooms_match_python_socketio(ops):
    ours, theirs = _manager(FanOutManager), _manager(Manager)
    sids: list[str] = []
    for op, which, room in ops:
        if op == "connect":
            sid = ours.connect(f"eio{len(sids)}", NAMESPACE)
            assert theirs.connect(f"eio{len(sids)}", NAMESPACE) == sid
            sids.append(sid)
            continue
        if not sids:
            continue
        sid = sids[which % len(sids)]
        for manager in (ours, theirs):
            if op == "enter" and manager.is_connected(sid, NAMESPACE):
                manager.enter_room(sid, NAMESPACE, room)
            elif op == "leave":
                manager.leave_room(sid, NAMESPACE, room)
            elif op == "disconnect":
                manager.disconnect(sid, NAMESPACE)
            elif op == "close":
                manager.close_room(room, NAMESPACE)
        assert _snapshot(ours, sids) == _snapshot(theirs, sids)
    assert _snapshot(ours, sids) == _snapshot(theirs, sids)
    for sid in sids:
        ours.disconnect(sid, NAMESPACE)
    assert ours._rooms_of == {}


class _Socket:
    """An Engine.IO socket that keeps the packets sent to it."""

    closed = False

    def __init__(self):
        self.packets = []

    def send(self, packet):
        self.packets.append(packet)


def test_emits_to_a_later_room_mark_their_packet_as_one_that_may_wait():
    manager = _manager(FanOutManager)
    manager.later_rooms = frozenset({"ONLINE"})
    sockets = {}
    manager.server.eio.sockets = sockets
    sid = manager.connect("eio0", NAMESPACE)
    sockets["eio0"] = _Socket()
    manager.enter_room(sid, NAMESPACE, "ONLINE")
    manager.enter_room(sid, NAMESPACE, "user:a")
    manager.emit("presence", {"command": "online"}, NAMESPACE, room="ONLINE")
    manager.emit("message", {"data": "hi"}, NAMESPACE, room="user:a")
    manager.emit("message", {"data": "both"}, NAMESPACE, room=["ONLINE", "user:a"])
    marks = [getattr(packet, "chatserver_later", False) for packet in sockets["eio0"].packets]
    assert marks == [True, False, False]
