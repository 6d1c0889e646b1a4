"""PROTOCOL.md line by line, against a real `python -m chatserver`, over WebSocket and long-polling.

Every test runs once per transport (the ``transport`` fixture). The default server is shared by
the module; each test uses fresh login ids.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import websocket
from e2e_support import MESSAGE_FIELDS, TRANSPORTS, assert_next_is_barrier, assert_next_is_broadcast, login, new_id

HERE = Path(__file__).resolve().parent
KO_LOGIN = "로그인되었습니다."
KO_SENT = "메시지를 전송했습니다."
KO_NOT_FOUND = "상대방의 로그인 ID를 찾을 수 없습니다."


def reply_of(client, command):
    """Return the next `response` event for ``command``."""
    return client.next("response", command=command)


# -- login and presence ---------------------------------------------------------------------


def test_login_replies_200_and_sends_the_presence_list(connect):
    """login → response and ack {login, '200', text}; the list names every online user, the receiver too."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")

    ack = alice.call("login", {"id": alice_id, "alias": "Alice"})
    assert ack == reply_of(alice, "login")
    assert ack["code"] == "200" and ack["command"] == "login"
    assert isinstance(ack["message"], str) and ack["message"]
    assert {"id": alice_id, "alias": "Alice"} in alice.next("presence", command="list")["users"]

    bob.call("login", {"id": bob_id, "alias": "Bob", "password": "", "today": "2024-01-01"})
    users = bob.next("presence", command="list")["users"]
    assert {"id": alice_id, "alias": "Alice"} in users
    assert {"id": bob_id, "alias": "Bob"} in users
    assert all(set(user) == {"id", "alias"} for user in users)


def test_login_without_alias_uses_the_id(connect):
    """The alias is optional: presence then shows the id as the alias."""
    alice = connect()
    alice_id = new_id("alice")
    assert {"id": alice_id, "alias": alice_id} in login(alice, alice_id)["users"]


def test_first_login_and_last_logout_are_announced_to_every_logged_in_socket(connect):
    """online goes out on a user's first socket only; offline on its last; both to every logged-in socket."""
    watcher, bob_phone, bob_laptop = connect(), connect(), connect()
    watcher_id, bob_id = new_id("watcher"), new_id("bob")
    login(watcher, watcher_id)
    watcher.until("presence", command="online", id=watcher_id)

    login(bob_phone, bob_id, alias="Bob")
    assert watcher.next() == ("presence", {"command": "online", "id": bob_id, "alias": "Bob"})
    bob_phone.next("presence", command="online", id=bob_id)  # bob's socket is logged in: it hears it too

    login(bob_laptop, bob_id, alias="Bob")  # second socket: not a new arrival
    assert_next_is_barrier(watcher, watcher_id, bob_laptop)

    assert bob_phone.call("logout")["code"] == "200"  # bob is still on the laptop
    assert_next_is_barrier(watcher, watcher_id, bob_laptop)

    assert bob_laptop.call("logout")["code"] == "200"
    assert watcher.next() == ("presence", {"command": "offline", "id": bob_id, "alias": "Bob"})


def test_disconnecting_is_a_logout(connect):
    """Closing a user's last socket announces offline; the user is then unreachable (404)."""
    watcher, bob = connect(), connect()
    watcher_id, bob_id = new_id("watcher"), new_id("bob")
    login(watcher, watcher_id)
    login(bob, bob_id)
    watcher.next("presence", command="online", id=bob_id)

    bob.close()
    assert watcher.next("presence", command="offline", id=bob_id) == {"command": "offline", "id": bob_id,
                                                                     "alias": bob_id}
    assert watcher.call("message", {"recepient": bob_id, "data": "still there?"})["code"] == "404"


def test_disconnecting_one_of_two_sockets_keeps_the_user_online(connect):
    """The same id on two sockets: closing one announces nothing and the other still gets messages."""
    watcher, bob_phone, bob_laptop = connect(), connect(), connect()
    watcher_id, bob_id = new_id("watcher"), new_id("bob")
    login(watcher, watcher_id)
    login(bob_phone, bob_id)
    login(bob_laptop, bob_id)
    watcher.next("presence", command="online", id=bob_id)

    bob_phone.close()
    assert_next_is_barrier(watcher, watcher_id, bob_laptop)  # no offline event came first
    assert watcher.call("message", {"recepient": bob_id, "data": "laptop?"})["code"] == "200"
    assert bob_laptop.next("message")["data"] == "laptop?"


