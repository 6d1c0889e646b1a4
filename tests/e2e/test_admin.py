"""`chatserver admin ...` against the database a running server uses (registration closed)."""

from __future__ import annotations

import subprocess

from e2e_support import new_id

from support import BIN, RecordingClient, ServerProcess, chatserver_command, free_port


def admin(database_url: str, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    """Run the installed `chatserver admin` command on ``database_url``."""
    stdin = f"{password}\n" if password is not None else None
    return subprocess.run([str(BIN / "chatserver"), "admin", *args], input=stdin, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "CHATSERVER_DATABASE_URL": database_url}, timeout=60)


def test_accounts_made_and_changed_by_the_admin_command(database_url, tmp_path, transport):
    """With registration closed: create-user makes an account, set-password revokes tokens, delete-user removes it."""
    port = free_port()
    env = {"CHATSERVER_DATABASE_URL": database_url, "CHATSERVER_REGISTRATION": "closed"}
    user = new_id("alice")
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path) as server:
        client = RecordingClient(server.url, [transport])
        assert client.call("register", {"id": user, "password": "first password"})["code"] == "403"

        created = admin(database_url, "create-user", user, "--alias", "Alice", "--password-stdin",
                        password="first password")
        assert created.returncode == 0 and f"created {user}" in created.stdout, created.stderr
        again = admin(database_url, "create-user", user, "--password-stdin", password="first password")
        assert again.returncode == 1 and "registered already" in again.stderr
        short = admin(database_url, "create-user", new_id(), "--password-stdin", password="short")
        assert short.returncode == 1 and "8-1024" in short.stderr

        ack = client.call("login", {"id": user, "password": "first password"})
        assert ack["code"] == "200" and ack["registered"] is True
        token = ack["token"]
        assert client.next("presence", command="list")["users"] == [{"id": user, "alias": "Alice"}]

        changed = admin(database_url, "set-password", user, "--password-stdin", password="second password")
        assert changed.returncode == 0, changed.stderr
        other = RecordingClient(server.url, [transport])
        assert other.call("login", {"id": user, "token": token})["code"] == "401", "tokens revoked"
        assert other.call("login", {"id": user, "password": "first password"})["code"] == "401"
        assert other.call("login", {"id": user, "password": "second password"})["code"] == "200"

        assert admin(database_url, "delete-user", user).returncode == 0
        assert admin(database_url, "delete-user", user).returncode == 1
        third = RecordingClient(server.url, [transport])
        ack = third.call("login", {"id": user, "password": "second password"})
        assert ack["code"] == "200" and ack["registered"] is False, "the id is a guest's again"
        for each in (client, other, third):
            each.close()
