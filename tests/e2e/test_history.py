"""PROTOCOL.md "History" and offline delivery, line by line, against real `python -m chatserver` processes.

Each test runs on SQLite and on PostgreSQL (the ``backend`` fixture), over WebSocket and
long-polling; the restart test runs its own server on its own database.
"""

from __future__ import annotations

import pytest
from e2e_support import MESSAGE_FIELDS, login, new_id

from support import ServerProcess, chatserver_command, free_port

PASSWORD = "correct horse battery"


def registered(client, name: str) -> tuple[str, str]:
    """Register a fresh id, log ``client`` in with its password; return (id, token)."""
    user = new_id(name)
    assert client.call("register", {"id": user, "password": PASSWORD})["code"] == "200"
    ack = client.call("login", {"id": user, "password": PASSWORD})
    assert ack["code"] == "200", ack
    client.next("presence", command="list")
    return user, ack["token"]


def page(client, **query) -> tuple[list[str], bool]:
    """Ask for one history page; return the texts of its messages and ``more``."""
    ack = client.call("history", query)
    assert ack["code"] == "200", ack
    assert ack == client.next("response", command="history")
    return [message["data"] for message in ack["messages"]], ack["more"]


def test_one_to_one_history_pages_both_ways(connect_to):
    """newest page, before (older), after (newer), each with `more`; both users see the same conversation."""
    alice, bob = connect_to(), connect_to()
    alice_id, _ = registered(alice, "alice")
    bob_id, _ = registered(bob, "bob")
    for n in range(1, 8):
        assert alice.call("message", {"recepient": bob_id, "data": f"m{n}"})["code"] == "200"
    delivered = [bob.next("message") for _ in range(7)]

    ack = alice.call("history", {"recepient": bob_id, "limit": 3})
    assert ack == alice.next("response", command="history")
    assert ack["messages"] == delivered[4:], "exactly the delivered messages, oldest first"
    assert all(set(message) == MESSAGE_FIELDS for message in ack["messages"])
    assert ack["more"] is True
    ids = [message["id"] for message in delivered]
    assert page(alice, recepient=bob_id, limit=3, before=ids[4]) == (["m2", "m3", "m4"], True)
    assert page(alice, recepient=bob_id, limit=3, before=ids[1]) == (["m1"], False)
    assert page(alice, recepient=bob_id, limit=3, after=ids[0]) == (["m2", "m3", "m4"], True)
    assert page(alice, recepient=bob_id, limit=3, after=ids[3]) == (["m5", "m6", "m7"], False)
    assert page(alice, recepient=bob_id, after=ids[6]) == ([], False)
    assert page(bob, recepient=alice_id) == ([f"m{n}" for n in range(1, 8)], False)
    assert page(bob, recepient=alice_id, command="chat", limit=1) == (["m7"], True)


def test_broadcasts_are_kept_in_the_all_conversation(connect_to):
    """Every delivered ALL message is stored: the newest page ends with them, exactly as delivered."""
    alice = connect_to()
    login(alice, new_id("alice"))
    texts = [new_id("all") for _ in range(3)]
    for text in texts:
        alice.call("message", {"recepient": "ALL", "data": text})
    delivered = [alice.next("message", data=text) for text in texts]
    ack = alice.call("history", {"recepient": "ALL", "limit": 100})
    assert ack["code"] == "200"
    assert ack["messages"][-3:] == delivered


def test_history_refuses_what_the_protocol_refuses(connect_to):
    """401 not logged in; 403 a guest's one-to-one history; 400 bad limit or cursors; 404 unknown cursor or room."""
    stranger, guest, alice = connect_to(), connect_to(), connect_to()
    assert stranger.call("history", {"recepient": "ALL"})["code"] == "401"
    login(guest, new_id("guest"))
    alice_id, _ = registered(alice, "alice")
    assert guest.call("history", {"recepient": alice_id})["code"] == "403"
    assert guest.call("history", {"recepient": "ALL"})["code"] == "200", "ALL is everyone's"
    for query in (
        {"recepient": "ALL", "limit": 0},
        {"recepient": "ALL", "limit": 101},
        {"recepient": "ALL", "limit": "10"},
        {"recepient": "ALL", "limit": True},
        {"recepient": "ALL", "before": "a", "after": "b"},
        {"recepient": "ALL", "before": 5},
        {"recepient": 42},
        {},
        "ALL",
    ):
        ack = alice.call("history", query)
        assert ack["code"] == "400", (query, ack)
    assert alice.call("history", {"recepient": "ALL", "before": "no-such-message"})["code"] == "404"
    assert alice.call("history", {"recepient": new_id("room"), "command": "groupchat"})["code"] == "404"
    assert alice.call("history", {"recepient": "ALL", "limit": 100})["code"] == "200", "the socket stays usable"


def test_a_cursor_from_another_conversation_is_404(connect_to):
    """A message id names a place in its own conversation only."""
    alice, bob = connect_to(), connect_to()
    alice_id, _ = registered(alice, "alice")
    bob_id, _ = registered(bob, "bob")
    alice.call("message", {"recepient": bob_id, "data": "private"})
    private_id = bob.next("message")["id"]
    assert alice.call("history", {"recepient": "ALL", "before": private_id})["code"] == "404"


