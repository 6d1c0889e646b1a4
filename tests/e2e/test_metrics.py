"""GET /metrics of a real server: the numbers equal what real clients did; off is 404, a stranger 403."""

from __future__ import annotations

import collections
import time
import urllib.error
import urllib.request

import pytest
from e2e_support import new_id
from prometheus_client.parser import text_string_to_metric_families

from support import RecordingClient, ServerProcess, chatserver_command, free_port


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


def start(tmp_path, **settings: str) -> ServerProcess:
    port = free_port()
    env = {"CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", **settings}
    return ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path).start()


@pytest.fixture
def metered(tmp_path):
    """A server with metrics on and a rate limit a test can pass: 5 events at once, then 1 a second."""
    server = start(tmp_path, CHATSERVER_METRICS="on", CHATSERVER_RATE_LIMIT_BURST="5",
                   CHATSERVER_RATE_LIMIT_PER_SECOND="1")
    yield server
    server.stop()


def test_the_numbers_are_what_the_clients_did(metered):
    done: collections.Counter = collections.Counter()  # (event, code) of every acknowledgement received
    clients = []

    def connect() -> RecordingClient:
        clients.append(RecordingClient(metered.url))
        return clients[-1]

    def call(client: RecordingClient, event: str, data: dict | None = None) -> str:
        code = client.call(event, data)["code"]
        done[event, code] += 1
        return code

    try:
        # Each socket stays within its burst of 5, except the flooder at the end.
        alice, bob, carol, mallory, flooder = (connect() for _ in range(5))
        ids = {client: new_id(name) for client, name in
               ((alice, "alice"), (bob, "bob"), (carol, "carol"), (mallory, "mallory"))}
        for client in (alice, bob, carol):
            assert call(client, "login", {"id": ids[client]}) == "200"
        assert call(mallory, "register", {"id": ids[mallory], "password": "correct horse battery"}) == "200"
        assert call(mallory, "login", {"id": ids[mallory], "password": "wrong password"}) == "401"
        for sender, to in ((alice, bob), (alice, carol), (bob, alice), (bob, carol), (carol, alice)):
            assert call(sender, "message", {"recepient": ids[to], "data": "hello"}) == "200"
        for sender in (alice, bob):
            assert call(sender, "message", {"recepient": "ALL", "data": "hello all"}) == "200"
        for _ in range(10):
            call(flooder, "message", {"recepient": "ALL", "data": "flood"})
        assert done["message", "429"] >= 4, done

        deadline = time.monotonic() + 10
        samples = scrape(metered)
        while value(samples, "chatserver_store_write_seconds_count") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)  # the store writes delivered messages a few milliseconds behind
            samples = scrape(metered)

        counted = {(labels["event"], labels["code"]): v for labels, v in samples["chatserver_events_total"]}
        assert counted == dict(done)
        timed = {labels["event"]: v for labels, v in samples["chatserver_event_seconds_count"]}
        assert timed == {"login": 4, "register": 1, "message": 17}
        assert value(samples, "chatserver_sockets") == 5
        assert value(samples, "chatserver_users_online") == 3  # mallory was refused; the flooder never logged in
        assert value(samples, "chatserver_rooms") == 0
        assert value(samples, "chatserver_database_up") == 1
        assert value(samples, "chatserver_store_write_seconds_count") > 0
        assert value(samples, "chatserver_slow_consumers_dropped_total") == 0
        # At least each one-to-one message to its recipient and each message to ALL to the 3 logged in.
        deliveries = value(samples, "chatserver_deliveries_total")
        assert deliveries >= 5 + 2 * 3
        assert value(samples, "chatserver_delivered_characters_total") > deliveries * 10
    finally:
        for client in clients:
            client.close()


def test_off_by_default(tmp_path):
    server = start(tmp_path)
    try:
        assert status_of(server.url + "/metrics") == 404
    finally:
        server.stop()


def test_refused_to_an_address_not_allowed(tmp_path):
    server = start(tmp_path, CHATSERVER_METRICS="on", CHATSERVER_METRICS_ALLOW="10.0.0.1")
    try:
        assert status_of(server.url + "/metrics") == 403
    finally:
        server.stop()
