"""PROTOCOL.md "Accounts", line by line, against real `python -m chatserver` processes.

Each test runs on SQLite and on PostgreSQL (the ``backend`` fixture), over WebSocket and
long-polling. Servers are shared by the module per backend and settings; ids are per test.
"""

from __future__ import annotations

import pytest
from e2e_support import login, new_id

PASSWORD = "correct horse battery"


def register(client, user, password=PASSWORD, **fields) -> dict:
    """Register ``user`` and return the ack."""
    return client.call("register", {"id": user, "password": password, **fields})


def test_register_then_log_in_with_the_password_gets_a_token(connect_to):
    """register → 200 (not logged in); login needs the password; success says registered and gives a token."""
    alice = connect_to()
    user = new_id("alice")
    ack = register(alice, user, alias="Alice")
    assert ack == alice.next("response", command="register")
    assert ack["code"] == "200"
    assert alice.call("message", {"recepient": "ALL", "data": "x"})["code"] == "401", "registering logs in"

    assert alice.call("login", {"id": user})["code"] == "401"
    assert alice.call("login", {"id": user, "password": "wrong password"})["code"] == "401"
    ack = alice.call("login", {"id": user, "password": PASSWORD})
    assert ack["code"] == "200" and ack["registered"] is True
    assert isinstance(ack["token"], str) and len(ack["token"]) >= 32
    assert ack == alice.next("response", command="login", code="200")
    assert {"id": user, "alias": "Alice"} in alice.next("presence", command="list")["users"]


def test_a_token_logs_in_again_without_the_password(connect_to):
    """The token from a password login logs the user in on another socket; a made-up token does not."""
    phone, laptop = connect_to(), connect_to()
    user = new_id("bob")
    register(phone, user)
    token = phone.call("login", {"id": user, "password": PASSWORD})["token"]
    assert laptop.call("login", {"id": user, "token": "not-a-token"})["code"] == "401"
    ack = laptop.call("login", {"id": user, "token": token})
    assert (ack["code"], ack["registered"], ack["token"]) == ("200", True, token)
    other = new_id("carol")
    register(laptop, other)
    assert laptop.call("login", {"id": other, "token": token})["code"] == "401", "a token is one user's"


def test_guests_log_in_as_in_the_seed_but_cannot_take_a_registered_id(connect_to):
    """An unregistered id logs in without a password (registered: false, no token); a registered one needs it."""
    guest = connect_to()
    user = new_id("guest")
    ack = guest.call("login", {"id": user, "password": ""})
    assert ack["code"] == "200" and ack["registered"] is False and "token" not in ack
    taken = new_id("dave")
    register(guest, taken)
    assert guest.call("login", {"id": taken})["code"] == "401"
    assert guest.call("login", {"id": taken, "password": ""})["code"] == "401"


def test_an_id_in_use_by_a_guest_cannot_be_registered(connect_to):
    """Registering the id of a guest who is online would hand their session to someone else: 409."""
    guest, other = connect_to(), connect_to()
    user = new_id("erin")
    login(guest, user)
    assert register(other, user)["code"] == "409"


def test_register_refuses_what_the_protocol_refuses(connect_to):
    """409 for a registered id; 400 for a short or long password, a missing one, a bad or reserved id."""
    client = connect_to()
    user = new_id("frank")
    assert register(client, user)["code"] == "200"
    assert register(client, user, password="another password")["code"] == "409"
    for payload in (
        {"id": new_id(), "password": "short"},
        {"id": new_id(), "password": "x" * 1025},
        {"id": new_id()},
        {"id": new_id(), "password": 12345678},
        {"id": "ALL", "password": PASSWORD},
        {"id": "", "password": PASSWORD},
        {"id": "a\nb", "password": PASSWORD},
        "not an object",
    ):
        ack = client.call("register", payload)
        assert ack["code"] == "400", (payload, ack)
    assert register(client, new_id(), password="x" * 1024)["code"] == "200", "1024 code points is the limit"


def test_logout_revokes_that_sockets_token_and_everywhere_revokes_all(connect_to):
    """logout revokes the socket's own token; logout {everywhere: true} every token of the user."""
    first, second, third = connect_to(), connect_to(), connect_to()
    user = new_id("gina")
    register(first, user)
    token_one = first.call("login", {"id": user, "password": PASSWORD})["token"]
    token_two = second.call("login", {"id": user, "password": PASSWORD})["token"]
    assert first.call("logout", {})["code"] == "200"
    assert third.call("login", {"id": user, "token": token_one})["code"] == "401"
    assert third.call("login", {"id": user, "token": token_two})["code"] == "200"
    third.call("logout", {"everywhere": True})
    assert first.call("login", {"id": user, "token": token_two})["code"] == "401"
    assert first.call("login", {"id": user, "password": PASSWORD})["code"] == "200", "the password still works"


def test_failed_logins_are_limited_per_id(connect_to, server_log):
    """After 5 failures for one id within a minute, even the right password gets 429; the refusals are logged."""
    attacker, owner = connect_to(), connect_to()
    user = new_id("henry")
    register(owner, user)
    codes = [attacker.call("login", {"id": user, "password": f"guess number {n}"})["code"] for n in range(5)]
    assert codes == ["401"] * 5
    assert attacker.call("login", {"id": user, "password": PASSWORD})["code"] == "429"
    assert owner.call("login", {"id": user, "password": PASSWORD})["code"] == "429", "the limit is per id"
    assert owner.call("login", {"id": new_id("other")})["code"] == "200", "other ids are not affected"
    assert f"refused login for {user}" in server_log()


@pytest.mark.parametrize("settings", [{"CHATSERVER_GUESTS": "off"}])
def test_with_guests_off_only_registered_users_log_in(connect_with, settings):
    """CHATSERVER_GUESTS=off: an unregistered id gets 401; a registered one logs in with its password."""
    client = connect_with(settings)
    assert client.call("login", {"id": new_id("guest")})["code"] == "401"
    user = new_id("ivan")
    register(client, user)
    assert client.call("login", {"id": user, "password": PASSWORD})["code"] == "200"


@pytest.mark.parametrize("settings", [{"CHATSERVER_REGISTRATION": "closed"}])
def test_with_registration_closed_register_is_403(connect_with, settings):
    """CHATSERVER_REGISTRATION=closed: register gets 403; guests still log in."""
    client = connect_with(settings)
    assert register(client, new_id("judy"))["code"] == "403"
    assert client.call("login", {"id": new_id("guest")})["code"] == "200"


def test_malformed_logins_are_400_and_keep_the_existing_login(connect_to):
    """A token or password of the wrong type, an over-long token: 400; the socket stays logged in as before."""
    client = connect_to()
    user = new_id("kim")
    register(client, user)
    assert client.call("login", {"id": user, "password": PASSWORD})["code"] == "200"
    for payload in (
        {"id": user, "token": 12345},
        {"id": user, "token": ["a"]},
        {"id": user, "token": "x" * 257},
        {"id": user, "password": {"a": 1}},
        {"id": user, "password": "x" * 1025},
    ):
        ack = client.call("login", payload)
        assert ack["code"] == "400", (payload, ack)
    assert client.call("message", {"recepient": user, "data": "still me"})["code"] == "200"
    assert client.next("message", data="still me")["sender"] == user