def test_same_id_on_two_sockets_both_receive_one_to_one_messages(connect):
    """Phone and laptop logged in as one id each get the message (the same one); the sender gets 200."""
    alice, bob_phone, bob_laptop = connect(), connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob_phone, bob_id)
    login(bob_laptop, bob_id)

    ack = alice.call("message", {"recepient": bob_id, "data": "both of you"})
    assert ack["code"] == "200"
    on_phone, on_laptop = bob_phone.next("message"), bob_laptop.next("message")
    assert on_phone == on_laptop
    assert on_phone["data"] == "both of you" and on_phone["recepient"] == bob_id


def test_second_login_on_a_socket_switches_its_id(connect):
    """login as x, then as y on the same socket: x is logged out there (offline, 404), y gets messages."""
    watcher, switcher = connect(), connect()
    watcher_id, old_id, new = new_id("watcher"), new_id("old"), new_id("new")
    login(watcher, watcher_id)
    login(switcher, old_id)
    watcher.next("presence", command="online", id=old_id)

    users = login(switcher, new)["users"]
    ids = [user["id"] for user in users]
    assert new in ids and old_id not in ids
    announced = [watcher.next("presence"), watcher.next("presence")]
    assert {"command": "offline", "id": old_id, "alias": old_id} in announced
    assert {"command": "online", "id": new, "alias": new} in announced

    assert watcher.call("message", {"recepient": old_id, "data": "old?"})["code"] == "404"
    assert watcher.call("message", {"recepient": new, "data": "new?"})["code"] == "200"
    assert switcher.next("message")["data"] == "new?"
    assert switcher.call("message", {"recepient": watcher_id, "data": "from new"})["code"] == "200"
    assert watcher.next("message")["sender"] == new


def test_logging_in_again_as_the_same_id_changes_nothing(connect):
    """A repeated login with the same id on the same socket is 200 and announces nothing."""
    watcher, bob = connect(), connect()
    watcher_id, bob_id = new_id("watcher"), new_id("bob")
    login(watcher, watcher_id)
    login(bob, bob_id)
    watcher.next("presence", command="online", id=bob_id)

    login(bob, bob_id)
    assert_next_is_barrier(watcher, watcher_id, bob)


def test_refused_login_leaves_the_existing_login(connect):
    """A 400 login (empty id) on a logged-in socket keeps it logged in as before, announcing nothing."""
    watcher, bob = connect(), connect()
    watcher_id, bob_id = new_id("watcher"), new_id("bob")
    login(watcher, watcher_id)
    login(bob, bob_id)
    watcher.next("presence", command="online", id=bob_id)

    ack = bob.call("login", {"id": "  "})
    assert ack["code"] == "400" and ack == reply_of(bob, "login")
    assert_next_is_barrier(watcher, watcher_id, bob)
    assert watcher.call("message", {"recepient": bob_id, "data": "still bob?"})["code"] == "200"
    assert bob.next("message")["data"] == "still bob?"
    bob.call("message", {"recepient": watcher_id, "data": "yes"})
    assert watcher.next("message")["sender"] == bob_id


@pytest.mark.parametrize("reserved", ["ALL", "all", "All", "aLl", " ALL "])
def test_all_in_any_case_is_refused_as_a_login_id(connect, reserved):
    """login as ALL in any case (and padded) → 400 in response and ack."""
    client = connect()
    ack = client.call("login", {"id": reserved})
    assert ack["code"] == "400" and ack == reply_of(client, "login")


def test_id_length_is_counted_in_code_points(connect):
    """64 emoji (256 UTF-8 bytes) are a valid id; 65 are not."""
    client = connect()
    assert client.call("login", {"id": "😀" * 65})["code"] == "400"
    user = "😀" * 64
    assert {"id": user, "alias": user} in login(client, user)["users"]


