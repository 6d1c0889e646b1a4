"""Rooms, members and invitations, and forgetting a user, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from store_support import message

from chatserver.store import Room
from chatserver.store.models import dm_conversations, read_marks, room_members
from chatserver.store.sql import for_writing

NOW = 1_764_000_000_000


def marks(sql_store) -> list[tuple[str, str]]:
    """Every read mark as (user, conversation), sorted."""
    with sql_store.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(select(read_marks.c.user_id, read_marks.c.conversation)))


def test_the_creator_owns_the_room_and_is_its_first_member(store):
    assert store.create_room("lobby", "The lobby", "alice", False, NOW) is True
    assert store.room("lobby") == Room(id="lobby", name="The lobby", owner="alice", private=False, members=1)
    assert store.is_member("lobby", "alice") is True
    assert store.rooms_of("alice") == ["lobby"]
    assert store.room("nowhere") is None


def test_a_room_id_is_taken_once(store):
    assert store.create_room("lobby", "First", "alice", True, NOW) is True
    assert store.create_room("lobby", "Second", "bob", False, NOW + 1) is False
    assert store.room("lobby") == Room(id="lobby", name="First", owner="alice", private=True, members=1)
    assert store.is_member("lobby", "bob") is False


def test_two_creations_racing_for_one_id_one_wins(sql_store):
    def create(owner: str, start: threading.Barrier) -> bool:
        start.wait()
        return sql_store.create_room("lobby", owner, owner, False, NOW)

    start = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(create, ["alice", "bob"], [start] * 2))
    assert sorted(results) == [False, True]
    winner = ["alice", "bob"][results.index(True)]
    assert sql_store.room("lobby") == Room(id="lobby", name=winner, owner=winner, private=False, members=1)


def test_rooms_are_listed_by_id_with_their_member_counts(store):
    # Mixed case and punctuation: code point order on both databases, whatever PostgreSQL's collation.
    # Made in an order that is neither sorted nor reversed.
    store.create_room("_under", "Under", "bob", True, NOW)
    store.create_room("Zed", "Zed", "carol", False, NOW)
    store.create_room("alpha", "Alpha", "alice", False, NOW)
    store.add_member("alpha", "bob")
    store.add_member("alpha", "carol")
    store.add_member("Zed", "alice")
    assert store.rooms() == [Room("Zed", "Zed", "carol", False, 2), Room("_under", "Under", "bob", True, 1),
                             Room("alpha", "Alpha", "alice", False, 3)]
    store.remove_member("alpha", "carol")
    assert store.room("alpha").members == 2


def test_rename(store):
    store.create_room("lobby", "Old", "alice", False, NOW)
    assert store.rename_room("lobby", "New") is True
    assert store.room("lobby").name == "New"
    assert store.rename_room("nowhere", "New") is False
    assert store.room("nowhere") is None


def test_members_join_once_and_leave_once(store):
    store.create_room("lobby", "Lobby", "alice", False, NOW)
    assert store.add_member("lobby", "bob") is True
    assert store.add_member("lobby", "bob") is False
    assert store.is_member("lobby", "bob") is True
    assert store.room("lobby").members == 2
    assert store.remove_member("lobby", "bob") is True
    assert store.remove_member("lobby", "bob") is False
    assert store.is_member("lobby", "bob") is False
    assert store.is_member("nowhere", "alice") is False


def test_joining_a_room_that_does_not_exist_adds_no_one(store):
    assert store.add_member("nowhere", "bob") is False
    assert store.rooms_of("bob") == []
    assert store.rooms() == []


def test_members_have_their_alias_and_a_guest_its_id(store):
    store.create_account("bob", "hash", "Bobby", NOW)
    store.create_room("lobby", "Lobby", "zed", False, NOW)  # zed is a guest
    store.add_member("lobby", "bob")
    store.add_member("lobby", "Amy")  # a guest too; sorts before lower case
    assert store.members("lobby") == [("Amy", "Amy"), ("bob", "Bobby"), ("zed", "zed")]
    assert store.members("nowhere") == []


def test_rooms_of_lists_only_the_users_rooms_sorted(store):
    for room_id in ("c", "a", "b"):
        store.create_room(room_id, room_id, "alice", False, NOW)
    store.add_member("c", "bob")
    store.add_member("a", "bob")
    assert store.rooms_of("bob") == ["a", "c"]
    assert store.rooms_of("alice") == ["a", "b", "c"]
    assert store.rooms_of("carol") == []


def test_invitations(store):
    store.create_room("secret", "Secret", "alice", True, NOW)
    store.create_room("other", "Other", "alice", True, NOW)
    assert store.is_invited("secret", "bob") is False
    store.invite("secret", "bob")
    store.invite("secret", "bob")  # twice is once
    assert store.is_invited("secret", "bob") is True
    assert store.is_invited("other", "bob") is False
    assert store.is_invited("secret", "carol") is False
    # An invitation is not a membership.
    assert store.is_member("secret", "bob") is False


def test_an_invitation_to_no_room_is_nothing(store):
    store.invite("nowhere", "bob")
    assert store.is_invited("nowhere", "bob") is False


def test_deleting_a_room_returns_its_members_and_takes_invitations_marks_and_history(sql_store):
    sql_store.create_room("lobby", "Lobby", "carol", True, NOW)
    sql_store.create_room("other", "Other", "carol", True, NOW)
    for user_id in ("alice", "bob"):
        sql_store.add_member("lobby", user_id)
        sql_store.add_member("other", user_id)
    sql_store.invite("lobby", "dave")
    sql_store.invite("other", "dave")
    said = message("hi", sender="alice", recepient="lobby", command="groupchat")
    sql_store.save_messages([("room:lobby", said)])

    assert sql_store.delete_room("lobby") == ["alice", "bob", "carol"]
    assert sql_store.room("lobby") is None
    assert sql_store.is_member("lobby", "alice") is False
    assert sql_store.rooms_of("alice") == ["other"]
    assert sql_store.is_invited("lobby", "dave") is False
    assert [conversation for _, conversation in marks(sql_store)] == ["room:other"] * 3
    assert sql_store.history("room:lobby") == ([], False)
    # The other room keeps everything.
    assert sql_store.room("other").members == 3
    assert sql_store.is_invited("other", "dave") is True
    assert sql_store.delete_room("lobby") is None


def test_someone_joining_while_the_room_is_deleted_is_among_the_members_returned(sql_store):
    sql_store.create_room("lobby", "Lobby", "alice", False, NOW)
    with for_writing(sql_store.engine).connect() as joining:
        transaction = joining.begin()
        joining.execute(room_members.insert(), {"room_id": "lobby", "user_id": "bob"})
        with ThreadPoolExecutor(1) as pool:
            deleted = pool.submit(sql_store.delete_room, "lobby")
            time.sleep(0.5)
            assert not deleted.done()  # it waits for the join to end
            transaction.commit()
            assert deleted.result(timeout=10) == ["alice", "bob"]
    assert sql_store.rooms_of("bob") == []


def test_a_room_made_again_with_a_deleted_ones_id_starts_empty(store):
    """Members, invitations and history go with a room: a new room of that id shows none of the old one's."""
    store.create_room("lobby", "Lobby", "alice", True, NOW)
    store.add_member("lobby", "bob")
    store.invite("lobby", "carol")
    store.save_messages([("room:lobby", message("private talk", sender="alice", recepient="lobby"))])
    store.delete_room("lobby")
    assert store.create_room("lobby", "Lobby again", "dave", False, NOW) is True
    assert store.members("lobby") == [("dave", "dave")]
    assert store.is_invited("lobby", "carol") is False
    assert store.history("room:lobby") == ([], False)


