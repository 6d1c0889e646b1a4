"""ChatService across a drop: the presence grace, and logging a recovered socket in again (plain values)."""

from __future__ import annotations

import pytest
from chat_support import FakeClock

from chatserver.chat import ONLINE_ROOM, ChatService, user_room
from chatserver.chat.accounts import Accounts
from chatserver.chat.outbox import EVERY_CHAT_ROOM
from chatserver.store import open_store

PASSWORD = "correct horse battery"


@pytest.fixture
def service(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'chat.sqlite3'}")
    clock = FakeClock()
    accounts = Accounts(store, clock=clock, monotonic=clock, token_lifetime=3600)
    yield ChatService(store=store, accounts=accounts, rate_per_second=0, clock=clock, monotonic=clock)
    store.close()


def presence_events(outbox) -> list[tuple[str, str]]:
    return [(d.payload["command"], d.payload["id"]) for d in outbox.deliveries if d.event == "presence"]


def test_within_the_grace_a_dropped_user_stays_online_and_a_recovery_changes_nothing(service):
    service.handle("a", "login", {"id": "alice"})
    service.handle("b", "login", {"id": "bob", "alias": "Bob"})
    session = service.session_of("b")
    assert session == {"user": "bob", "alias": "Bob", "token": None}
    drop = service.drop("b")
    assert service.presence.is_online("bob")
    assert service.handle("a", "message", {"recepient": "bob", "data": "hi"}).reply["code"] == "200"
    resumed = service.resume("b", "127.0.0.1", session)
    assert resumed.deliveries == [] and resumed.joins == [], "nothing sent, no room of a member"
    assert resumed.leaves == [EVERY_CHAT_ROOM], "chat rooms as they are now (left on another device meanwhile)"
    assert service.end_grace("b", drop).deliveries == [], "the grace of a socket that came back ends quietly"
    assert service.presence.is_online("bob")


def test_after_the_grace_offline_goes_out_and_a_recovery_logs_in_again_with_the_stored_messages(service):
    service.handle("a", "login", {"id": "alice"})
    service.handle("x", "register", {"id": "bob", "password": PASSWORD, "alias": "Bob"})
    service.handle("b", "login", {"id": "bob", "password": PASSWORD})
    session = service.session_of("b")
    assert session["token"]
    drop = service.drop("b")
    ended = service.end_grace("b", drop)
    assert presence_events(ended) == [("offline", "bob")]
    assert ended.leaves == [], "the socket left its rooms with the transport already"
    assert service.handle("a", "message", {"recepient": "bob", "data": "stored"}).reply["code"] == "202"
    resumed = service.resume("b", "127.0.0.1", session)
    assert presence_events(resumed) == [("online", "bob")]
    assert resumed.leaves == [EVERY_CHAT_ROOM] and resumed.joins[:2] == [user_room("bob"), ONLINE_ROOM]
    [stored] = [d for d in resumed.deliveries if d.event == "message"]
    assert stored.to == "b" and stored.payload["data"] == "stored"
    assert resumed.deliveries[-1] == stored, "the stored messages come last"
    assert service.handle("b", "message", {"recepient": "alice", "data": "back"}).reply["code"] == "200"


def test_a_recovery_after_the_grace_with_a_revoked_token_is_not_logged_in(service):
    service.handle("x", "register", {"id": "bob", "password": PASSWORD})
    service.handle("b", "login", {"id": "bob", "password": PASSWORD})
    session = service.session_of("b")
    service.end_grace("b", service.drop("b"))
    service.handle("p", "login", {"id": "bob", "password": PASSWORD})
    service.handle("p", "logout", {"everywhere": True})
    resumed = service.resume("b", "127.0.0.1", session)
    assert resumed.leaves == [user_room("bob"), ONLINE_ROOM, EVERY_CHAT_ROOM]
    assert service.handle("b", "message", {"recepient": "bob", "data": "?"}).reply["code"] == "401"


def test_a_second_drop_has_its_own_grace(service):
    service.handle("b", "login", {"id": "bob"})
    first = service.drop("b")
    service.resume("b", "127.0.0.1", service.session_of("b"))
    second = service.drop("b")
    assert service.end_grace("b", first).deliveries == []
    assert service.presence.is_online("bob")
    assert presence_events(service.end_grace("b", second)) == [("offline", "bob")]


def test_a_recovered_socket_that_was_not_logged_in_stays_logged_out(service):
    service.connect("n", "127.0.0.1")
    assert service.session_of("n") is None
    service.end_grace("n", service.drop("n"))
    assert service.resume("n", "127.0.0.1", None).deliveries == []
    assert service.handle("n", "message", {"recepient": "bob", "data": "?"}).reply["code"] == "401"


def test_the_operators_kick_ends_the_grace_of_a_dropped_socket_at_once(service):
    service.handle("a", "login", {"id": "alice"})
    service.handle("b", "login", {"id": "bob"})
    service.drop("b")
    assert service.dropped_of("bob") == ["b"] and service.dropped_of("alice") == []
    assert presence_events(service.end_grace("b")) == [("offline", "bob")], "no drop number: whichever drop"
    assert service.dropped_of("bob") == []
