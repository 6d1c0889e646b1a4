"""chatserver.metrics in one process: what a scrape reports after test clients act, and who may scrape."""

from __future__ import annotations

import dataclasses
import json
import time
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatserver import create_app
from chatserver.events import ROOM_LIST_INTERVAL
from chatserver.metrics import EVENT_BUCKETS, EventCounts, PlainHistogram
from chatserver.store import StoreUnavailable


def metered_app(tmp_path, **settings):
    return create_app({
        "TESTING": True,
        "CHATSERVER_METRICS": True,
        "CHATSERVER_RATE_LIMIT_PER_SECOND": 0,
        "CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.sqlite3'}",
        **settings,
    })


@pytest.fixture
def app(tmp_path):
    """An app with metrics on; a burst of 3 events per socket, refilled at 1 a second.

    Recovery off: Flask-SocketIO's test client hands a `message` event's first argument only, so
    the offset recovery appends to it could not be counted in the bytes (tests/e2e/test_metrics.py
    counts them, with recovery on).
    """
    app = metered_app(tmp_path, CHATSERVER_RATE_LIMIT_PER_SECOND=1, CHATSERVER_RATE_LIMIT_BURST=3,
                      CHATSERVER_RECOVERY_WINDOW=0)
    yield app
    app.extensions["chatserver"].store.close()


def scrape(app, address: str = "127.0.0.1") -> dict[str, list]:
    """Every sample of /metrics as seen from ``address``, by sample name, as (labels, value) pairs."""
    response = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200, response.status_code
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    """The one sample of ``name`` with exactly ``labels``."""
    [found] = [v for sample_labels, v in samples[name] if sample_labels == labels]
    return found


def received(test_client) -> list[tuple[str, list]]:
    """(name, arguments) of each event ``test_client`` received; the test client gives some arguments unlisted."""
    return [(event["name"], event["args"] if isinstance(event["args"], list) else [event["args"]])
            for event in test_client.get_received()]


def packet_bytes(name: str, args: list) -> int:
    """The Engine.IO packet the server sent for one received event: ``4``, then ``2`` and the JSON."""
    return len(("42" + json.dumps([name, *args], separators=(",", ":"), ensure_ascii=False)).encode())


@pytest.fixture
def connect(connect):
    """conftest's ``connect``, whose clients leave in time for the room-list push they cause to run before
    the store closes (guests leaving change the rooms' member counts)."""
    clients = []

    def connect_and_keep(**kwargs):
        clients.append(connect(**kwargs))
        return clients[-1]

    yield connect_and_keep
    for test_client in clients:
        if test_client.is_connected():
            test_client.disconnect()
    time.sleep(ROOM_LIST_INTERVAL + 0.2)