def test_forgetting_a_user_deletes_the_history_of_the_rooms_they_owned(store):
    store.create_room("mine", "Mine", "guest", False, NOW)
    store.create_room("theirs", "Theirs", "bob", False, NOW)
    store.save_messages([("room:mine", message("gone", sender="guest", recepient="mine")),
                         ("room:theirs", message("kept", sender="guest", recepient="theirs"))])
    store.forget_user("guest")
    assert store.history("room:mine") == ([], False)
    assert [kept["data"] for kept in store.history("room:theirs")[0]] == ["kept"]


def test_removing_a_member_drops_their_read_mark(sql_store):
    sql_store.create_room("lobby", "Lobby", "alice", False, NOW)
    sql_store.add_member("lobby", "bob")
    assert marks(sql_store) == [("alice", "room:lobby"), ("bob", "room:lobby")]
    sql_store.remove_member("lobby", "bob")
    assert marks(sql_store) == [("alice", "room:lobby")]


def forgettable_world(store) -> None:
    """alice owns "mine" (bob a member, dave invited), is a member of bob's "theirs" and invited to carol's "closed"."""
    store.create_room("mine", "Mine", "alice", True, NOW)
    store.add_member("mine", "bob")
    store.invite("mine", "dave")
    store.create_room("theirs", "Theirs", "bob", False, NOW)
    store.add_member("theirs", "alice")
    store.create_room("closed", "Closed", "carol", True, NOW)
    store.invite("closed", "alice")
    store.invite("closed", "dave")
    for account in ("alice", "bob"):  # the conversation list is kept for accounts only
        store.create_account(account, "hash", account.title(), NOW)
    store.save_messages([("dm:alice\nbob", message("hi", sender="alice", recepient="bob"))])


