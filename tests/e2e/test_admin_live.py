"""`chatserver admin online|rooms|kick|ban|unban|close-room` against a running `python -m chatserver`.

The installed command talks to the node's control endpoint; real clients see what it does.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from e2e_support import login, new_id

from support import BIN, ROOT, RecordingClient, ServerProcess, chatserver_command, free_port

PASSWORD = "correct horse battery"
TOKEN = "operator-secret-" + new_id("token")


def admin(port: int, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    """Run the installed `chatserver admin` against the node on ``port``."""
    env = {"PATH": "/usr/bin:/bin", "CHATSERVER_PORT": str(port)}
    if token is not None:
        env["CHATSERVER_ADMIN_TOKEN"] = token
    return subprocess.run([str(BIN / "chatserver"), "admin", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60)


def disconnected(client: RecordingClient, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while client.sio.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    return not client.sio.connected


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    folder = tmp_path_factory.mktemp("node")
    port = free_port()
    env = {"CHATSERVER_DATABASE_URL": f"sqlite:///{folder / 'chat.sqlite3'}", "CHATSERVER_ADMIN_TOKEN": TOKEN}
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=folder) as server:
        yield server


@pytest.fixture
def clients(node):
    made: list[RecordingClient] = []

    def connect() -> RecordingClient:
        made.append(RecordingClient(node.url))
        return made[-1]

    yield connect
    for client in made:
        client.close()


def test_online_and_rooms_list_what_is_there(node, clients):
    alice, bob = clients(), clients()
    alice_id, bob_id = new_id("alice"), new_id("bob")
    login(alice, alice_id, alias="Alice")
    login(bob, bob_id)
    room_id = new_id("room")
    assert bob.call("room", {"command": "create", "roomId": room_id, "roomName": "Secret", "private": True})[
        "code"] == "200"

    online = admin(node.port, "online")
    assert online.returncode == 0, online.stderr
    assert f"{alice_id}\tAlice" in online.stdout.splitlines() and f"{bob_id}\t{bob_id}" in online.stdout
    rooms = admin(node.port, "rooms")
    assert f"{room_id}\tSecret\towner {bob_id}\t1 members\tprivate" in rooms.stdout.splitlines(), rooms.stdout


def test_kick_disconnects_every_socket_of_the_user_only(node, clients):
    phone, laptop, other = clients(), clients(), clients()
    user = new_id("kicked")
    login(phone, user)
    login(laptop, user)
    login(other, new_id("stays"))
    result = admin(node.port, "kick", user)
    assert result.returncode == 0 and f"kicked {user}" in result.stdout, result.stderr
    assert disconnected(phone) and disconnected(laptop)
    assert other.sio.connected
    assert other.next("presence", command="offline", id=user)["id"] == user


def test_ban_refuses_logins_revokes_tokens_and_kicks_until_unbanned(node, clients):
    registrar, device = clients(), clients()
    user = new_id("banned")
    assert registrar.call("register", {"id": user, "password": PASSWORD})["code"] == "200"
    token = device.call("login", {"id": user, "password": PASSWORD})["token"]

    result = admin(node.port, "ban", user)
    assert result.returncode == 0 and f"banned {user}" in result.stdout, result.stderr
    assert disconnected(device)
    again = clients()
    assert again.call("login", {"id": user, "password": PASSWORD})["code"] == "403"
    assert again.call("login", {"id": user, "token": token})["code"] == "403"
    assert "banned" in node.log()

    assert admin(node.port, "unban", user).returncode == 0
    assert again.call("login", {"id": user, "token": token})["code"] == "401", "the ban revoked the token"
    assert again.call("login", {"id": user, "password": PASSWORD})["code"] == "200"


def test_close_room_tells_the_members(node, clients):
    owner, member = clients(), clients()
    login(owner, new_id("owner"))
    login(member, new_id("member"))
    room_id = new_id("room")
    assert owner.call("room", {"command": "create", "roomId": room_id, "roomName": "r"})["code"] == "200"
    assert member.call("room", {"command": "join", "roomId": room_id})["code"] == "200"
    assert admin(node.port, "close-room", room_id).returncode == 0
    for client in (owner, member):
        assert client.next("room", command="delete")["roomId"] == room_id
    assert owner.call("message", {"recepient": room_id, "command": "groupchat", "data": "?"})["code"] == "404"


def test_refusals_say_why(node):
    wrong = admin(node.port, "online", token="not-the-token")
    assert wrong.returncode == 1 and "refused the admin token" in wrong.stderr
    unknown = admin(node.port, "ban", new_id("nobody"))
    assert unknown.returncode == 1 and "no such account" in unknown.stderr
    assert admin(node.port, "close-room", new_id("nowhere")).returncode == 1
    nobody_there = admin(free_port(), "online")
    assert nobody_there.returncode == 1 and "no node at" in nobody_there.stderr


def test_without_a_configured_token_the_command_reads_the_one_the_node_wrote(tmp_path):
    """The node writes a fresh token to its instance folder (mode 0600); the command on this machine finds it."""
    port = free_port()
    env = {"CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.sqlite3'}"}
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path):
        token_file = ROOT / "instance" / "admin-token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        result = admin(port, "online", token=None)
        assert result.returncode == 0 and "(nobody online)" in result.stdout, result.stderr
