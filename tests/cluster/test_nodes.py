"""PROTOCOL.md across nodes: three real `python -m chatserver` processes on one real Redis."""

from __future__ import annotations

import threading

import pytest
from cluster_support import Node, gunicorn_command, new_prefix, started_nodes

MESSAGE_FIELDS = {"id", "sender", "recepient", "command", "type", "data", "timestamp"}
# How long a test listens for an event that must NOT come (a duplicate, a stray delivery).
QUIET = 0.5


@pytest.fixture(scope="module")
def nodes(redis_server, module_database, tmp_path_factory):
    """Three nodes shared by this module's tests; each test uses its own user ids."""
    with started_nodes(3, redis_server.url, module_database, tmp_path_factory.mktemp("nodes")) as started:
        yield started


@pytest.fixture
def login(connect):
    """Return a function that connects to ``node``, logs in as ``user`` and returns the client."""

    def connect_and_login(node: Node, user: str, alias: str | None = None):
        client = connect(node.url)
        payload = {"id": user} if alias is None else {"id": user, "alias": alias}
        assert client.call("login", payload)["code"] == "200"
        return client

    return connect_and_login


def presence_events(client, user: str, wait: float = QUIET) -> list[str]:
    """The online/offline commands ``client`` received about ``user`` (within ``wait`` seconds)."""
    return [payload["command"] for event, payload in client.drain(wait)
            if event == "presence" and payload.get("id") == user]


def test_one_to_one_crosses_nodes_both_ways(nodes, login, user):
    alice, bob = user("alice"), user("bob")
    alice_client, bob_client = login(nodes[0], alice), login(nodes[1], bob)

    reply = alice_client.call("message", {"recepient": bob, "data": "hello from node 0"})
    assert reply["code"] == "200"
    received = bob_client.next("message")
    assert set(received) == MESSAGE_FIELDS
    assert (received["sender"], received["recepient"], received["data"]) == (alice, bob, "hello from node 0")

    assert bob_client.call("message", {"recepient": alice, "sender": "mallory", "data": "and back"})["code"] == "200"
    answer = alice_client.next("message")
    assert (answer["sender"], answer["data"]) == (bob, "and back")  # the server sets the sender


def test_every_device_of_a_user_gets_the_message_whatever_its_node(nodes, login, user):
    carol, dave = user("carol"), user("dave")
    phone, laptop = login(nodes[0], carol), login(nodes[2], carol)
    sender = login(nodes[1], dave)

    assert sender.call("message", {"recepient": carol, "data": "to both"})["code"] == "200"
    assert phone.next("message")["data"] == "to both"
    assert laptop.next("message")["data"] == "to both"
    assert [event for event, _ in sender.drain(QUIET) if event == "message"] == []


def test_all_reaches_every_socket_on_every_node(nodes, connect, login, user):
    sender = login(nodes[0], user("erin"))
    logged_in = [login(node, user(f"reader{index}")) for index, node in enumerate(nodes)]
    anonymous = [connect(node.url) for node in nodes]  # connected, never logged in: the seed emits to all

    ack = sender.call("message", {"recepient": "ALL", "data": "everyone"})
    assert ack["code"] == "200"
    for client in [sender, *logged_in, *anonymous]:
        assert client.next("message", data="everyone")["recepient"] == "ALL"
    # As in the seed, no `response` event follows a successful broadcast.
    assert [payload for event, payload in sender.drain(QUIET) if event == "response"] == []


def test_a_user_online_nowhere_gets_404(nodes, login, user):
    sender = login(nodes[0], user("frank"))
    gone = user("gone")
    reply = sender.call("message", {"recepient": gone, "data": "anyone?"})
    assert reply == {"command": "message", "code": "404", "message": "The recipient's login ID was not found."}


def test_the_list_at_login_holds_users_of_every_node(nodes, login, user):
    gina, hank = user("gina"), user("hank")
    login(nodes[0], gina, alias="Gina")
    login(nodes[1], hank, alias="Hank")
    newcomer = login(nodes[2], user("ivy"))
    listed = newcomer.next("presence", command="list")["users"]
    assert {"id": gina, "alias": "Gina"} in listed and {"id": hank, "alias": "Hank"} in listed


def test_logout_on_one_node_is_seen_on_the_others(nodes, login, user):
    jack = user("jack")
    watchers = [login(node, user(f"watcher{index}")) for index, node in enumerate(nodes)]
    on_zero, on_one = login(nodes[0], jack), login(nodes[1], jack)
    for watcher in watchers:
        assert presence_events(watcher, jack) == ["online"]  # two sockets, one transition

    assert on_zero.call("logout")["code"] == "200"
    for watcher in watchers:
        assert presence_events(watcher, jack) == []  # still online on node 1
    assert watchers[2].call("message", {"recepient": jack, "data": "still there?"})["code"] == "200"
    assert on_one.next("message")["data"] == "still there?"
    assert [event for event, _ in on_zero.drain(QUIET) if event == "message"] == []

    assert on_one.call("logout")["code"] == "200"
    for watcher in watchers:
        assert presence_events(watcher, jack) == ["offline"]
    assert watchers[0].call("message", {"recepient": jack, "data": "gone?"})["code"] == "404"


def test_disconnect_on_one_node_is_seen_on_the_others(nodes, login, user):
    kate = user("kate")
    watchers = [login(node, user(f"watcher{index}")) for index, node in enumerate(nodes)]
    leaving = login(nodes[2], kate, alias="Kate")
    for watcher in watchers:
        assert watcher.next("presence", command="online", id=kate)["alias"] == "Kate"

    leaving.close()
    for watcher in watchers:
        assert watcher.next("presence", command="offline", id=kate) == {"command": "offline", "id": kate,
                                                                        "alias": "Kate"}
    assert watchers[1].call("message", {"recepient": kate, "data": "?"})["code"] == "404"


def test_simultaneous_logins_and_logouts_announce_once(nodes, connect, user):
    liam = user("liam")
    watchers = [connect(node.url) for node in nodes]
    for index, watcher in enumerate(watchers):
        assert watcher.call("login", {"id": user(f"watcher{index}")})["code"] == "200"
    devices = [connect(node.url) for node in nodes for _ in range(3)]

    def all_at_once(action):
        barrier = threading.Barrier(len(devices))
        codes = []

        def run(client):
            barrier.wait()
            codes.append(action(client)["code"])

        threads = [threading.Thread(target=run, args=(client,)) for client in devices]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert codes == ["200"] * len(devices)

    all_at_once(lambda client: client.call("login", {"id": liam}))
    for watcher in watchers:
        assert presence_events(watcher, liam, wait=1.0) == ["online"]
    all_at_once(lambda client: client.call("logout"))
    for watcher in watchers:
        assert presence_events(watcher, liam, wait=1.0) == ["offline"]


def test_a_gunicorn_node_and_a_chatserver_node_make_one_chat(redis_server, start_nodes, connect, user):
    prefix = new_prefix()
    (plain,) = start_nodes(1, redis_server.url, prefix=prefix)
    (gunicorn,) = start_nodes(1, redis_server.url, prefix=prefix, command=gunicorn_command)
    rita, sam = user("rita"), user("sam")
    rita_client, sam_client = connect(plain.url), connect(gunicorn.url, transports=["polling"])
    assert rita_client.call("login", {"id": rita})["code"] == "200"
    assert sam_client.call("login", {"id": sam})["code"] == "200"
    assert rita_client.next("presence", command="online", id=sam)
    assert sam_client.call("message", {"recepient": rita, "data": "from gunicorn"})["code"] == "200"
    assert rita_client.next("message")["data"] == "from gunicorn"
