"""History pages exactly as PROTOCOL.md's History section says, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from store_support import message, messages

from chatserver.store import MESSAGE_FIELDS, UnknownMessage

ALL = "ALL"
DM = "dm:alice\nbob"


def ids(page: list[dict]) -> list[str]:
    return [item["id"] for item in page]


@pytest.fixture
def five(store) -> list[dict]:
    """Five messages in ALL, saved in this order."""
    saved = messages(5)
    store.save_messages([(ALL, item) for item in saved])
    return saved


def test_newest_page_is_oldest_first_and_says_whether_older_exist(store, five):
    assert store.history(ALL, limit=3) == (five[2:], True)
    assert store.history(ALL, limit=5) == (five, False)
    assert store.history(ALL) == (five, False)


def test_before_gives_the_newest_older_messages(store, five):
    assert store.history(ALL, before=five[4]["id"], limit=2) == (five[2:4], True)
    assert store.history(ALL, before=five[2]["id"], limit=2) == (five[0:2], False)
    assert store.history(ALL, before=five[0]["id"]) == ([], False)


def test_after_gives_the_page_right_after_the_cursor(store, five):
    assert store.history(ALL, after=five[0]["id"], limit=2) == (five[1:3], True)
    assert store.history(ALL, after=five[2]["id"], limit=2) == (five[3:5], False)
    assert store.history(ALL, after=five[4]["id"]) == ([], False)


def test_limit_one_walks_the_whole_conversation_both_ways(store, five):
    backwards, (page, more) = [], store.history(ALL, limit=1)
    backwards += page
    while more:
        page, more = store.history(ALL, before=page[0]["id"], limit=1)
        backwards[:0] = page
    assert backwards == five

    forwards, (page, more) = [five[0]], store.history(ALL, after=five[0]["id"], limit=1)
    forwards += page
    while more:
        page, more = store.history(ALL, after=page[-1]["id"], limit=1)
        forwards += page
    assert forwards == five


def test_limit_one_hundred(store):
    saved = messages(150)
    store.save_messages([(ALL, item) for item in saved])
    newest, more = store.history(ALL, limit=100)
    assert (newest, more) == (saved[50:], True)
    assert store.history(ALL, before=newest[0]["id"], limit=100) == (saved[:50], False)
    assert store.history(ALL, after=saved[0]["id"], limit=100) == (saved[1:101], True)


def test_an_empty_conversation(store, five):
    assert store.history(DM) == ([], False)


def test_an_unknown_cursor_raises(store, five):
    for cursor in ({"before": "no-such-id"}, {"after": "no-such-id"}):
        with pytest.raises(UnknownMessage) as caught:
            store.history(ALL, **cursor)
        assert caught.value.message_id == "no-such-id"


def test_a_cursor_from_another_conversation_raises(store, five):
    store.save_messages([(DM, message(sender="bob", recepient="alice"))])
    with pytest.raises(UnknownMessage):
        store.history(DM, before=five[2]["id"])
    with pytest.raises(UnknownMessage):
        store.history(DM, after=five[2]["id"])


def test_bad_arguments_are_refused(store, five):
    with pytest.raises(ValueError):
        store.history(ALL, limit=0)
    with pytest.raises(ValueError):
        store.history(ALL, before=five[3]["id"], after=five[1]["id"])


def test_order_is_arrival_not_id_or_timestamp(store):
    # Two nodes with skewed clocks, and random ids: neither orders history, arrival does.
    saved = [message("late clock", timestamp=5_000), message("early clock", timestamp=1_000),
             message("zzz", timestamp=3_000)]
    saved[0]["id"], saved[1]["id"], saved[2]["id"] = "c", "a", "b"
    for item in saved:
        store.save_messages([(ALL, item)])
    assert store.history(ALL) == (saved, False)


def test_messages_come_back_in_exactly_the_delivered_shape(store):
    sent = message("shape", sender="alice", recepient="bob", command="chat", timestamp=2**53)
    store.save_messages([(DM, sent)])
    (got,), _ = store.history(DM)
    assert got == sent
    assert list(got) == list(MESSAGE_FIELDS)
    assert type(got["timestamp"]) is int


def test_conversations_are_kept_apart(store):
    keys = [ALL, DM, "dm:alice\ncarol", "room:x"]
    saved: dict[str, list[dict]] = {key: [] for key in keys}
    items = []
    for number in range(12):  # interleaved, as traffic arrives
        key = keys[number % len(keys)]
        item = message(str(number))
        saved[key].append(item)
        items.append((key, item))
    store.save_messages(items)
    for key in keys:
        assert store.history(key) == (saved[key], False)


def test_duplicate_ids_are_skipped_not_fatal(store, five):
    again = dict(five[1], data="a second copy")
    new = message("new")
    store.save_messages([(ALL, again), (ALL, new), (ALL, dict(new))])
    assert store.history(ALL) == ([*five, new], False)


def test_unicode_round_trips(store):
    texts = ["안녕하세요 👋", "emoji 🧑‍🤝‍🧑 and flags 🇰🇷", "עברית مرحبا", "e\u0301 combining", "line\u2028separator",
             "tab\tnewline\n", "\U0010ffff the last code point", "x" * 2000]
    saved = [message(text, sender="사용자", recepient="ÄLL") for text in texts]
    store.save_messages([("dm:사용자\nbob", item) for item in saved])
    assert store.history("dm:사용자\nbob") == (saved, False)