def test_id_is_trimmed(connect):
    """Whitespace around the id is not part of it: messages to the trimmed id arrive."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, f"  {bob_id}\t")
    assert alice.call("message", {"recepient": bob_id, "data": "trimmed"})["code"] == "200"
    assert bob.next("message")["recepient"] == bob_id


# -- logout -----------------------------------------------------------------------------------


def test_logout_is_200_when_logged_in_and_404_when_not(connect):
    """logout → 200; again → 404; on a socket that never logged in → 404; response equals ack."""
    alice, stranger = connect(), connect()
    login(alice, new_id("alice"))

    first = alice.call("logout")
    assert first["code"] == "200" and first["command"] == "logout" and first == reply_of(alice, "logout")
    second = alice.call("logout")
    assert second["code"] == "404" and second == reply_of(alice, "logout")
    never = stranger.call("logout")
    assert never["code"] == "404" and never["command"] == "logout" and never == reply_of(stranger, "logout")


@pytest.mark.parametrize("payload", [{}, {"id": "someone-else"}, "text", 7, (None,), ["a", "b"]],
                         ids=["empty-object", "object", "string", "number", "null", "list"])
def test_logout_ignores_its_payload(connect, payload):
    """logout with any payload behaves as without one: 200 logged in, then 404."""
    alice = connect()
    login(alice, new_id("alice"))
    assert alice.call("logout", payload)["code"] == "200"
    assert alice.call("logout", payload)["code"] == "404"


def test_message_after_logout_is_401(connect):
    """A socket that logged out may not send any more."""
    alice = connect()
    login(alice, new_id("alice"))
    alice.call("logout")
    ack = alice.call("message", {"recepient": "ALL", "data": "gone"})
    assert ack["code"] == "401" and ack == reply_of(alice, "message")


# -- message ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"recepient": "ALL", "data": "hello"},
        {"recepient": "someone", "data": "hello"},
        {"recepient": "ALL", "data": "x" * 2001},
        {"recepient": "ALL", "data": 5},
        {"recepient": "ALL"},
        {},
        "text",
        (None,),
        None,
    ],
    ids=["broadcast", "one-to-one", "too-long", "data-not-a-string", "no-data", "empty", "string", "null", "nothing"],
)
def test_message_before_login_is_401_whatever_else_is_wrong(connect, payload):
    """A socket that is not logged in gets 401 for message, even when the payload is malformed; nothing is sent."""
    stranger, watcher, alice = connect(), connect(), connect()
    login(alice, new_id("alice"))
    ack = stranger.call("message", payload)
    assert ack == {**ack, "command": "message", "code": "401"}
    assert ack == reply_of(stranger, "message")
    # Connected sockets would get a broadcast: the next thing each gets is alice's.
    assert_next_is_broadcast(alice, stranger, watcher)


def test_sender_is_set_by_the_server(connect):
    """A client-supplied sender is ignored: the message carries the sending socket's login id."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)

    alice.call("message", {"sender": bob_id, "recepient": bob_id, "data": "it's me, bob"})
    assert bob.next("message")["sender"] == alice_id
    alice.call("message", {"sender": "ALL", "recepient": "ALL", "data": "from everyone"})
    assert bob.next("message", data="from everyone")["sender"] == alice_id


def test_message_has_exactly_the_protocol_fields(connect):
    """Extra fields and client-supplied id/timestamp are dropped: the delivered message has the seven fields."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)

    alice.call("message", {"recepient": bob_id, "command": "chat", "type": "text", "data": "hi", "id": "forged",
                           "timestamp": 1, "html": "<b>x</b>", "today": "2024-01-01", "nested": {"a": [1]}})
    message = bob.next("message")
    assert set(message) == MESSAGE_FIELDS
    assert message["id"] != "forged" and message["timestamp"] != 1
    assert (message["sender"], message["recepient"], message["command"], message["type"], message["data"]) == (
        alice_id, bob_id, "chat", "text", "hi")


def test_command_and_type_default_to_chat_and_text(connect):
    """Without command and type the message says chat/text; given ones are kept."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)

    alice.call("message", {"recepient": bob_id, "data": "plain"})
    plain = bob.next("message")
    assert (plain["command"], plain["type"]) == ("chat", "text")
    alice.call("message", {"recepient": bob_id, "command": "emoji", "type": "image", "data": "fancy"})
    fancy = bob.next("message")
    assert (fancy["command"], fancy["type"]) == ("emoji", "image")


def test_broadcast_reaches_every_connected_socket_and_only_acks(connect):
    """ALL: every socket gets it (sender, logged-in, not logged in); the sender gets the ack and no response."""
    alice, bob, stranger = connect(), connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)
    alice.until("presence", command="online", id=bob_id)

    ack = alice.call("message", {"sender": alice_id, "recepient": "ALL", "command": "chat", "type": "text",
                                 "data": "hello everyone"})
    assert ack == {**ack, "command": "message", "code": "200"}
    received = [client.next("message", data="hello everyone") for client in (alice, bob, stranger)]
    assert received[0] == received[1] == received[2]
    assert received[0]["sender"] == alice_id and received[0]["recepient"] == "ALL"

    # Everything alice got between the broadcast and her logout reply: the message, no response.
    alice.call("logout")
    assert [name for name, _ in alice.until("response", command="logout")] == ["response"]


