"""Several nodes as one chat: a Socket.IO message queue on Redis plus the presence in Redis.

Imported only when ``CHATSERVER_MESSAGE_QUEUE`` is set, so a single node needs no redis package.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from socketio import PubSubManager

from ..transport.fanout import FanOutManager
from .presence import RedisPresence
from .recovery import RemoteRecovery

logger = logging.getLogger(__name__)

# Fail at once and let the callers decide: redis-py's default retries would hold a chat event
# (and every login behind ChatService's lock) for seconds while Redis is down.
FAIL_FAST = {"retry": Retry(NoBackoff(), 0), "socket_connect_timeout": 2.0, "socket_keepalive": True}
# Presence commands are short; a subscription waits for messages indefinitely, so only they time out.
COMMAND_TIMEOUT = 2.0
# After losing Redis the subscription is retried at most this far apart, so that cross-node
# delivery resumes within about a second of Redis being back (RedisManager backs off to 60 s).
RESUBSCRIBE_FIRST, RESUBSCRIBE_MAX = 0.2, 1.0


def redis_client(url: str, **options) -> Redis:
    """A Redis client for ``url`` that fails fast instead of retrying."""
    return Redis.from_url(url, **FAIL_FAST, **options)


# The room of node events: an emit to it is a message between nodes, and no socket is ever in it,
# so a node that does not know an event delivers it to no one.
NODE_ROOM = "chatserver:nodes"


class RedisQueue(PubSubManager, FanOutManager):
    """The Socket.IO message queue on Redis pub/sub, JSON on the wire (python-socketio's PubSubManager).

    Like python-socketio's RedisManager, but it subscribes again within a second of Redis coming
    back, and reports trouble: ``receiving`` is false while events from other nodes cannot
    arrive, and ``on_trouble`` is called when a publish fails or the subscription drops.
    """

    name = "chatserver-redis"

    def __init__(self, url: str, channel: str, on_trouble: Callable[[Exception], None] | None = None) -> None:
        super().__init__(channel=channel)
        self.url = url
        self.redis = redis_client(url, socket_timeout=COMMAND_TIMEOUT)
        self.on_trouble = on_trouble or (lambda exc: None)
        self.receiving = True
        # Node events by name: what this node does when another node calls ``to_other_nodes``.
        self.node_handlers: dict[str, Callable[[Any], None]] = {}
        # Ids of the emits this node publishes, so a recovery across nodes can tell one emit kept twice.
        self._message_numbers = itertools.count(1)

    def to_other_nodes(self, name: str, data: Any) -> None:
        """Run ``node_handlers[name](data)`` on every other node, in order with the emits around it."""
        self._publish({"method": "emit", "event": name, "data": data, "namespace": "/", "room": NODE_ROOM,
                       "skip_sid": None, "callback": None, "host_id": self.host_id})

    def _handle_emit(self, message: dict) -> None:
        if message.get("room") == NODE_ROOM:
            handler = self.node_handlers.get(message.get("event"))
            if handler is not None:
                handler(message.get("data"))
            return
        if self.recovery is None or message.get("callback") is not None or message.get("binary"):
            return super()._handle_emit(message)
        # PubSubManager.emit hands its own emits here before publishing the same dict: the id
        # stamped now travels with it, and recovery keeps it with the packet on every node.
        message_id = message.setdefault("mid", f"{self.host_id}:{next(self._message_numbers)}")
        data = message["data"]
        if isinstance(data, list):  # as PubSubManager._handle_emit: one argument, or several
            data = data[0] if len(data) == 1 else tuple(data)
        FanOutManager.emit(self, message["event"], data, namespace=message.get("namespace"), room=message.get("room"),
                           skip_sid=message.get("skip_sid"), message_id=message_id)
        return None

    def _publish(self, data: dict) -> None:
        try:
            self.redis.publish(self.channel, self.json.dumps(data))
        except RedisError as exc:
            # The emit already reached this node's sockets (PubSubManager handles it here first).
            logger.debug("publish failed: %s", exc)
            self.on_trouble(exc)

    def _listen(self) -> Iterator[bytes]:
        delay = RESUBSCRIBE_FIRST
        while True:
            pubsub = redis_client(self.url).pubsub()
            try:
                pubsub.subscribe(self.channel)
                for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        # Redis confirmed: from here on, nothing published is missed.
                        if not self.receiving:
                            logger.warning("message queue subscribed again")
                        self.receiving = True
                        delay = RESUBSCRIBE_FIRST
                    elif message["type"] == "message":
                        yield message["data"]
            except RedisError as exc:
                if self.receiving:
                    logger.error("message queue lost (%s): resubscribing every %s s at most", exc, RESUBSCRIBE_MAX)
                self.receiving = False
                self.on_trouble(exc)
            finally:
                pubsub.close()
            time.sleep(delay)
            delay = min(delay * 2, RESUBSCRIBE_MAX)


class Cluster:
    """The Redis parts of one node: the message queue for SocketIO and the shared presence."""

    def __init__(self, url: str, *, prefix: str = "chatserver", node_timeout: float = 30.0,
                 recovery_window: float = 0.0) -> None:
        self.presence = RedisPresence(redis_client(url, socket_timeout=COMMAND_TIMEOUT, decode_responses=True),
                                      prefix=prefix, timeout=node_timeout)
        # Whether a publish failed or the subscription dropped, events between nodes were lost:
        # the presence goes local-only until its next tick finds Redis and the subscription back.
        self.queue = RedisQueue(url, channel=f"{prefix}:socketio", on_trouble=self.presence.lost)
        self.presence.receiving = lambda: self.queue.receiving
        # Sessions kept on one node, restored on another (None with recovery off).
        self.recovery = RemoteRecovery(self.queue.redis, self.queue, prefix, recovery_window) if recovery_window > 0 \
            else None

    def start(self, spawn: Callable, sleep: Callable[[float], None], announce: Callable, rejoin: Callable) -> None:
        """Register this node and start its heartbeat; ``announce`` and ``rejoin`` emit what it finds."""
        self.presence.on_change = announce
        self.presence.on_rejoin = rejoin
        self.presence.start(spawn, sleep)
        logger.info("node %s joined the cluster (prefix %r, node timeout %.1f s)", self.presence.node_id,
                    self.presence.prefix, self.presence.interval + self.presence.ttl_ms / 1000)
