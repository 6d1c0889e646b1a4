"""Bad input end to end: each bad event gets its code in `response` and the ack, and nothing else happens.

Every test runs over WebSocket and long-polling against one shared `python -m chatserver`. The
offending socket is logged in and a second logged-in socket watches. After the bad event:
- the offender's next event is exactly the `response` equal to the ack;
- the offender is still connected, still logged in as before and can send (a one-to-one message
  to the watcher is the barrier);
- the watcher's next event is that barrier message: the bad event caused nothing at all there.
Packets that are no valid Socket.IO packet at all (an EVENT without a non-empty array, a name that
is neither a string nor a number) are not bad input but a protocol error: the connection is closed,
as socket.io 4.8 does (docs/protocol.md, "Transport conformance").
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from e2e_support import RecordingClient, assert_next_is_barrier, login, new_id, raw_call

WATCHER = object()  # stands for the watcher's login id in parametrized payloads


@dataclass
class Scene:
    """A logged-in offender and a logged-in watcher on the same server."""

    offender: RecordingClient
    offender_id: str
    watcher: RecordingClient
    watcher_id: str

    def fill(self, value):
        """Replace WATCHER anywhere in ``value`` with the watcher's id."""
        if value is WATCHER:
            return self.watcher_id
        if isinstance(value, dict):
            return {key: self.fill(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.fill(item) for item in value)
        return value

    def assert_nothing_else_happened(self, ack) -> None:
        """The ack was also the response, the offender still works as itself, and the watcher saw nothing."""
        assert self.offender.next() == ("response", ack), "the response event must equal the ack"
        assert self.offender.sio.connected
        assert_next_is_barrier(self.watcher, self.watcher_id, self.offender, sender_id=self.offender_id)
        name, reply = self.offender.next()
        assert (name, reply["command"], reply["code"]) == ("response", "message", "200"), (name, reply)


@pytest.fixture
def scene(connect) -> Scene:
    """Log in a watcher, then an offender, and consume what their logins sent them."""
    watcher, offender = connect(), connect()
    watcher_id, offender_id = new_id("watcher"), new_id("offender")
    login(watcher, watcher_id)
    login(offender, offender_id)
    watcher.until("presence", command="online", id=offender_id)
    offender.until("presence", command="online", id=offender_id)
    return Scene(offender, offender_id, watcher, watcher_id)


def expect(scene: Scene, ack, code: str, command: str | None) -> None:
    """Assert the ack is ``code`` (for ``command``) and that nothing else happened."""
    assert isinstance(ack, dict), ack
    assert ack["code"] == code, ack
    if command is not None:
        assert ack["command"] == command, ack
    assert isinstance(ack["message"], str) and ack["message"]
    scene.assert_nothing_else_happened(ack)


NOT_AN_OBJECT = [
    pytest.param("newcomer", id="string"),
    pytest.param("", id="empty-string"),
    pytest.param(42, id="number"),
    pytest.param(1.5, id="float"),
    pytest.param(True, id="true"),
    pytest.param(["newcomer"], id="list"),
    pytest.param([{"id": "newcomer", "recepient": WATCHER, "data": "x"}], id="object-in-a-list"),
    pytest.param((None,), id="null"),
    pytest.param(None, id="nothing-at-all"),
    pytest.param(("newcomer", {"id": "newcomer", "recepient": WATCHER, "data": "x"}), id="several-args"),
]


@pytest.mark.parametrize("event", ["login", "message"])
@pytest.mark.parametrize("payload", NOT_AN_OBJECT)
def test_payload_that_is_not_an_object_is_400(scene, event, payload):
    """login/message with a string, "", number, float, true, list, [object], JSON null, no argument at all,
    or several arguments of which the first is not an object → 400."""
    expect(scene, scene.offender.call(event, scene.fill(payload)), "400", event)


BAD_LOGINS = [
    pytest.param({}, id="empty-object"),
    pytest.param({"alias": "newcomer"}, id="id-missing"),
    pytest.param({"id": None}, id="id-null"),
    pytest.param({"id": 7}, id="id-number"),
    pytest.param({"id": True}, id="id-true"),
    pytest.param({"id": ["newcomer"]}, id="id-list"),
    pytest.param({"id": {"id": "newcomer"}}, id="id-object"),
    pytest.param({"id": ""}, id="id-empty"),
    pytest.param({"id": " \t "}, id="id-blank"),
    pytest.param({"id": "x" * 65}, id="id-65-chars"),
    pytest.param({"id": "x" * 5000}, id="id-5000-chars"),
    pytest.param({"id": "new\ncomer"}, id="id-newline"),
    pytest.param({"id": "new\tcomer"}, id="id-tab-inside"),
    pytest.param({"id": "new\x00comer"}, id="id-nul"),
    pytest.param({"id": "\x1b[31mnewcomer"}, id="id-escape"),
    pytest.param({"id": "newcomer\x7f"}, id="id-del"),
    pytest.param({"id": "new\x85comer"}, id="id-c1-control"),
    pytest.param({"id": "newcomer", "alias": 5}, id="alias-number"),
    pytest.param({"id": "newcomer", "alias": ["a"]}, id="alias-list"),
    pytest.param({"id": "newcomer", "password": 1234}, id="password-number"),
    pytest.param({"id": "newcomer", "password": {"hash": "x"}}, id="password-object"),
]


@pytest.mark.parametrize("payload", BAD_LOGINS)
def test_malformed_login_is_400_and_keeps_the_existing_login(scene, payload):
    """login with the id missing, of the wrong type, empty, blank, 65 or 5000 characters, or containing a
    control character (newline, tab, NUL, ESC, DEL, C1), or with alias/password of the wrong type → 400;
    the socket stays logged in as it was."""
    expect(scene, scene.offender.call("login", payload), "400", "login")


BAD_MESSAGES = [
    pytest.param({}, "400", id="empty-object"),
    pytest.param({"data": "hi"}, "400", id="recepient-missing"),
    pytest.param({"recepient": WATCHER}, "400", id="data-missing"),
    pytest.param({"recepient": None, "data": "hi"}, "400", id="recepient-null"),
    pytest.param({"recepient": 5, "data": "hi"}, "400", id="recepient-number"),
    pytest.param({"recepient": [WATCHER], "data": "hi"}, "400", id="recepient-list"),
    pytest.param({"recepient": {"id": WATCHER}, "data": "hi"}, "400", id="recepient-object"),
    pytest.param({"recepient": "", "data": "hi"}, "400", id="recepient-empty"),
    pytest.param({"recepient": "x" * 65, "data": "hi"}, "400", id="recepient-65-chars"),
    pytest.param({"recepient": "new\ncomer", "data": "hi"}, "400", id="recepient-control-character"),
    pytest.param({"recepient": WATCHER, "data": None}, "400", id="data-null"),
    pytest.param({"recepient": WATCHER, "data": 5}, "400", id="data-number"),
    pytest.param({"recepient": WATCHER, "data": True}, "400", id="data-true"),
    pytest.param({"recepient": WATCHER, "data": ["hi"]}, "400", id="data-list"),
    pytest.param({"recepient": WATCHER, "data": {"text": "hi"}}, "400", id="data-object"),
    pytest.param({"recepient": "ALL", "data": 5}, "400", id="broadcast-data-number"),
    pytest.param({"recepient": WATCHER, "data": "hi", "command": 5}, "400", id="command-number"),
    pytest.param({"recepient": WATCHER, "data": "hi", "command": ["chat"]}, "400", id="command-list"),
    pytest.param({"recepient": WATCHER, "data": "hi", "type": 5}, "400", id="type-number"),
    pytest.param({"recepient": WATCHER, "data": "hi", "type": {"t": "text"}}, "400", id="type-object"),
    pytest.param({"recepient": WATCHER, "data": "x" * 2001}, "413", id="data-2001-chars"),
    pytest.param({"recepient": "ALL", "data": "x" * 2001}, "413", id="broadcast-data-2001-chars"),
    pytest.param({"recepient": WATCHER, "data": "가" * 2001}, "413", id="data-2001-hangul"),
    pytest.param({"recepient": WATCHER, "data": "x" * 20000}, "413", id="data-20000-chars"),
]


@pytest.mark.parametrize(("payload", "code"), BAD_MESSAGES)
def test_malformed_message_gets_its_code_and_is_not_delivered(scene, payload, code):
    """message with recepient or data missing or of the wrong type, recepient empty, 65 characters or with
    a control character, command/type of the wrong type → 400; data over 2000 characters → 413. Nothing is
    delivered to the watcher (who is the recepient) or anyone else."""
    expect(scene, scene.offender.call("message", scene.fill(payload)), code, "message")


def test_data_far_over_the_limit_is_413_not_a_disconnect(scene):
    """message with 60,000 characters of data (30x the 2,000 limit, still inside the 64 KiB transport packet
    limit) → 413 and the socket stays connected. Packets over the transport limit close that one connection,
    as socket.io does past maxHttpBufferSize (docs/protocol.md); tests/abuse/test_limits.py covers that."""
    ack = scene.offender.call("message", {"recepient": scene.watcher_id, "data": "x" * 60_000}, timeout=3)
    expect(scene, ack, "413", "message")


def test_extra_arguments_after_a_valid_payload_are_ignored(scene):
    """message with a valid object followed by two more arguments ("extra", 5) is sent as if they were not
    there, like the seed's Node handler `function(message)`; only the protocol fields are delivered."""
    ack = scene.offender.call("message", ({"recepient": scene.watcher_id, "data": "first only"}, "extra", 5))
    assert ack["code"] == "200"
    message = scene.watcher.next("message")
    assert (message["data"], message["sender"]) == ("first only", scene.offender_id)
    assert scene.offender.next() == ("response", ack)


UNKNOWN = ["foo", "Login", "LOGIN", "send", "chat", "response", "presence", "message ", "로그인"]


@pytest.mark.parametrize("event", UNKNOWN)
def test_unknown_event_is_400(scene, event):
    """An event the server does not know (a made-up name, a wrong case, a server→client name, a trailing
    space, Korean) with an object payload → 400 with command = the event name."""
    expect(scene, scene.offender.call(event, {"id": "newcomer", "recepient": scene.watcher_id, "data": "x"}),
           "400", event)


def test_unknown_event_without_payload_is_400(scene):
    """An unknown event with no argument at all → 400."""
    expect(scene, scene.offender.call("foo"), "400", "foo")


def test_unknown_event_with_a_long_name_is_400(scene):
    """An unknown event whose name is 10,000 characters long → 400."""
    expect(scene, scene.offender.call("x" * 10_000, {"data": "x"}), "400", None)


RESERVED = ["connect", "disconnect", "connect_error", "disconnecting", "newListener", "removeListener"]


@pytest.mark.parametrize("body", ['["{name}"]', '["{name}",{{"id":"newcomer","data":"x"}}]',
                                  '["{name}","client namespace disconnect"]'],
                         ids=["no-payload", "object-payload", "reason-payload"])
@pytest.mark.parametrize("name", RESERVED)
def test_reserved_event_name_from_the_client_is_400(scene, name, body):
    """A raw Socket.IO EVENT packet named connect, disconnect, connect_error, disconnecting, newListener or
    removeListener (as sent: 2<ack id>["disconnect"], with an object or a reason string) → 400 with that
    command; no lifecycle handler runs: the socket is not logged out, the watcher sees no offline."""
    expect(scene, raw_call(scene.offender, body.format(name=name)), "400", name)


@pytest.mark.parametrize("name", RESERVED)
def test_reserved_event_name_through_the_client_api_is_400(scene, name):
    """The same names through python-socketio's own emit (which puts them on the wire as EVENT packets)."""
    expect(scene, scene.offender.call(name, {"id": "newcomer"}), "400", name)


@pytest.mark.parametrize("body", ['[123,{"id":"newcomer"}]', "[1.5]"], ids=["number", "float"])
def test_event_name_that_is_a_number_is_400(scene, body):
    """A raw EVENT packet whose name is a number (socket.io-parser takes numbers as event names) → 400 in
    the response and the ack, like any other unknown event."""
    expect(scene, raw_call(scene.offender, body), "400", None)


def assert_closed_for_an_invalid_packet(scene: Scene) -> None:
    """The server closed the offender's connection (as socket.io 4.8 does for a packet its parser refuses):
    the offender is disconnected, the watcher's next event is its offline, and the server still serves."""
    deadline = time.monotonic() + 5
    while scene.offender.sio.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not scene.offender.sio.connected, "the connection stayed open"
    received = scene.watcher.until("presence", command="offline", id=scene.offender_id)
    assert len(received) == 1, f"the watcher received {received} before the offender's offline"
    ack = scene.watcher.call("message", {"recepient": scene.watcher_id, "data": "still serving"})
    assert ack["code"] == "200", ack


@pytest.mark.parametrize("body", ["[null]", "[true]", '[{"a":1}]', '[["login"],{"id":"newcomer"}]'],
                         ids=["null", "true", "object", "list"])
def test_event_name_that_is_neither_string_nor_number_closes_the_connection(scene, body):
    """A raw EVENT packet whose name is null, true, an object or a list is no valid Socket.IO packet
    (socket.io-parser throws "invalid payload"): the connection is closed, nothing else happens."""
    scene.offender.sio.eio.send(f"2{body}")
    assert_closed_for_an_invalid_packet(scene)


@pytest.mark.parametrize("packet", ["2", "2[]", '2"login"', '2{"a":1}', '2["login",{', "2[1,2", "2 "],
                         ids=["no-data", "empty-array", "string-data", "object-data", "broken-json",
                              "unterminated-array", "space"])
def test_malformed_event_packet_closes_the_connection(scene, packet):
    """A raw EVENT packet with no data, an empty array, a string or an object instead of the array, or
    broken JSON is no valid Socket.IO packet ("The payload is mandatory and MUST be a non-empty array. If
    that's not the case, then the receiver MUST close the connection."): the server closes the connection,
    as socket.io 4.8 does; the watcher sees the offender go offline and nothing else."""
    scene.offender.sio.eio.send(packet)
    assert_closed_for_an_invalid_packet(scene)