def test_bursts_from_several_senders_arrive_whole_and_in_each_senders_order(connect):
    """Many frames queued for one socket at once (small and 11 KB ones mixed) all arrive, in order."""
    receiver, senders = connect(), [connect(), connect()]
    receiver_id = new_id("burst-receiver")
    login(receiver, receiver_id)
    sender_ids = [new_id("burst-sender") for _ in senders]
    for sender, sender_id in zip(senders, sender_ids, strict=True):
        login(sender, sender_id)
    sizes = [0, 10, 300, 1900]
    for round_ in range(2):
        for size in sizes:
            for sender in senders:
                sender.emit("message", {"recepient": receiver_id, "data": f"{round_}:{size}:" + "한" * size})
    expected = [f"{round_}:{size}:" + "한" * size for round_ in range(2) for size in sizes]
    got = {sender_id: [] for sender_id in sender_ids}
    for _ in range(len(expected) * len(senders)):
        message = receiver.next("message", timeout=10)
        got[message["sender"]].append(message["data"])
    assert got == {sender_id: expected for sender_id in sender_ids}


def test_one_to_one_is_200_and_reaches_only_the_recipient(connect):
    """message to a logged-in user: 200 (response == ack); only that user gets it, not the sender nor others."""
    alice, bob, carol = connect(), connect(), connect()
    alice_id, bob_id, carol_id = new_id("alice"), new_id("bob"), new_id("carol")
    login(alice, alice_id)
    login(bob, bob_id)
    login(carol, carol_id)
    carol.until("presence", command="online", id=carol_id)

    ack = alice.call("message", {"recepient": bob_id, "data": "just you"})
    assert ack["code"] == "200" and ack["command"] == "message" and ack == reply_of(alice, "message")
    message = bob.next("message")
    assert (message["sender"], message["recepient"], message["data"]) == (alice_id, bob_id, "just you")
    assert_next_is_barrier(carol, carol_id, alice)
    alice.call("logout")
    assert "message" not in [name for name, _ in alice.until("response", command="logout")]


def test_one_to_one_to_nobody_is_404_and_delivers_nothing(connect):
    """message to an id nobody is logged in as: 404 (response == ack), and no socket gets anything."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)
    bob.until("presence", command="online", id=bob_id)

    ack = alice.call("message", {"recepient": new_id("nobody"), "data": "anyone?"})
    assert ack["code"] == "404" and ack["command"] == "message" and ack == reply_of(alice, "message")
    assert_next_is_barrier(bob, bob_id, alice)


@pytest.mark.parametrize("recepient", ["all", "All", " ALL", "ALL ", "ＡＬＬ"])
def test_only_exactly_all_broadcasts(connect, recepient):
    """A recepient that merely looks like ALL is one-to-one: 404, and nobody gets a broadcast."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)
    bob.until("presence", command="online", id=bob_id)

    ack = alice.call("message", {"recepient": recepient, "data": "not a broadcast"})
    assert ack["code"] == "404" and ack == reply_of(alice, "message")
    assert_next_is_barrier(bob, bob_id, alice)


def test_message_ids_are_unique_and_timestamps_are_integer_milliseconds(connect):
    """Ten messages get ten different ids; each timestamp is an int of ms between send and receipt."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)

    before = int(time.time() * 1000)
    for number in range(5):
        alice.call("message", {"recepient": bob_id, "data": f"one-to-one {number}"})
        alice.call("message", {"recepient": "ALL", "data": f"{alice_id} broadcast {number}"})
    messages = [bob.next("message") for _ in range(10)]
    after = int(time.time() * 1000)

    assert len({message["id"] for message in messages}) == 10
    assert all(isinstance(message["id"], str) and message["id"] for message in messages)
    for message in messages:
        assert type(message["timestamp"]) is int
        # Same machine, same clock: allow a second either way for rounding and clock steps.
        assert before - 1000 <= message["timestamp"] <= after + 1000


def test_data_length_is_counted_in_code_points(connect):
    """2000 emoji (8000 UTF-8 bytes) are within the default limit; 2001 characters → 413, not delivered."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)

    ack = alice.call("message", {"recepient": bob_id, "data": "😀" * 2000})
    assert ack["code"] == "200" and ack == reply_of(alice, "message")
    assert bob.next("message")["data"] == "😀" * 2000
    for data in ("😀" * 2001, "x" * 2001):
        ack = alice.call("message", {"recepient": bob_id, "data": data})
        assert ack["code"] == "413" and ack["command"] == "message" and ack == reply_of(alice, "message")
    assert_next_is_barrier(bob, bob_id, alice)