def test_a_message_to_a_registered_offline_user_is_202_and_delivered_once_at_login(connect_to):
    """202 to the sender; at bob's next login: response, room and presence lists, then the messages in order, once."""
    alice, bob, bob_later = connect_to(), connect_to(), connect_to()
    alice_id, _ = registered(alice, "alice")
    bob_id, _ = registered(bob, "bob")
    bob.call("logout")
    for text in ("first", "second"):
        ack = alice.call("message", {"recepient": bob_id, "data": text})
        assert ack["code"] == "202", ack
        assert ack == alice.next("response", command="message")

    bob_later.call("login", {"id": bob_id, "password": PASSWORD})
    received = bob_later.until("message", data="second")
    names = [name for name, _ in received]
    assert names[:3] == ["response", "room", "presence"], received
    messages = [payload for name, payload in received if name == "message"]
    assert [m["data"] for m in messages] == ["first", "second"]
    assert all(set(m) == MESSAGE_FIELDS and m["sender"] == alice_id for m in messages)

    bob_later.call("logout")
    bob_later.call("login", {"id": bob_id, "password": PASSWORD})
    assert [p for name, p in bob_later.drain(0.5) if name == "message"] == [], "delivered once only"
    assert page(bob_later, recepient=alice_id) == (["first", "second"], False), "and kept in history"


def test_a_message_to_an_unknown_offline_id_is_still_404(connect_to):
    """Neither online nor registered: 404, nothing stored."""
    alice = connect_to()
    login(alice, new_id("alice"))
    nobody = new_id("nobody")
    assert alice.call("message", {"recepient": nobody, "data": "hello?"})["code"] == "404"


def test_the_senders_other_sockets_get_a_copy(connect_to):
    """alice's phone sends to bob: bob and alice's laptop get the same message (same id); the phone does not."""
    phone, laptop, bob = connect_to(), connect_to(), connect_to()
    alice_id, token = registered(phone, "alice")
    assert laptop.call("login", {"id": alice_id, "token": token})["code"] == "200"
    bob_id = new_id("bob")
    login(bob, bob_id)
    assert phone.call("message", {"recepient": bob_id, "data": "sync me"})["code"] == "200"
    at_bob = bob.next("message", data="sync me")
    assert laptop.next("message", data="sync me") == at_bob
    assert [p for name, p in phone.drain(0.3) if name == "message"] == []


@pytest.mark.parametrize("settings", [{"CHATSERVER_HISTORY": "off"}])
def test_with_history_off_nothing_is_kept_but_offline_delivery_works(connect_with, settings):
    """CHATSERVER_HISTORY=off: `history` is 404; a 202 message still reaches its recipient at login."""
    alice, bob = connect_with(settings), connect_with(settings)
    login(alice, new_id("alice"))
    assert alice.call("history", {"recepient": "ALL"})["code"] == "404"
    bob_id, _ = registered(bob, "bob")
    bob.call("logout")
    assert alice.call("message", {"recepient": bob_id, "data": "later"})["code"] == "202"
    bob.call("login", {"id": bob_id, "password": PASSWORD})
    assert bob.next("message")["data"] == "later"


def test_a_restart_keeps_accounts_tokens_history_and_the_offline_queue(database_url, tmp_path, transport):
    """Everything answered 200/202 before a SIGTERM is there after the server starts again on the same database."""
    from support import RecordingClient

    port = free_port()
    env = {"CHATSERVER_DATABASE_URL": database_url}

    def server() -> ServerProcess:
        return ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path)

    with server() as first:
        alice, bob = RecordingClient(first.url, [transport]), RecordingClient(first.url, [transport])
        alice_id, token = registered(alice, "alice")
        bob_id, _ = registered(bob, "bob")
        for n in range(20):
            assert alice.call("message", {"recepient": bob_id, "data": f"live {n}"})["code"] == "200"
        bob.call("logout")
        assert alice.call("message", {"recepient": bob_id, "data": "while you were away"})["code"] == "202"
        alice.close()
        bob.close()

    with server() as second:
        alice, bob = RecordingClient(second.url, [transport]), RecordingClient(second.url, [transport])
        assert alice.call("login", {"id": alice_id, "token": token})["code"] == "200"
        assert bob.call("login", {"id": bob_id, "password": PASSWORD})["code"] == "200"
        assert bob.next("message")["data"] == "while you were away"
        texts, more = page(bob, recepient=alice_id, limit=100)
        assert texts == [f"live {n}" for n in range(20)] + ["while you were away"] and more is False
        alice.close()
        bob.close()


def test_an_id_registered_later_does_not_read_what_its_earlier_guest_said(connect_to):
    """A guest talks with bob, leaves; someone registers that id: their one-to-one history starts empty."""
    bob, guest, newcomer = connect_to(), connect_to(), connect_to()
    bob_id, _ = registered(bob, "bob")
    carol = new_id("carol")
    login(guest, carol)
    assert guest.call("message", {"recepient": bob_id, "data": "from the guest"})["code"] == "200"
    assert bob.call("message", {"recepient": carol, "data": "to the guest"})["code"] == "200"
    guest.call("logout")
    assert newcomer.call("register", {"id": carol, "password": PASSWORD})["code"] == "200"
    assert newcomer.call("login", {"id": carol, "password": PASSWORD})["code"] == "200"
    assert page(newcomer, recepient=bob_id) == ([], False)
    assert bob.call("message", {"recepient": carol, "data": "welcome"})["code"] == "200"
    assert page(newcomer, recepient=bob_id) == (["welcome"], False)
    assert page(bob, recepient=carol) == (["welcome"], False), "bob's view is of the same conversation"
