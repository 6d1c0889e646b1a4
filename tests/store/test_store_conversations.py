"""Read marks and the conversation list, and who is in which one-to-one conversation, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, event
from store_support import message, messages

from chatserver.store import MESSAGE_FIELDS, Conversation, SqlStore, UnknownMessage, open_engine, upgrade
from chatserver.store import sql as sql_module
from chatserver.store.models import dm_conversations

NOW = 1_764_000_000_000
# The users of these tests have accounts: a guest's conversations are not kept (see the guest tests).
ACCOUNTS = ("alice", "bob", "carol", "dave")


def register(store, *users: str) -> None:
    for user in users:
        store.create_account(user, "hash", user.title(), NOW)


@pytest.fixture(autouse=True)
def accounts(request) -> None:
    for name in ("store", "sql_store"):
        if name in request.fixturenames:
            register(request.getfixturevalue(name), *ACCOUNTS)


def dm(first: str, second: str) -> str:
    """The domain's key of a one-to-one conversation (chat/history.py)."""
    return "dm:{}\n{}".format(*sorted((first, second)))


def say(store, sender: str, recepient: str, data: str = "hi") -> dict:
    """Save one one-to-one message as delivered and return it."""
    said = message(data, sender=sender, recepient=recepient)
    store.save_messages([(dm(sender, recepient), said)])
    return said


def say_in_room(store, sender: str, room_id: str, data: str = "hi") -> dict:
    said = message(data, sender=sender, recepient=room_id, command="groupchat")
    store.save_messages([("room:" + room_id, said)])
    return said


def listed(store, user_id: str, room_keys=()) -> list[tuple[str, str | None, int]]:
    """The user's conversations as (key, data of the last message, unread)."""
    found = store.conversations(user_id, room_keys)
    return [(each.key, each.last and each.last["data"], each.unread) for each in found]


# -- mark_read ---------------------------------------------------------------------------------

def test_mark_read_returns_the_message_as_delivered(store):
    said = say(store, "bob", "alice")
    returned = store.mark_read("alice", dm("alice", "bob"), said["id"])
    assert returned == said
    assert tuple(returned) == MESSAGE_FIELDS


def test_a_read_mark_only_moves_forward(store):
    first, second, third = (say(store, "bob", "alice", str(number)) for number in range(3))
    key = dm("alice", "bob")
    assert listed(store, "alice") == [(key, "2", 3)]
    store.mark_read("alice", key, second["id"])
    assert listed(store, "alice") == [(key, "2", 1)]
    # An older id leaves the mark where it is, and still answers with that message.
    assert store.mark_read("alice", key, first["id"]) == first
    assert listed(store, "alice") == [(key, "2", 1)]
    store.mark_read("alice", key, third["id"])
    assert listed(store, "alice") == [(key, "2", 0)]


def test_marking_an_id_of_another_conversation_or_of_none_raises(store):
    elsewhere = say(store, "bob", "carol")
    say(store, "bob", "alice")
    for message_id in (elsewhere["id"], "no-such-id"):
        with pytest.raises(UnknownMessage) as caught:
            store.mark_read("alice", dm("alice", "bob"), message_id)
        assert caught.value.message_id == message_id
    assert listed(store, "alice") == [(dm("alice", "bob"), "hi", 1)]


def test_read_marks_are_each_users_own(store):
    said = say(store, "bob", "alice")
    store.save_messages([(dm("alice", "carol"), message("x", sender="carol", recepient="alice"))])
    store.mark_read("alice", dm("alice", "bob"), said["id"])
    assert listed(store, "alice") == [(dm("alice", "carol"), "x", 1), (dm("alice", "bob"), "hi", 0)]
    say(store, "alice", "bob", "back")
    assert listed(store, "bob") == [(dm("alice", "bob"), "back", 1)]


# -- conversations -----------------------------------------------------------------------------

def test_conversations_most_recent_first_and_rooms_without_messages_last_by_key(store):
    say(store, "bob", "alice", "oldest")
    say_in_room(store, "carol", "middle", "in the room")
    say(store, "alice", "dave", "newest")
    say(store, "erin", "frank", "not alice's")
    say_in_room(store, "carol", "elsewhere", "not asked for")
    rooms = ["room:zeta", "room:middle", "room:alpha"]
    assert listed(store, "alice", rooms) == [
        (dm("alice", "dave"), "newest", 0),
        ("room:middle", "in the room", 1),
        (dm("alice", "bob"), "oldest", 1),
        ("room:alpha", None, 0),
        ("room:zeta", None, 0),
    ]


def test_the_last_message_is_the_whole_delivered_message(store):
    said = say(store, "bob", "alice")
    assert store.conversations("alice", []) == [Conversation(key=dm("alice", "bob"), last=said, unread=1)]
    assert tuple(store.conversations("alice", [])[0].last) == MESSAGE_FIELDS


def test_unread_counts_the_others_messages_only(store):
    key = dm("alice", "bob")
    store.save_messages([(key, item) for item in messages(3, sender="bob", recepient="alice")])
    store.save_messages([(key, item) for item in messages(2, sender="alice", recepient="bob")])
    # No mark: every message of the other counts, none of one's own.
    assert listed(store, "alice") == [(key, "1", 3)]
    assert listed(store, "bob") == [(key, "1", 2)]


def test_one_s_own_messages_after_the_mark_do_not_count(store):
    key = dm("alice", "bob")
    seen = say(store, "bob", "alice", "seen")
    store.mark_read("alice", key, seen["id"])
    say(store, "alice", "bob", "mine")
    say(store, "bob", "alice", "new")
    say(store, "alice", "bob", "mine again")
    assert listed(store, "alice") == [(key, "mine again", 1)]