def test_a_scrape_reports_what_the_clients_did(app, connect):
    alice, alice_phone, bob, mallory, flooder = (connect() for _ in range(5))
    got = []

    def call(test_client, event, data):
        return test_client.emit(event, data, callback=True)["code"]

    assert call(alice, "login", {"id": "alice"}) == "200"
    assert call(alice_phone, "login", {"id": "alice"}) == "200"
    assert call(bob, "login", {"id": "bob"}) == "200"
    assert call(mallory, "register", {"id": "mallory", "password": "correct horse"}) == "200"
    assert call(mallory, "login", {"id": "mallory", "password": "wrong horse"}) == "401"
    assert call(mallory, "no-such-event", {}) == "400"
    assert call(bob, "room", {"command": "create", "roomId": "lobby"}) == "200"
    assert call(alice, "message", {"recepient": "bob", "data": "hi bob"}) == "200"
    assert call(alice, "message", {"recepient": "ALL", "data": "hello, 안녕"}) == "200"
    assert call(flooder, "login", {"id": "flo"}) == "200"
    codes = [call(flooder, "message", {"recepient": "ALL", "data": "flood"}) for _ in range(4)]
    assert codes[:2] == ["200", "200"] and codes[3] == "429"
    for test_client in (alice, alice_phone, bob, mallory, flooder):
        got += received(test_client)
    app.extensions["chatserver"].store.flush()

    samples = scrape(app)
    assert value(samples, "chatserver_sockets") == 5
    assert value(samples, "chatserver_users_logged_in") == 3  # alice on two sockets counts once
    assert value(samples, "chatserver_rooms") == 1
    events = {(labels["event"], labels["code"]): v for labels, v in samples["chatserver_events_total"]}
    assert events == {("login", "200"): 4, ("login", "401"): 1, ("register", "200"): 1, ("room", "200"): 1,
                      ("message", "200"): 2 + codes.count("200"), ("message", "429"): codes.count("429"),
                      ("unknown", "400"): 1}
    timed = {labels["event"]: v for labels, v in samples["chatserver_event_seconds_count"]}
    assert timed == {"login": 5, "register": 1, "room": 1, "message": 6, "unknown": 1}
    assert value(samples, "chatserver_event_seconds_bucket", event="login", le="+Inf") == 5
    assert value(samples, "chatserver_rate_limited_events_total") == codes.count("429")
    assert value(samples, "chatserver_login_failures_total", reason="credentials") == 1
    assert value(samples, "chatserver_login_failures_total", reason="banned") == 0
    assert value(samples, "chatserver_login_failures_total", reason="too_many_failures") == 0
    # Every event a client received is one delivery, acknowledgements aside; ALL reached all five.
    assert value(samples, "chatserver_deliveries_total") == len(got)
    assert value(samples, "chatserver_delivered_bytes_total") == sum(packet_bytes(*event) for event in got)
    assert value(samples, "chatserver_slow_consumers_dropped_total") == 0
    assert value(samples, "chatserver_store_write_seconds_count") >= 1
    assert value(samples, "chatserver_database_up") == 1
    assert "chatserver_redis_up" not in samples  # one process: no Redis


def test_too_many_failed_logins_are_counted_apart_from_the_event_rate(tmp_path, connect):
    app = metered_app(tmp_path, CHATSERVER_LOGIN_FAILURES_PER_ID=1)
    try:
        test_client = app.extensions["chatserver"].socketio.test_client(app)
        test_client.emit("register", {"id": "mallory", "password": "correct horse"}, callback=True)
        for expected in ("401", "429"):
            reply = test_client.emit("login", {"id": "mallory", "password": "wrong horse"}, callback=True)
            assert reply["code"] == expected
        samples = scrape(app)
        assert value(samples, "chatserver_login_failures_total", reason="credentials") == 1
        assert value(samples, "chatserver_login_failures_total", reason="too_many_failures") == 1
        assert value(samples, "chatserver_rate_limited_events_total") == 0
        test_client.disconnect()
    finally:
        app.extensions["chatserver"].store.close()


def test_an_address_outside_the_allowlist_is_refused(tmp_path):
    app = metered_app(tmp_path, CHATSERVER_METRICS_ALLOW="10.0.0.0/8, 2001:db8::1")
    try:
        http = app.test_client()
        assert http.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 403
        assert http.get("/metrics", environ_base={"REMOTE_ADDR": "not an address"}).status_code == 403
        for address in ("10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1"):
            assert http.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 200, address
    finally:
        app.extensions["chatserver"].store.close()


def test_the_default_allows_loopback_only(app):
    http = app.test_client()
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert http.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 200, address
    assert http.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403


def test_behind_a_trusted_proxy_the_client_address_decides(tmp_path):
    app = metered_app(tmp_path, CHATSERVER_TRUSTED_PROXIES="127.0.0.1")
    try:
        http = app.test_client()
        outside = http.get("/metrics", headers={"X-Forwarded-For": "192.0.2.7"})
        assert outside.status_code == 403
        assert http.get("/metrics").status_code == 200
    finally:
        app.extensions["chatserver"].store.close()


