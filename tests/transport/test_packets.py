"""ChatPacket's binary check answers exactly as python-socketio's own, and the app uses it."""

from hypothesis import given
from hypothesis import strategies as st
from socketio.packet import BINARY_EVENT, EVENT, Packet

from chatserver import create_app
from chatserver.chat.presence import MemoryPresence, UserList
from chatserver.transport.packets import ChatPacket, packet_class

leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
                   st.binary(max_size=3), st.builds(bytearray, st.binary(max_size=3)))
json_like = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                                           max_size=4), max_leaves=25)


@given(json_like)
def test_binary_check_matches_python_socketio(data):
    assert ChatPacket.data_is_binary(data) == Packet.data_is_binary(data)


def test_bytes_deep_in_a_list_of_users_still_make_a_binary_event():
    users = [{"id": f"u{i}", "alias": f"U{i}"} for i in range(1000)]
    assert ChatPacket(EVENT, ["presence", {"command": "list", "users": users}]).packet_type == EVENT
    users[500]["avatar"] = b"\x89PNG"
    assert ChatPacket(EVENT, ["presence", {"command": "list", "users": users}]).packet_type == BINARY_EVENT


def test_the_presence_list_is_not_walked_for_bytes():
    chat_packet = packet_class(never_binary=(UserList,))
    presence = MemoryPresence()
    presence.add("s1", "alice", "A")
    users = presence.users()
    assert type(users) is UserList and users == [{"id": "alice", "alias": "A"}]
    assert chat_packet.data_is_binary(["presence", {"command": "list", "users": users}]) is False
    assert ChatPacket.never_binary.isdisjoint({UserList, list}), "the base class still looks into lists"


def test_the_chat_app_sends_chat_packets():
    app = create_app({"TESTING": True})
    used = app.extensions["chatserver"].socketio.server.packet_class
    assert issubclass(used, ChatPacket) and UserList in used.never_binary


ids = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)


@given(st.lists(st.tuples(ids, st.booleans()), max_size=40))
def test_the_presence_list_keeps_its_json_and_packets_splice_it(changes):
    """The JSON the presence keeps entry by entry is what encoding its list gives, through logins and
    logouts, and a packet carrying it encodes to what python-socketio encodes for the plain list."""
    import json

    presence = MemoryPresence()
    for n, (user, logs_in) in enumerate(changes):
        if logs_in or presence.user_of(user) is None:
            presence.add(user, user, alias=user[::-1])  # the sid is the user: one socket each
        else:
            presence.remove(user)
        users = presence.users()
        assert users.json_text == json.dumps(list(users), separators=(",", ":"))
        data = ["presence", {"command": "list", "users": users}, n]
        plain = ["presence", {"command": "list", "users": list(users)}, n]
        spliced = packet_class((UserList,))(EVENT, namespace="/", data=data).encode()
        assert spliced[0] == "2" and json.loads(spliced[1:]) == json.loads(Packet(EVENT, namespace="/",
                                                                                     data=plain).encode()[1:])