def test_a_new_member_has_read_the_rooms_past(store):
    store.create_room("lobby", "Lobby", "alice", False, NOW)
    for number in range(5):
        say_in_room(store, "alice", "lobby", str(number))
    store.add_member("lobby", "bob")
    assert listed(store, "bob", ["room:lobby"]) == [("room:lobby", "4", 0)]
    say_in_room(store, "alice", "lobby", "after bob came")
    assert listed(store, "bob", ["room:lobby"]) == [("room:lobby", "after bob came", 1)]


def test_creating_a_room_over_old_messages_of_its_id_shows_none_unread(store):
    say_in_room(store, "bob", "lobby", "from a deleted room of that id")
    store.create_room("lobby", "Lobby", "alice", False, NOW)
    assert listed(store, "alice", ["room:lobby"]) == [("room:lobby", "from a deleted room of that id", 0)]


def test_leaving_a_room_drops_the_mark(store):
    store.create_room("lobby", "Lobby", "alice", False, NOW)
    say_in_room(store, "alice", "lobby", "before")
    store.add_member("lobby", "bob")
    store.remove_member("lobby", "bob")
    # Without a mark every message counts (the domain asks only for joined rooms; this shows the mark went).
    assert listed(store, "bob", ["room:lobby"]) == [("room:lobby", "before", 1)]


def test_a_room_asked_for_twice_or_also_a_dm_key_is_listed_once(store):
    say(store, "bob", "alice")
    assert [each.key for each in store.conversations("alice", ["room:a", dm("alice", "bob"), "room:a"])] == [
        dm("alice", "bob"), "room:a"]


# -- who is in which one-to-one conversation -----------------------------------------------------

def test_save_messages_lists_the_conversation_for_both_ends(store):
    say(store, "alice", "bob")
    store.save_messages([("ALL", message("to everyone", sender="carol"))])
    assert [each.key for each in store.conversations("alice", [])] == [dm("alice", "bob")]
    assert [each.key for each in store.conversations("bob", [])] == [dm("alice", "bob")]
    assert store.conversations("carol", []) == []


def test_save_offline_lists_the_conversation_for_both_ends(store):
    store.create_account("dave", "hash", "Dave", NOW)
    queued = message("while you were away", sender="carol", recepient="dave")
    store.save_offline("dave", dm("carol", "dave"), queued)
    assert store.conversations("dave", []) == [Conversation(dm("carol", "dave"), queued, 1)]
    assert store.conversations("carol", []) == [Conversation(dm("carol", "dave"), queued, 0)]


def test_a_guest_s_conversations_are_not_kept_and_do_not_pass_to_who_registers_the_id(store):
    say(store, "gina", "alice", "from a guest")
    assert listed(store, "alice") == [(dm("alice", "gina"), "from a guest", 1)]
    assert store.conversations("gina", []) == []
    register(store, "gina")  # the guest left; someone registers the id
    assert store.conversations("gina", []) == []
    say(store, "alice", "gina", "to the account")
    assert listed(store, "gina") == [(dm("alice", "gina"), "to the account", 1)]


def test_between_guests_no_conversation_is_kept(sql_store):
    inserts: list[str] = []

    @event.listens_for(sql_store.engine, "before_cursor_execute")
    def record(connection, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT") and "dm_conversations" in statement:
            inserts.append(statement)

    say(sql_store, "guest1", "guest2")
    say(sql_store, "guest2", "guest1")
    assert inserts == []
    with sql_store.engine.connect() as connection:
        assert connection.execute(dm_conversations.select()).all() == []


def test_a_known_conversation_costs_the_hot_path_no_statement(sql_store):
    inserts: list[str] = []

    @event.listens_for(sql_store.engine, "before_cursor_execute")
    def record(connection, cursor, statement, parameters, context, executemany) -> None:
        if "dm_conversations" in statement:
            inserts.append(statement)

    sql_store.create_account("bob", "hash", "Bob", NOW)
    key = dm("alice", "bob")
    sql_store.save_messages([(key, message("1", sender="alice", recepient="bob")),
                             (key, message("2", sender="bob", recepient="alice"))])
    assert len(inserts) == 1  # both ends of both messages in one statement
    sql_store.save_messages([(key, message("3", sender="alice", recepient="bob"))])
    sql_store.save_offline("bob", key, message("4", sender="alice", recepient="bob"))
    assert len(inserts) == 1


def test_a_forgotten_user_s_conversation_is_recorded_again_by_the_next_message(store):
    say(store, "alice", "bob")
    store.forget_user("bob")
    assert store.conversations("bob", []) == []
    assert [each.key for each in store.conversations("alice", [])] == [dm("alice", "bob")]
    say(store, "alice", "bob", "again")
    assert listed(store, "bob") == [(dm("alice", "bob"), "again", 2)]


def test_rows_deleted_by_another_process_come_back_once_the_memory_expires(url, monkeypatch):
    monkeypatch.setattr(sql_module, "PARTICIPANTS_LIFETIME", 0.0)
    engine = open_engine(url)
    upgrade(engine)
    store = SqlStore(engine)
    try:
        register(store, "alice", "bob")
        say(store, "alice", "bob")
        with engine.begin() as connection:  # the admin command, or forget_user on another node
            connection.execute(delete(dm_conversations))
        say(store, "alice", "bob", "again")
        assert [each.key for each in store.conversations("bob", [])] == [dm("alice", "bob")]
    finally:
        store.close()
