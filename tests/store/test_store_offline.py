"""The offline queue and retention, on SQLite and PostgreSQL; races run on the SqlStore from real threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from store_support import message, messages

from chatserver.store.sql import IN_CHUNK

DM = "dm:alice\nbob"
NOW = 1_764_000_000_000
DAY = 86_400_000


def register(store, *user_ids: str) -> None:
    for user_id in user_ids:
        assert store.create_account(user_id, "hash", user_id, NOW)


def test_queued_messages_come_oldest_first_and_once(store):
    register(store, "alice")
    queued = messages(3, sender="bob", recepient="alice")
    for item in queued:
        store.save_offline("alice", DM, item)
    assert store.take_offline("alice") == queued
    assert store.take_offline("alice") == []


def test_a_queued_message_is_history_too(store):
    register(store, "alice")
    earlier = message("online then", sender="alice", recepient="bob")
    store.save_messages([(DM, earlier)])
    queued = message("offline now", sender="bob", recepient="alice")
    store.save_offline("alice", DM, queued)
    assert store.history(DM) == ([earlier, queued], False)


def test_each_user_takes_only_their_own_queue(store):
    register(store, "alice", "carol")
    to_alice = message("for alice", recepient="alice")
    to_carol = message("for carol", recepient="carol")
    store.save_offline("alice", "dm:alice\nbob", to_alice)
    store.save_offline("carol", "dm:bob\ncarol", to_carol)
    assert store.take_offline("alice") == [to_alice]
    assert store.take_offline("carol") == [to_carol]
    assert store.take_offline("nobody") == []


def test_two_takers_at_once_share_out_each_message_once(sql_store):
    # Two sockets of one user logging in at the same moment on two nodes.
    register(sql_store, "alice")

    def take(start: threading.Barrier) -> list[dict]:
        start.wait()
        return sql_store.take_offline("alice")

    with ThreadPoolExecutor(2) as pool:
        for _ in range(5):
            queued = messages(40, sender="bob", recepient="alice")
            for item in queued:
                sql_store.save_offline("alice", DM, item)
            start = threading.Barrier(2)
            first, second = pool.map(take, [start, start])
            # One transaction takes the queue, the other finds it empty.
            assert sorted([first, second], key=len) == [[], queued]


def test_a_long_queue_comes_whole_and_in_order(store):
    register(store, "alice")
    queued = messages(IN_CHUNK + 3, sender="bob", recepient="alice")  # more than one IN (...) list
    for item in queued:
        store.save_offline("alice", DM, item)
    assert store.take_offline("alice") == queued


def test_prune_deletes_old_messages_but_not_queued_ones(store):
    register(store, "alice")
    old = message("old", timestamp=NOW - 10 * DAY)
    old_queued = message("old, still undelivered", recepient="alice", timestamp=NOW - 9 * DAY)
    recent = message("recent", timestamp=NOW - DAY)
    store.save_messages([("ALL", old)])
    store.save_offline("alice", "dm:alice\nbob", old_queued)
    store.save_messages([("ALL", recent)])

    assert store.prune(NOW - 2 * DAY) == 1
    assert store.history("ALL") == ([recent], False)
    assert store.history("dm:alice\nbob") == ([old_queued], False)

    assert store.take_offline("alice") == [old_queued]
    assert store.prune(NOW - 2 * DAY) == 1  # delivered now, so retention applies
    assert store.history("dm:alice\nbob") == ([], False)
    assert store.prune(NOW - 2 * DAY) == 0


def test_prune_forgets_tokens_expired_by_then(store):
    register(store, "alice")
    store.add_token("expired", "alice", NOW - DAY)
    store.add_token("live", "alice", NOW + DAY)
    store.prune(NOW)
    assert store.token_owner("live", NOW) == "alice"
    # Gone from the table, not just expired: a clock set back does not revive it.
    assert store.token_owner("expired", 0) is None
