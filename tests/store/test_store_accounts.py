"""Accounts and session tokens, on SQLite and PostgreSQL; races run on the SqlStore from real threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from store_support import message

from chatserver.store import Account

NOW = 1_764_000_000_000
DAY = 86_400_000


def test_create_and_read_an_account(store):
    assert store.create_account("alice", "hash-1", "Alice", NOW) is True
    assert store.account("alice") == Account(id="alice", alias="Alice", password_hash="hash-1", created_ms=NOW)
    assert store.account("bob") is None


def test_an_id_is_registered_once(store):
    assert store.create_account("alice", "hash-1", "Alice", NOW) is True
    assert store.create_account("alice", "hash-2", "Impostor", NOW + 1) is False
    assert store.account("alice").password_hash == "hash-1"


def test_two_registrations_racing_for_one_id_one_wins(sql_store):
    # Both check nothing first: the primary key alone decides, in the database.
    def register(user_id: str, alias: str, start: threading.Barrier) -> bool:
        start.wait()
        return sql_store.create_account(user_id, "hash", alias, NOW)

    with ThreadPoolExecutor(2) as pool:
        for round_number in range(10):
            user_id, start = f"user{round_number}", threading.Barrier(2)
            results = list(pool.map(register, [user_id] * 2, ["first", "second"], [start] * 2))
            assert sorted(results) == [False, True]
            winner = ["first", "second"][results.index(True)]
            assert sql_store.account(user_id).alias == winner


def test_set_password(store):
    store.create_account("alice", "old", "Alice", NOW)
    assert store.set_password("alice", "new") is True
    assert store.account("alice").password_hash == "new"
    assert store.set_password("bob", "new") is False


def test_tokens_valid_until_they_expire(store):
    store.create_account("alice", "hash", "Alice", NOW)
    store.add_token("a" * 64, "alice", NOW + DAY)
    assert store.token_owner("a" * 64, NOW) == "alice"
    assert store.token_owner("a" * 64, NOW + DAY - 1) == "alice"
    assert store.token_owner("a" * 64, NOW + DAY) is None
    assert store.token_owner("b" * 64, NOW) is None


def test_revoke_one_token_or_all_of_a_user(store):
    for user_id in ("alice", "bob"):
        store.create_account(user_id, "hash", user_id, NOW)
    store.add_token("a1", "alice", NOW + DAY)
    store.add_token("a2", "alice", NOW + DAY)
    store.add_token("b1", "bob", NOW + DAY)

    store.revoke_token("a1")
    assert [store.token_owner(token, NOW) for token in ("a1", "a2", "b1")] == [None, "alice", "bob"]
    store.revoke_token("a1")  # again: nothing to do, no error

    store.revoke_tokens("alice")
    assert [store.token_owner(token, NOW) for token in ("a1", "a2", "b1")] == [None, None, "bob"]


def test_deleting_an_account_takes_its_tokens_and_queue_not_its_history(store):
    for user_id in ("alice", "bob"):
        store.create_account(user_id, "hash", user_id, NOW)
    store.add_token("a1", "alice", NOW + DAY)
    store.add_token("b1", "bob", NOW + DAY)
    queued = message("while you were away", sender="bob", recepient="alice")
    store.save_offline("alice", "dm:alice\nbob", queued)
    store.save_offline("bob", "dm:alice\nbob", message("to bob", sender="alice", recepient="bob"))

    assert store.delete_account("alice") is True
    assert store.delete_account("alice") is False
    assert store.account("alice") is None
    assert store.token_owner("a1", NOW) is None
    # Registering the id again starts empty: no token, no queued message of the old account.
    store.create_account("alice", "hash", "alice", NOW)
    assert store.token_owner("a1", NOW) is None
    assert store.take_offline("alice") == []
    # Other users keep theirs, and the conversation keeps its messages.
    assert store.token_owner("b1", NOW) == "bob"
    assert [item["data"] for item in store.take_offline("bob")] == ["to bob"]
    assert store.history("dm:alice\nbob")[0][0] == queued