def assert_alice_forgotten(sql_store) -> None:
    assert sql_store.room("mine") is None
    assert sql_store.rooms_of("alice") == []
    assert sql_store.rooms_of("bob") == ["theirs"]
    assert sql_store.room("theirs") == Room("theirs", "Theirs", "bob", False, 1)
    assert sql_store.is_invited("closed", "alice") is False
    assert sql_store.is_invited("closed", "dave") is True
    assert sql_store.is_invited("mine", "dave") is False
    # Her marks, and the marks of her deleted room, are gone; bob's in his own room stays.
    assert marks(sql_store) == [("bob", "room:theirs"), ("carol", "room:closed")]
    with sql_store.engine.connect() as connection:
        assert list(connection.execute(select(dm_conversations.c.user_id))) == [("bob",)]
        assert connection.scalar(select(func.count()).select_from(dm_conversations)) == 1


def test_forgetting_a_user_deletes_their_rooms_and_keeps_the_others(sql_store):
    forgettable_world(sql_store)
    assert sql_store.forget_user("alice") == ["mine"]
    assert_alice_forgotten(sql_store)
    assert sql_store.forget_user("alice") == []


def test_deleting_an_account_forgets_the_user(sql_store):
    sql_store.create_account("alice", "hash", "Alice", NOW)
    forgettable_world(sql_store)
    assert sql_store.delete_account("alice") is True
    assert_alice_forgotten(sql_store)


def test_deleting_no_account_leaves_a_guest_of_that_id_alone(store):
    store.create_room("lobby", "Lobby", "zed", False, NOW)
    assert store.delete_account("zed") is False
    assert store.room("lobby") == Room("lobby", "Lobby", "zed", False, 1)


def test_through_the_worker_every_room_call_answers(store):
    # The OffloadedStore wrappers: each passes its arguments through and hands back the result.
    store.create_room("lobby", "Lobby", "alice", True, NOW)
    assert store.rename_room("lobby", "Renamed") is True
    store.invite("lobby", "bob")
    assert store.is_invited("lobby", "bob") is True
    assert store.add_member("lobby", "bob") is True
    assert store.rooms() == [Room("lobby", "Renamed", "alice", True, 2)]
    assert store.forget_user("bob") == []
    assert store.remove_member("lobby", "alice") is True
    assert store.delete_room("lobby") == []