def test_a_malformed_allowlist_stops_the_start_naming_the_setting(tmp_path):
    with pytest.raises(ValueError, match="CHATSERVER_METRICS_ALLOW"):
        metered_app(tmp_path, CHATSERVER_METRICS_ALLOW="10.0.0.5/8")


def test_off_the_route_does_not_exist(tmp_path):
    app = metered_app(tmp_path, CHATSERVER_METRICS=False)
    try:
        assert app.extensions["chatserver"].metrics is None
        assert app.test_client().get("/metrics").status_code == 404
    finally:
        app.extensions["chatserver"].store.close()


def test_openmetrics_when_the_scraper_asks_for_it(app):
    response = app.test_client().get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.content_type.startswith("application/openmetrics-text; version=1.0.0")
    text = response.get_data(as_text=True)
    assert "# TYPE chatserver_sockets gauge" in text and text.endswith("# EOF\n")


def test_under_a_url_prefix(tmp_path):
    app = metered_app(tmp_path, CHATSERVER_URL_PREFIX="/chat")
    try:
        assert app.test_client().get("/chat/metrics").status_code == 200
        assert app.test_client().get("/metrics").status_code == 404
    finally:
        app.extensions["chatserver"].store.close()


def test_two_apps_in_one_process_count_apart(app, tmp_path):
    (tmp_path / "other").mkdir()
    other = metered_app(tmp_path / "other")
    try:
        test_client = app.extensions["chatserver"].socketio.test_client(app)
        test_client.emit("login", {"id": "alice"}, callback=True)
        assert value(scrape(app), "chatserver_users_logged_in") == 1
        assert value(scrape(other), "chatserver_users_logged_in") == 0
        assert "chatserver_events_total" not in scrape(other)
        test_client.disconnect()
    finally:
        other.extensions["chatserver"].store.close()


def test_a_database_that_does_not_answer_is_down_and_its_rooms_not_asked(app, monkeypatch):
    store = app.extensions["chatserver"].store
    asked = []

    def ping(timeout=None):
        asked.append(timeout)
        raise StoreUnavailable(f"no answer within {timeout} s")

    monkeypatch.setattr(store, "ping", ping)
    monkeypatch.setattr(store, "rooms", lambda: pytest.fail("rooms read while the database is down"))
    samples = scrape(app)
    assert value(samples, "chatserver_database_up") == 0
    assert "chatserver_rooms" not in samples
    assert asked == [1.0]


def test_redis_is_up_only_while_events_arrive_and_presence_answers(app):
    state = app.extensions["chatserver"]
    metrics = state.metrics
    for receiving, reachable, up in ((True, True, 1), (False, True, 0), (True, False, 0)):
        cluster = SimpleNamespace(queue=SimpleNamespace(receiving=receiving),
                                  presence=SimpleNamespace(reachable=lambda reachable=reachable: reachable))
        metrics.state = dataclasses.replace(state, cluster=cluster)
        assert value(scrape(app), "chatserver_redis_up") == up
    metrics.state = state


def test_a_plain_histogram_has_cumulative_buckets_and_a_sum():
    histogram = PlainHistogram((0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(seconds)
    assert histogram.cumulative() == [("0.1", 2), ("1.0", 3), ("+Inf", 4)]
    assert histogram.sum == pytest.approx(3.65)


def test_event_counts_give_one_series_per_event_and_code():
    counts = EventCounts()
    counts.observe("message", "200", 0.00002)
    counts.observe("message", "200", 0.3)
    counts.observe("message", "429", 0.00001)
    events, seconds = counts.families()
    assert {(s.labels["code"], s.value) for s in events.samples if s.name == "chatserver_events_total"} == {
        ("200", 2), ("429", 1)}
    buckets = [(s.labels["le"], s.value) for s in seconds.samples if s.name == "chatserver_event_seconds_bucket"]
    assert buckets[0] == (str(EVENT_BUCKETS[0]), 2) and buckets[-1] == ("+Inf", 3)
