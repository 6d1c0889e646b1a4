"""Accounts and history rules of ChatService on a real SQLite store: no Flask, no sockets."""

from __future__ import annotations

import sqlite3

import pytest
from chat_support import FakeClock

from chatserver.chat import ChatService
from chatserver.chat.accounts import Accounts, FailureLimit, token_digest
from chatserver.store import open_store

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'chat.sqlite3'}")
    yield store
    store.close()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def service(store, clock):
    accounts = Accounts(store, clock=clock, monotonic=clock, token_lifetime=3600)
    return ChatService(store=store, accounts=accounts, rate_per_second=0, clock=clock, monotonic=clock)


def code(outbox) -> str:
    return outbox.reply["code"]


def test_passwords_are_stored_as_argon2id_hashes_only(service, store):
    assert code(service.handle("s1", "register", {"id": "alice", "password": PASSWORD})) == "200"
    stored = store.account("alice").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_tokens_are_stored_as_digests_and_expire(service, store, clock):
    token = service.handle("s1", "register", {"id": "alice", "password": PASSWORD}) and \
        service.handle("s1", "login", {"id": "alice", "password": PASSWORD}).reply["token"]
    assert store.token_owner(token, int(clock() * 1000)) is None, "the raw token is not what is stored"
    assert store.token_owner(token_digest(token), int(clock() * 1000)) == "alice"
    assert code(service.handle("s2", "login", {"id": "alice", "token": token})) == "200"
    clock.now += 3601
    assert code(service.handle("s3", "login", {"id": "alice", "token": token})) == "401"


def test_an_external_authenticator_decides_instead_of_the_stored_password(store, clock):
    accounts = Accounts(store, authenticator=lambda user, password: password == "from the directory")
    service = ChatService(store=store, accounts=accounts, rate_per_second=0)
    service.handle("s1", "register", {"id": "alice", "password": PASSWORD})
    assert code(service.handle("s1", "login", {"id": "alice", "password": PASSWORD})) == "401"
    ack = service.handle("s1", "login", {"id": "alice", "password": "from the directory"}).reply
    assert ack["code"] == "200" and ack["registered"] is True and ack["token"]


def test_failed_logins_per_address_are_limited_too(store, clock):
    accounts = Accounts(store, clock=clock, monotonic=clock, failures_per_id=0, failures_per_address=10)
    service = ChatService(store=store, accounts=accounts, rate_per_second=0, monotonic=clock)
    service.handle("s0", "register", {"id": "alice", "password": PASSWORD})
    service.connect("s1", "203.0.113.7")
    service.connect("s2", "198.51.100.1")
    codes = [code(service.handle("s1", "login", {"id": "alice", "password": f"guess {n}"})) for n in range(10)]
    assert codes == ["401"] * 10
    assert code(service.handle("s1", "login", {"id": "alice", "password": PASSWORD})) == "429"
    assert code(service.handle("s2", "login", {"id": "alice", "password": PASSWORD})) == "200", "other addresses"
    clock.now += 61
    assert code(service.handle("s1", "login", {"id": "alice", "password": PASSWORD})) == "200", "a minute later"


def test_failure_limit_forgets_old_failures():
    clock = FakeClock(0.0)
    limit = FailureLimit(2, clock)
    limit.record("x")
    clock.now = 30
    limit.record("x")
    assert limit.blocked("x")
    clock.now = 61
    assert not limit.blocked("x")
    assert limit._failures == {"x": limit._failures["x"]} and len(limit._failures["x"]) == 1


def test_offline_messages_wait_for_the_next_login_only(service):
    service.handle("a", "register", {"id": "alice", "password": PASSWORD})
    service.handle("b", "register", {"id": "bob", "password": PASSWORD})
    service.handle("a", "login", {"id": "alice", "password": PASSWORD})
    outbox = service.handle("a", "message", {"recepient": "bob", "data": "hi"})
    assert code(outbox) == "202"
    assert [d.to for d in outbox.deliveries] == ["chatserver:user:alice"], "alice's other devices get a copy"
    login = service.handle("b", "login", {"id": "bob", "password": PASSWORD})
    events = [(d.event, d.to) for d in login.deliveries]
    assert events[:2] == [("room", "b"), ("presence", "b")] and events[-1] == ("message", "b"), "after the lists"
    assert login.deliveries[-1].payload["data"] == "hi"
    service.handle("b", "logout")
    again = service.handle("b", "login", {"id": "bob", "password": PASSWORD})
    assert [d.event for d in again.deliveries if d.event == "message"] == []


def test_a_guest_gets_no_offline_queue_and_no_private_history(service):
    service.handle("g", "login", {"id": "guest"})
    service.handle("a", "register", {"id": "alice", "password": PASSWORD})
    assert code(service.handle("g", "message", {"recepient": "alice", "data": "hi"})) == "202"
    assert code(service.handle("g", "history", {"recepient": "alice"})) == "403"
    assert code(service.handle("g", "history", {"recepient": "ALL"})) == "200"


def test_without_a_store_the_service_is_the_seeds_chat():
    service = ChatService(rate_per_second=0)
    assert code(service.handle("s1", "register", {"id": "alice", "password": PASSWORD})) == "403"
    service.handle("s1", "login", {"id": "alice"})
    assert code(service.handle("s1", "message", {"recepient": "bob", "data": "hi"})) == "404"
    assert code(service.handle("s1", "history", {"recepient": "ALL"})) == "404"


def test_a_locked_database_is_500_and_the_chat_goes_on(tmp_path, caplog):
    """Another process holds the SQLite file locked: events that need the store get 500, live chat goes on."""
    path = tmp_path / "chat.sqlite3"
    store = open_store(f"sqlite:///{path}", busy_timeout=0.2)
    service = ChatService(store=store, rate_per_second=0)
    service.handle("a", "login", {"id": "alice"})
    service.handle("b", "login", {"id": "bob"})
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        assert code(service.handle("c", "register", {"id": "carol", "password": PASSWORD})) == "500"
        outbox = service.handle("a", "message", {"recepient": "bob", "data": "still here"})
        assert code(outbox) == "200", "live delivery does not wait for the database"
        assert outbox.deliveries[0].payload["data"] == "still here"
        assert code(service.handle("a", "history", {"recepient": "ALL"})) == "200", "WAL: readers still read"
        store.flush()
    finally:
        locker.rollback()
        locker.close()
    assert "database" in caplog.text and "locked" in caplog.text
    assert code(service.handle("c", "register", {"id": "carol", "password": PASSWORD})) == "200", "and recovers"
    store.close()


def test_a_password_login_with_a_stale_token_gets_a_new_token(service, clock):
    """An expired or made-up token beside the right password: the login works and hands out a fresh token."""
    service.handle("s1", "register", {"id": "alice", "password": PASSWORD})
    old = service.handle("s1", "login", {"id": "alice", "password": PASSWORD}).reply["token"]
    clock.now += 3601  # past the 1 h lifetime of this fixture
    for stale in (old, "made-up-token"):
        reply = service.handle("s2", "login", {"id": "alice", "password": PASSWORD, "token": stale}).reply
        assert reply["code"] == "200" and reply["token"] != stale
        assert code(service.handle("s3", "login", {"id": "alice", "token": reply["token"]})) == "200"
