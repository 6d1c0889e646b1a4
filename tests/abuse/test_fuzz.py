"""Item 4: arbitrary JSON to every event. Every event gets an answer with a known code (or is
ignored), nothing raises out of a handler, no unexpected fault (500), and presence stays
consistent — in the service itself and through Flask-SocketIO's test client."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatserver import create_app
from chatserver.chat import ChatService

KNOWN_CODES = {"200", "202", "400", "401", "403", "404", "409", "413", "429"}
SOCKETS = ["s1", "s2", "s3"]
MESSAGE_FIELDS = {"id", "sender", "recepient", "command", "type", "data", "timestamp"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
ids = st.sampled_from(["alice", "bob", " alice ", "ALL", "all", "", "a" * 65, "x\x00y"]) | st.text(max_size=8)
# Objects shaped like the chat's payloads (known keys, arbitrary values), and anything else.
payloads = (
    st.fixed_dictionaries(
        {},
        optional={
            "id": ids | json_values,
            "alias": json_values,
            "password": json_values,
            "recepient": ids | json_values,
            "sender": json_values,
            "command": json_values,
            "type": json_values,
            "data": st.text(max_size=30) | json_values,
        },
    )
    | json_values
)
events = st.sampled_from(["login", "logout", "message", "register", "history"]) | st.text(max_size=10)
steps = st.lists(
    st.tuples(st.sampled_from(SOCKETS), events | st.just("<disconnect>"), payloads), min_size=1, max_size=25
)


def assert_presence_consistent(service: ChatService) -> None:
    """Every logged-in socket's user is online, and only those users are."""
    presence = service.presence
    logged_in = {presence.user_of(sid) for sid in SOCKETS} - {None}
    assert {entry["id"] for entry in presence.users()} == logged_in
    assert all(presence.is_online(user) for user in logged_in)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_the_service_answers_anything_with_a_known_code_and_keeps_presence_consistent(script):
    service = ChatService(max_message_length=10)
    for sid, event, payload in script:
        if event == "<disconnect>":
            service.disconnect(sid)
        else:
            outbox = service.handle(sid, event, payload)
            assert outbox.reply is not None and outbox.reply["code"] in KNOWN_CODES, outbox.reply
            assert isinstance(outbox.reply["message"], str)
            for delivery in outbox.deliveries:
                if delivery.event == "message":
                    assert set(delivery.payload) == MESSAGE_FIELDS
                    assert delivery.payload["sender"] == service.presence.user_of(sid)
        assert_presence_consistent(service)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 1), events, payloads), min_size=1, max_size=12))
def test_events_through_flask_socketio_are_answered_or_ignored(script):
    app = create_app({"TESTING": True, "CHATSERVER_RATE_LIMIT_PER_SECOND": 0})
    state = app.extensions["chatserver"]
    clients = [state.socketio.test_client(app) for _ in range(2)]
    try:
        for index, event, payload in script:
            client = clients[index]
            if not client.is_connected():
                continue
            ack = client.emit(event, payload, callback=True)
            # Reserved lifecycle names are not client events; everything else is answered.
            if event not in {"connect", "disconnect"}:
                assert isinstance(ack, dict) and ack["code"] in KNOWN_CODES, (event, payload, ack)
            for received in client.get_received():
                if received["name"] == "response":
                    assert received["args"][0]["code"] in KNOWN_CODES
        online = {entry["id"] for entry in state.service.presence.users()}
        manager = state.socketio.server.manager
        sids = [manager.sid_from_eio_sid(c.eio_sid, "/") for c in clients if c.is_connected()]
        logged_in = {state.service.presence.user_of(sid) for sid in sids} - {None}
        assert online == logged_in
    finally:
        for client in clients:
            if client.is_connected():
                client.disconnect()
    assert state.service.presence.users() == []  # disconnecting logged everyone out
    state.store.close()
