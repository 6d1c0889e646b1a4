"""Prometheus metrics of one node at ``<URL_PREFIX>/metrics``, when CHATSERVER_METRICS is on.

Most numbers are read from the server's own state when Prometheus scrapes, so the hot path
pays nothing for them: sockets, users, rooms, deliveries, dropped clients, health. Only client
events (a counter and a histogram) and the store's batched writes are counted as they happen.
Each app has a registry of its own, never prometheus_client's global one: tests make several
apps in one process, and a host app's own metrics stay apart.
"""

from __future__ import annotations

import bisect
import ipaddress
import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

logger = logging.getLogger(__name__)

# Handling an event: microseconds for a message, about 0.1 s for a password login (argon2id).
EVENT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# One transaction of batched messages: milliseconds on SQLite, more under load or over a network.
STORE_WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

blueprint = Blueprint("chatserver_metrics", __name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allowlist(value: str) -> list[Network]:
    """Parse CHATSERVER_METRICS_ALLOW: comma-separated addresses or CIDR networks."""
    try:
        return [ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(f"CHATSERVER_METRICS_ALLOW={value!r}: {exc}") from None


def allowed(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether a client address is in one of the allowed networks."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # a dual-stack listener reports 127.0.0.1 as ::ffff:127.0.0.1
    return any(ip in network for network in networks)


class PlainHistogram:
    """A histogram one thread writes without a lock, read when scraped.

    The store's worker is a real OS thread, while under eventlet prometheus_client's locks are
    green ones (it imports ``threading`` after the monkey-patching): taking one there could try
    to switch green threads on the wrong OS thread. One writer needs no lock; a scrape may see a
    write half done, which the next scrape corrects.
    """

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        """Count one observation (from the one writing thread)."""
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.sum += seconds

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        """The histogram as Prometheus reads it: cumulative buckets."""
        cumulative, total = [], 0
        for bound, count in zip((*map(str, self.buckets), "+Inf"), list(self.counts), strict=True):
            total += count
            cumulative.append((bound, total))
        return HistogramMetricFamily(name, documentation, buckets=cumulative, sum_value=self.sum)


class Metrics:
    """One node's metrics: the counted ones here, the rest read from ``state`` at each scrape."""

    def __init__(self, allow: str) -> None:
        self.allow = parse_allowlist(allow)
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter("chatserver_events", "Client events handled, by event and response code.",
                              ["event", "code"], registry=self.registry)
        self.event_seconds = Histogram("chatserver_event_seconds", "Seconds the chat took to decide a client event.",
                                       ["event"], buckets=EVENT_BUCKETS, registry=self.registry)
        self.store_writes = PlainHistogram(STORE_WRITE_BUCKETS)
        self.state: Any = None  # the ChatState, once init_app has built it
        self.registry.register(self)

    def observe_event(self, event: str, code: str, seconds: float) -> None:
        """Count one client event (ChatNamespace calls this)."""
        self.events.labels(event, code).inc()
        self.event_seconds.labels(event).observe(seconds)

    def describe(self) -> list:
        """Nothing to describe ahead: the numbers are read at scrape time."""
        return []

    def collect(self) -> Iterable[Metric]:
        """Read the node's state now (the registry calls this at each scrape)."""
        state = self.state
        if state is None:
            return
        manager = state.socketio.server.manager
        connected = manager.rooms.get(state.namespace.namespace, {}).get(None, {})
        yield _gauge("chatserver_sockets", "Socket.IO connections on this node.", len(connected))
        yield _gauge("chatserver_users_online", "Users logged in (in a cluster: on every node).",
                     len(state.service.presence.users()))
        rooms = _rooms(state.service)
        if rooms is not None:
            yield _gauge("chatserver_rooms", "Chat rooms (of the whole chat).", rooms)
        if hasattr(manager, "deliveries"):
            yield _counter("chatserver_deliveries", "Packets handed to sockets (one emit to N sockets is N).",
                           manager.deliveries)
            yield _counter("chatserver_delivered_characters",
                           "Characters of the packets handed to sockets: about the bytes sent, before framing.",
                           manager.characters_out)
        guard = getattr(state.admission, "slow_consumer_guard", None)
        if guard is not None:
            yield _counter("chatserver_slow_consumers_dropped", "Clients dropped for not reading what was sent.",
                           guard.dropped)
        yield self.store_writes.family("chatserver_store_write_seconds",
                                       "Seconds of each batched write of messages to the database.")
        yield _gauge("chatserver_database_up", "1 if the database answered a ping just now.",
                     _up(state.store.ping))
        if state.cluster is not None:
            cluster = state.cluster
            yield _gauge("chatserver_redis_up", "1 if Redis carries events and presence right now.",
                         int(bool(cluster.queue.receiving) and cluster.presence.reachable()))
        # Connection-state recovery hits and misses go here once recovery is built: read from its
        # own plain counters, like the deliveries above.


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _rooms(service: Any) -> int | None:
    """How many rooms there are; None without rooms or when the database cannot say (database_up tells)."""
    if service.rooms is None:
        return None
    try:
        return len(service.rooms.all())
    except Exception:
        return None


def _up(ping: Callable[[], Any]) -> int:
    try:
        ping()
    except Exception as exc:
        logger.warning("metrics: database ping failed: %s", exc)
        return 0
    return 1


@blueprint.get("/metrics")
def scrape() -> Response:
    """The Prometheus text exposition of this node, for allowed addresses only."""
    metrics: Metrics = current_app.extensions["chatserver"].metrics
    # REMOTE_ADDR: behind a proxy that is the proxy's address, so allow it only if the proxy itself restricts /metrics.
    if not allowed(request.remote_addr, metrics.allow):
        abort(403)
    return Response(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)
