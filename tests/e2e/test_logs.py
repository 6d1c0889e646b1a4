"""The log an operator reads: one line per login, logout and refused login, in text or JSON lines."""

from __future__ import annotations

import json

from e2e_support import login, new_id

from support import RecordingClient, ServerProcess, chatserver_command, free_port


def run_session(server) -> tuple[str, str]:
    """Log a guest in and out, refuse a registered login, disconnect a socket; return the two ids."""
    alice, mallory = RecordingClient(server.url), RecordingClient(server.url)
    alice_id, bob_id = new_id("alice"), new_id("bob")
    try:
        assert mallory.call("register", {"id": bob_id, "password": "correct horse battery"})["code"] == "200"
        assert mallory.call("login", {"id": bob_id, "password": "wrong password"})["code"] == "401"
        login(alice, alice_id)
        assert alice.call("logout")["code"] == "200"
        login(alice, alice_id)
    finally:
        alice.close()
        mallory.close()
    return alice_id, bob_id


def test_text_lines_for_logins_logouts_and_refusals(tmp_path):
    port = free_port()
    env = {"CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.sqlite3'}"}
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path) as server:
        alice_id, bob_id = run_session(server)
        server.stop()
        lines = server.log().splitlines()
    assert sum(f"login {alice_id} on socket" in line and "(guest)" in line for line in lines) == 2
    assert any(f"logout {alice_id} on socket" in line and "(logout)" in line for line in lines)
    assert any(f"logout {alice_id} on socket" in line and "(disconnected)" in line for line in lines)
    assert any(f"refused login for {bob_id} from 127.0.0.1" in line for line in lines)


def test_json_lines_with_the_same_records(tmp_path):
    port = free_port()
    env = {"CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.sqlite3'}", "CHATSERVER_LOG_FORMAT": "json"}
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path) as server:
        alice_id, bob_id = run_session(server)
        server.stop()
        records = [json.loads(line) for line in server.log().splitlines() if line]  # every line is JSON
    assert records and all(set(record) >= {"time", "level", "logger", "message"} for record in records)
    messages = [record["message"] for record in records]
    assert any(message.startswith(f"login {alice_id} on socket") for message in messages)
    refused = [record for record in records if record["message"].startswith(f"refused login for {bob_id}")]
    assert refused and refused[0]["level"] == "WARNING" and refused[0]["logger"] == "chatserver.chat.accounts"
    assert any("listening on" in message for message in messages)
