"""GET /metrics of a real server under load: the numbers equal what real clients did; off is 404, a stranger 403."""

from __future__ import annotations

import collections
import json
import queue
import threading
import time
import urllib.error
import urllib.request

import pytest
from e2e_support import new_id
from prometheus_client.parser import text_string_to_metric_families

from support import RecordingClient, ServerProcess

# A burst of 5 events per socket, then 1 a second: the flooder meets the limit, the others do not.
# One failed login per id a minute: the second is refused as too many.
METERED = {"CHATSERVER_METRICS": "on", "CHATSERVER_RATE_LIMIT_BURST": "5", "CHATSERVER_RATE_LIMIT_PER_SECOND": "1",
           "CHATSERVER_LOGIN_FAILURES_PER_ID": "1"}
LOAD_CLIENTS = 10
LOAD_MESSAGES = 4  # each, to ALL, after the login: within the burst


def scrape(server: ServerProcess) -> dict[str, list]:
    """Every sample of the server's /metrics, by sample name, as (labels, value) pairs."""
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = collections.defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name].append((sample.labels, sample.value))
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    """The one sample of ``name`` with exactly ``labels``."""
    [found] = [v for sample_labels, v in samples[name] if sample_labels == labels]
    return found


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def packet_bytes(event: str, payload) -> int:
    """The Engine.IO packet the server sent for one received event: ``4``, then ``2`` and the JSON (UTF-8 text)."""
    return len(("42" + json.dumps([event, payload], separators=(",", ":"), ensure_ascii=False)).encode())


class Tally:
    """What the test did: each acknowledgement's (event, code), and every event each client received."""

    def __init__(self) -> None:
        self.acks: collections.Counter = collections.Counter()
        self.received: list[tuple[str, object]] = []
        self.clients: list[RecordingClient] = []
        self._lock = threading.Lock()

    def connect(self, url: str) -> RecordingClient:
        client = RecordingClient(url)
        with self._lock:
            self.clients.append(client)
        return client

    def call(self, client: RecordingClient, event: str, data: dict | None = None) -> str:
        code = client.call(event, data)["code"]
        with self._lock:
            self.acks[event, code] += 1
        return code

    def collect(self) -> None:
        """Move what the clients received so far into ``received``."""
        for client in self.clients:
            while True:
                try:
                    self.received.append(client.events.get_nowait())
                except queue.Empty:
                    break


@pytest.fixture
def tally():
    tally = Tally()
    yield tally
    for client in tally.clients:
        client.close()


def test_the_numbers_are_what_the_clients_did(start_server, tally):
    server = start_server(**METERED)
    alice, bob, carol, mallory, flooder = (tally.connect(server.url) for _ in range(5))
    ids = {client: new_id(name) for client, name in
           ((alice, "alice"), (bob, "bob"), (carol, "carol"), (mallory, "mallory"), (flooder, "flooder"))}
    for client in (alice, bob, carol, flooder):
        assert tally.call(client, "login", {"id": ids[client]}) == "200"
    assert tally.call(mallory, "register", {"id": ids[mallory], "password": "correct horse battery"}) == "200"
    for expected in ("401", "429"):  # a wrong password, then one failure too many
        assert tally.call(mallory, "login", {"id": ids[mallory], "password": "wrong password"}) == expected
    for sender, to in ((alice, bob), (alice, carol), (bob, alice), (carol, alice)):
        assert tally.call(sender, "message", {"recepient": ids[to], "data": "hello 안녕"}) == "200"
    assert tally.call(bob, "message", {"recepient": "ALL", "data": "hello all"}) == "200"

    # Load: ten more users log in and message ALL at once while Prometheus scrapes.
    def load(number: int) -> None:
        client = tally.connect(server.url)
        assert tally.call(client, "login", {"id": new_id(f"load{number}")}) == "200"
        for _ in range(LOAD_MESSAGES):
            assert tally.call(client, "message", {"recepient": "ALL", "data": f"load {number}"}) == "200"

    workers = [threading.Thread(target=load, args=(number,)) for number in range(LOAD_CLIENTS)]
    for worker in workers:
        worker.start()
    during = scrape(server)
    for worker in workers:
        worker.join(30)
    assert value(during, "chatserver_database_up") == 1
    for _ in range(10):
        tally.call(flooder, "message", {"recepient": "ALL", "data": "flood"})
    assert tally.acks["message", "429"] >= 4, tally.acks

    # Deliveries are counted as they are handed to sockets: wait until the clients hold them all,
    # and the store has written the messages.
    deadline = time.monotonic() + 15
    while True:
        tally.collect()
        samples = scrape(server)
        settled = (value(samples, "chatserver_deliveries_total") == len(tally.received)
                   and value(samples, "chatserver_store_write_seconds_count") > 0)
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    assert value(samples, "chatserver_deliveries_total") == len(tally.received)
    # With recovery on every event carries its offset as a last argument: `,"<offset>"` more.
    offsets = sum(len(offset) + 3 for client in tally.clients for offset in client.offsets)
    assert value(samples, "chatserver_delivered_bytes_total") == sum(
        packet_bytes(*event) for event in tally.received) + offsets
    counted = {(labels["event"], labels["code"]): v for labels, v in samples["chatserver_events_total"]}
    assert counted == dict(tally.acks)
    timed = collections.Counter()
    for labels, count in samples["chatserver_event_seconds_count"]:
        timed[labels["event"]] += count
    acked = collections.Counter()
    for (event, _), count in tally.acks.items():
        acked[event] += count
    assert timed == acked
    assert value(samples, "chatserver_sockets") == 5 + LOAD_CLIENTS
    assert value(samples, "chatserver_users_logged_in") == 4 + LOAD_CLIENTS  # mallory was refused
    assert value(samples, "chatserver_login_failures_total", reason="credentials") == 1
    assert value(samples, "chatserver_login_failures_total", reason="too_many_failures") == 1
    assert value(samples, "chatserver_login_failures_total", reason="banned") == 0
    # Every 429 but mallory's came from the per-socket rate limit.
    assert value(samples, "chatserver_rate_limited_events_total") == sum(
        count for (_, code), count in tally.acks.items() if code == "429") - 1
    assert value(samples, "chatserver_rooms") == 0
    assert value(samples, "chatserver_database_up") == 1
    assert value(samples, "chatserver_store_write_seconds_count") > 0
    assert value(samples, "chatserver_slow_consumers_dropped_total") == 0
    assert "chatserver_redis_up" not in samples


def test_off_by_default(start_server):
    assert status_of(start_server().url + "/metrics") == 404


def test_refused_to_an_address_not_allowed(start_server):
    server = start_server(CHATSERVER_METRICS="on", CHATSERVER_METRICS_ALLOW="10.0.0.1")
    assert status_of(server.url + "/metrics") == 403
