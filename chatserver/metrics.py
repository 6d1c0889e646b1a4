"""Prometheus metrics of one node at ``<URL_PREFIX>/metrics``, when CHATSERVER_METRICS is on.

Most numbers are read from the server's own state when Prometheus scrapes, so the hot path pays
nothing for them: sockets, users, rooms, deliveries, bytes, dropped clients, refusals, health.
Client events and the store's batched writes are counted as they happen, in plain integers
(prometheus_client's labelled ``Counter`` and ``Histogram`` cost 2-7 µs an event, this 0.7 µs;
a one-to-one message costs the server about 100 µs in all). The scrape turns them into
metric families. Each app has a registry of its own, never prometheus_client's global one:
tests make several apps in one process, and a host app's own metrics stay apart.
"""

from __future__ import annotations

import bisect
import ipaddress
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from .proxies import Network, networks

logger = logging.getLogger(__name__)

# Handling an event: tens of microseconds for a message, about 0.1 s for a password login
# (argon2id), milliseconds for a broadcast to thousands.
EVENT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# One transaction of batched messages: milliseconds on SQLite, more under load or over a network.
STORE_WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# How long a scrape waits for the database's answer: the store's one worker may be busy with a
# long write, and a scrape that hangs is a scrape Prometheus times out on.
PING_TIMEOUT = 1.0

blueprint = Blueprint("chatserver_metrics", __name__)


def allowed(address: str | None, allow: Iterable[Network]) -> bool:
    """Whether a client address is in one of the allowed networks."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # a dual-stack listener reports 127.0.0.1 as ::ffff:127.0.0.1
    return any(ip in network for network in allow)


class PlainHistogram:
    """A histogram in plain integers, turned into Prometheus's cumulative buckets when scraped.

    Its writers take no lock of prometheus_client's: the store's worker is a real OS thread,
    while under eventlet those locks are green ones, which must not be taken from another OS
    thread. With one writer, or writers serialised by the caller, none is needed; a scrape may
    see one observation half counted, which the next scrape corrects.
    """

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        """Count one observation."""
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """``(upper bound, observations at most that)`` pairs, ``+Inf`` last, as Prometheus wants them."""
        pairs, total = [], 0
        for bound, count in zip((*map(str, self.buckets), "+Inf"), list(self.counts), strict=True):
            total += count
            pairs.append((bound, total))
        return pairs


class EventCounts:
    """Client events by name and response code, with a histogram of their handling time per name."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self.seconds: dict[str, PlainHistogram] = {}
        # Green under eventlet (one OS thread, so uncontended), real in the threading mode.
        self._lock = threading.Lock()

    def observe(self, event: str, code: str, seconds: float) -> None:
        """Count one event (ChatNamespace calls this after carrying it out)."""
        key = (event, code)
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            histogram = self.seconds.get(event)
            if histogram is None:
                histogram = self.seconds[event] = PlainHistogram(EVENT_BUCKETS)
            histogram.observe(seconds)

    def families(self) -> Iterator[Metric]:
        """The counter and the histogram, as they stand now."""
        events = CounterMetricFamily("chatserver_events", "Client events handled, by event and response code.",
                                     labels=["event", "code"])
        seconds = HistogramMetricFamily("chatserver_event_seconds",
                                        "Seconds to handle a client event: decide it and hand its packets to sockets.",
                                        labels=["event"])
        with self._lock:
            for (event, code), count in sorted(self.counts.items()):
                events.add_metric([event, code], count)
            for event, histogram in sorted(self.seconds.items()):
                seconds.add_metric([event], histogram.cumulative(), histogram.sum)
        yield events
        yield seconds


