"""The database going away under a running `python -m chatserver`: events that need it get 500, chat goes on.

A PostgreSQL of the test's own (stopped and started again mid-test) and an SQLite file held
locked by another process.
"""

from __future__ import annotations

import sqlite3

from e2e_support import new_id
from postgres_support import PostgresServer, fresh_database

from support import RecordingClient, ServerProcess, chatserver_command, free_port

PASSWORD = "correct horse battery"


def registered_pair(url: str) -> tuple[RecordingClient, RecordingClient, str, str]:
    """Two clients on ``url``, registered and logged in with their passwords."""
    clients, ids = [], []
    for name in ("alice", "bob"):
        client, user = RecordingClient(url), new_id(name)
        assert client.call("register", {"id": user, "password": PASSWORD})["code"] == "200"
        assert client.call("login", {"id": user, "password": PASSWORD})["code"] == "200"
        clients.append(client)
        ids.append(user)
    return clients[0], clients[1], ids[0], ids[1]


def assert_live_chat_goes_on(alice: RecordingClient, bob: RecordingClient, bob_id: str) -> None:
    ack = alice.call("message", {"recepient": bob_id, "data": "still talking"})
    assert ack["code"] == "200", ack
    assert bob.next("message", data="still talking")["sender"] != bob_id


def test_postgresql_down_gives_500_to_what_needs_it_and_comes_back(tmp_path):
    with PostgresServer() as database_server, fresh_database(database_server.port) as url:
        port = free_port()
        with ServerProcess(chatserver_command(port), port, env={"CHATSERVER_DATABASE_URL": url},
                           log_dir=tmp_path) as chat:
            alice, bob, alice_id, bob_id = registered_pair(chat.url)
            database_server.stop()

            assert alice.call("register", {"id": new_id("carol"), "password": PASSWORD})["code"] == "500"
            assert alice.call("history", {"recepient": bob_id})["code"] == "500"
            assert alice.call("login", {"id": alice_id, "password": PASSWORD})["code"] == "500"
            assert_live_chat_goes_on(alice, bob, bob_id)
            assert alice.call("message", {"recepient": "ALL", "data": "everyone"})["code"] == "200"
            assert "database unavailable" in chat.log(), chat.log()[-2000:]
            assert "Traceback" not in chat.log(), "one line per fault, not a traceback"

            database_server.start()
            carol = new_id("carol")
            assert alice.call("register", {"id": carol, "password": PASSWORD})["code"] == "200"
            ack = alice.call("history", {"recepient": bob_id})
            assert ack["code"] == "200" and ack["messages"] == [], "what was sent while it was down is not kept"
            alice.close()
            bob.close()


def test_a_locked_sqlite_file_gives_500_after_the_busy_timeout(tmp_path):
    path = tmp_path / "chat.sqlite3"
    port = free_port()
    with ServerProcess(chatserver_command(port), port, env={"CHATSERVER_DATABASE_URL": f"sqlite:///{path}"},
                       log_dir=tmp_path) as chat:
        assert f"accounts and history in sqlite:///{path}" in chat.log(), "the startup log says where the data is"
        alice, bob, alice_id, bob_id = registered_pair(chat.url)
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # a backup tool or a stray sqlite3 shell holding the write lock
        try:
            assert alice.call("register", {"id": new_id("carol"), "password": PASSWORD}, timeout=30)["code"] == "500"
            assert_live_chat_goes_on(alice, bob, bob_id)
        finally:
            locker.rollback()
            locker.close()
        assert alice.call("register", {"id": new_id("carol"), "password": PASSWORD})["code"] == "200"
        assert "database unavailable" in chat.log()
        alice.close()
        bob.close()