def test_empty_data_is_a_message(connect):
    """data "" is a string of at most the limit: delivered."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)
    assert alice.call("message", {"recepient": bob_id, "data": ""})["code"] == "200"
    assert bob.next("message")["data"] == ""


def test_every_code_is_a_string(connect):
    """200, 400, 401, 404 and 413 all arrive as strings, in the response and the ack alike."""
    alice, stranger = connect(), connect()
    alice_id = new_id("alice")
    calls = [
        (stranger, "message", {"recepient": "ALL", "data": "x"}),
        (stranger, "login", {"id": ""}),
        (alice, "login", {"id": alice_id}),
        (alice, "message", {"recepient": new_id("nobody"), "data": "x"}),
        (alice, "message", {"recepient": alice_id, "data": "x" * 2001}),
    ]
    codes = []
    for client, event, payload in calls:
        ack = client.call(event, payload)
        assert ack == reply_of(client, event)
        codes.append(ack["code"])
    assert codes == ["401", "400", "200", "404", "413"]


# -- texts --------------------------------------------------------------------------------------


def test_english_texts_by_default(connect):
    """Without a locale setting the response texts are English."""
    alice = connect()
    ack = alice.call("login", {"id": new_id("alice")})
    assert ack["message"].isascii() and ack["message"].strip()


def test_korean_locale_uses_the_seeds_exact_sentences(start_server, connect):
    """CHATSERVER_LOCALE=ko: 로그인되었습니다. / 메시지를 전송했습니다. / 상대방의 로그인 ID를 찾을 수 없습니다."""
    korean = start_server(CHATSERVER_LOCALE="ko")
    alice, bob = connect(korean), connect(korean)
    alice_id, bob_id = new_id("alice"), new_id("bob")

    assert alice.call("login", {"id": alice_id})["message"] == KO_LOGIN
    assert reply_of(alice, "login")["message"] == KO_LOGIN
    bob.call("login", {"id": bob_id})
    assert alice.call("message", {"recepient": bob_id, "data": "안녕"})["message"] == KO_SENT
    assert reply_of(alice, "message")["message"] == KO_SENT
    assert bob.next("message")["data"] == "안녕"
    assert alice.call("message", {"recepient": new_id("nobody"), "data": "안녕"})["message"] == KO_NOT_FOUND
    assert reply_of(alice, "message")["message"] == KO_NOT_FOUND


# -- configuration the protocol names -----------------------------------------------------------


def test_refused_credentials_are_401_and_keep_the_existing_login(start_server, connect):
    """With an authenticator configured a wrong password → 401 (response == ack); the socket stays as it was."""
    guarded = start_server(CHATSERVER_AUTHENTICATOR="authenticator:password_is_sesame", PYTHONPATH=str(HERE))
    watcher, bob = connect(guarded), connect(guarded)
    watcher_id, bob_id = new_id("watcher"), new_id("bob")
    login(watcher, watcher_id, password="sesame")
    assert bob.call("login", {"id": new_id("bob")})["code"] == "401"  # no password at all
    login(bob, bob_id, password="sesame")
    watcher.next("presence", command="online", id=bob_id)

    ack = bob.call("login", {"id": new_id("mallory"), "password": "guess"})
    assert ack["code"] == "401" and ack["command"] == "login" and ack == reply_of(bob, "login")
    assert_next_is_barrier(watcher, watcher_id, bob)  # still logged in as bob: no offline, no online
    bob.call("message", {"recepient": watcher_id, "data": "still bob"})
    assert watcher.next("message")["sender"] == bob_id


def test_configured_namespace_carries_the_chat(start_server, connect):
    """CHATSERVER_NAMESPACE=/chat: a client of /chat logs in and chats there."""
    server = start_server(CHATSERVER_NAMESPACE="/chat")
    alice, bob = connect(server, namespace="/chat"), connect(server, namespace="/chat")
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id)
    login(bob, bob_id)
    assert alice.call("message", {"recepient": bob_id, "data": "in /chat"})["code"] == "200"
    assert bob.next("message")["data"] == "in /chat"


def handshake(server, origin: str, transport: str) -> str:
    """Open an Engine.IO session from ``origin`` with a single Origin header; return the open packet."""
    if transport == "websocket":
        url = server.url.replace("http:", "ws:") + "/socket.io/?EIO=4&transport=websocket"
        ws = websocket.create_connection(url, origin=origin, timeout=5)  # origin= replaces its default header
        try:
            return ws.recv()
        finally:
            ws.close()
    path = "/socket.io/?EIO=4&transport=polling"
    request = urllib.request.Request(server.url + path, headers={"Origin": origin})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["Access-Control-Allow-Origin"] in ("*", origin)
        opened = response.read().decode()
    # Close the session (an Engine.IO CLOSE packet) rather than leave it for the server to time out.
    sid = json.loads(opened[1:])["sid"]
    close = urllib.request.Request(f"{server.url}{path}&sid={sid}", data=b"1", headers={"Origin": origin})
    with urllib.request.urlopen(close, timeout=5) as response:
        assert response.status == 200
    return opened


def refused(server, origin: str, transport: str) -> bool:
    """Return whether the Engine.IO handshake from ``origin`` is refused with HTTP 400."""
    try:
        handshake(server, origin, transport)
    except websocket.WebSocketBadStatusException as error:
        return error.status_code == 400
    except urllib.error.HTTPError as error:
        return error.code == 400
    return False


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_any_origin_is_accepted_by_default(server, transport):
    """Default CORS: a handshake from another origin opens; /healthz answers it with CORS headers."""
    origin = "http://elsewhere.example:8080"
    assert handshake(server, origin, transport).startswith("0{")
    request = urllib.request.Request(server.url + "/healthz", headers={"Origin": origin})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["Access-Control-Allow-Origin"] in ("*", origin)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_configured_origins_are_enforced_on_the_handshake(start_server, transport):
    """CHATSERVER_CORS_ORIGINS=http://good.example: that origin's handshake opens, another's gets 400."""
    server = start_server(CHATSERVER_CORS_ORIGINS="http://good.example")
    assert handshake(server, "http://good.example", transport).startswith("0{")
    assert refused(server, "http://evil.example", transport)
    request = urllib.request.Request(server.url + "/healthz", headers={"Origin": "http://good.example"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "http://good.example"


def test_the_page_is_served_on_the_same_port(server):
    """GET / on the Socket.IO port is the HTML client page."""
    with urllib.request.urlopen(server.url + "/", timeout=5) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "text/html"
        assert "<html" in response.read().decode().lower()


# -- rate limit ---------------------------------------------------------------------------------


def test_default_rate_limit_allows_a_burst_of_forty(connect):
    """A fresh socket may send 40 events at once (login + 39 messages) without a 429."""
    alice, bob = connect(), connect()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(bob, bob_id)
    codes = [alice.call("login", {"id": alice_id})["code"]]
    codes += [alice.call("message", {"recepient": bob_id, "data": str(n)})["code"] for n in range(39)]
    assert codes == ["200"] * 40


def test_events_over_the_rate_limit_get_429_and_are_dropped(start_server, connect):
    """Burst 3 at 0.01 events/s: the 4th and later events → 429 (response == ack), not delivered; others unaffected."""
    server = start_server(CHATSERVER_RATE_LIMIT_PER_SECOND="0.01", CHATSERVER_RATE_LIMIT_BURST="3")
    alice, bob = connect(server), connect(server)
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(bob, bob_id)
    login(alice, alice_id)

    codes = []
    for number in range(4):
        ack = alice.call("message", {"recepient": bob_id, "data": f"number {number}"})
        assert ack == reply_of(alice, "message")
        codes.append(ack["code"])
    assert codes == ["200", "200", "429", "429"]  # login took the first token
    assert [bob.next("message")["data"] for _ in range(2)] == ["number 0", "number 1"]
    # bob has his own bucket (login + 1 event so far): he is not limited by alice's flood
    assert bob.call("message", {"recepient": alice_id, "data": "fine here"})["code"] == "200"
    assert alice.next("message")["data"] == "fine here"