class Metrics:
    """One node's metrics: a collector that reads ``state`` at each scrape, plus what is counted as it happens."""

    def __init__(self, allow: str) -> None:
        try:
            self.allow = networks(allow)
        except ValueError as exc:
            raise ValueError(f"CHATSERVER_METRICS_ALLOW={allow!r}: {exc}") from None
        self.events = EventCounts()
        self.store_writes = PlainHistogram(STORE_WRITE_BUCKETS)
        self.state: Any = None  # the ChatState, once init_app has built it
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self)

    def describe(self) -> list:
        """Nothing to describe ahead: the numbers are read at scrape time."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Read the node's state now (the registry calls this at each scrape)."""
        state = self.state
        if state is None:
            return
        service = state.service
        manager = state.socketio.server.manager
        connected = manager.rooms.get(state.namespace.namespace, {}).get(None, {})
        yield _gauge("chatserver_sockets", "Socket.IO connections on this node.", len(connected))
        yield _gauge("chatserver_users_logged_in", "Users with a socket logged in on this node.",
                     service.presence.count_users_here())
        yield from self.events.families()
        yield _counter("chatserver_rate_limited_events",
                       "Client events refused with 429 by the per-socket rate limit.", service.rate_limited)
        failures = CounterMetricFamily("chatserver_login_failures", "Refused logins, by reason.", labels=["reason"])
        for reason, count in sorted(service.accounts.refusals.items()):
            failures.add_metric([reason], count)
        yield failures
        if hasattr(manager, "deliveries"):  # our FanOutManager; a host app's own SocketIO may bring another
            yield _counter("chatserver_deliveries", "Events handed to sockets (one emit to N sockets is N).",
                           manager.deliveries)
            yield _counter("chatserver_delivered_bytes",
                           "Bytes of the Engine.IO packets handed to sockets, before WebSocket or polling framing.",
                           manager.bytes_out)
        guard = getattr(state.admission, "slow_consumer_guard", None)
        if guard is not None:
            yield _counter("chatserver_slow_consumers_dropped", "Clients dropped for not reading what was sent.",
                           guard.dropped)
        writes = HistogramMetricFamily("chatserver_store_write_seconds",
                                       "Seconds of each batched write of messages to the database.")
        writes.add_metric([], self.store_writes.cumulative(), self.store_writes.sum)
        yield writes
        database_up = _database_up(state.store)
        yield _gauge("chatserver_database_up", f"1 if the database answered a ping within {PING_TIMEOUT} s.",
                     database_up)
        if database_up and service.rooms is not None:
            # After the ping: a database that does not answer would hold the scrape here.
            rooms = _rooms(service.rooms)
            if rooms is not None:
                yield _gauge("chatserver_rooms", "Chat rooms (of the whole chat).", rooms)
        if state.cluster is not None:
            cluster = state.cluster
            yield _gauge("chatserver_redis_up", "1 if Redis carries events and presence right now.",
                         int(bool(cluster.queue.receiving) and cluster.presence.reachable()))
        recovery = getattr(manager, "recovery", None)
        if recovery is not None:
            yield _counter("chatserver_recovery_restored", "Dropped sessions restored by connection state recovery.",
                           recovery.recovered_count)
            yield _counter("chatserver_recovery_missed",
                           "Reconnects with a session id that could not be restored (expired, too old, its node gone).",
                           recovery.missed_count)
            yield _gauge("chatserver_recovery_sessions", "Dropped sessions kept for recovery on this node.",
                         len(recovery.sessions))
            yield _gauge("chatserver_recovery_buffer_bytes", "Bytes of recent events kept for recovery on this node.",
                         recovery.log.bytes)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _rooms(rooms: Any) -> int | None:
    """How many rooms there are; None when the database fails to say."""
    try:
        return rooms.count()
    except Exception as exc:
        logger.warning("metrics: counting rooms failed: %s", exc)
        return None


def _database_up(store: Any) -> int:
    """1 if the store answers a ping within PING_TIMEOUT; waits on the store's own thread, not the event loop."""
    try:
        store.ping(timeout=PING_TIMEOUT)
    except Exception as exc:
        logger.warning("metrics: database ping failed: %s", exc)
        return 0
    return 1


@blueprint.get("/metrics")
def scrape() -> Response:
    """The metrics of this node, for allowed addresses only: Prometheus text, or OpenMetrics when asked."""
    metrics: Metrics = current_app.extensions["chatserver"].metrics
    # The peer's address, or the client's behind a proxy named in CHATSERVER_TRUSTED_PROXIES.
    if not allowed(request.remote_addr, metrics.allow):
        abort(403)
    # As prometheus_client's own WSGI app does: the format the scraper's Accept header names.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(metrics.registry), content_type=content_type)
