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
from ..transport.holds import RoomHolds
from .presence import RedisPresence
from .recovery import RemoteRecovery
from .routes import Routes

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

    Like python-socketio's RedisManager, but an emit to rooms goes only to the nodes that hold
    them (routes.py), it subscribes again within a second of Redis coming back, and it reports
    trouble: ``receiving`` is false while events from other nodes cannot arrive, and
    ``on_trouble`` is called when a publish fails or the subscription drops.
    """

    name = "chatserver-redis"

    def __init__(self, url: str, prefix: str, node_id: str,
                 on_trouble: Callable[[Exception], None] | None = None) -> None:
        super().__init__(channel=f"{prefix}:socketio")
        # One id per node for the presence, the routes and python-socketio's own (skipping its echoes).
        self.host_id = node_id
        self.url = url
        self.redis = redis_client(url, socket_timeout=COMMAND_TIMEOUT)
        self.on_trouble = on_trouble or (lambda exc: None)
        self.routes = Routes(self.redis, prefix, node_id, self.channel, lambda exc: self.on_trouble(exc))
        self.holds = RoomHolds(self.routes.changed)
        self.receiving = True
        # Node events by name: what this node does when another node calls ``to_other_nodes``.
        self.node_handlers: dict[str, Callable[[Any], None]] = {}
        # Ids of the emits this node publishes, so a recovery across nodes can tell one emit kept twice.
        self._message_numbers = itertools.count(1)

    def to_other_nodes(self, name: str, data: Any) -> None:
        """Run ``node_handlers[name](data)`` on every other node, in order with the emits around it.

        Every node gets node events, on the shared channel: an emit a node sends after one reaches
        each node after it (one subscription carries both channels, in the order Redis got them).
        """
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

    def lend_like(self, of_room: str, room: str) -> None:
        """The nodes holding ``of_room`` are about to join ``room``: send them its emits meanwhile."""
        self.routes.lend_like(of_room, room)

    def _publish(self, data: dict) -> None:
        room = data.get("room")
        try:
            # An emit to rooms goes where they are held; everything else (to everyone, node events,
            # python-socketio's own requests to a sid, callbacks) to every node.
            if data.get("method") == "emit" and room is not None and room != NODE_ROOM:
                self.routes.publish(room if isinstance(room, list) else [room], self.json.dumps(data))
            else:
                self.routes.publish_all(self.json.dumps(data))
        except RedisError as exc:
            # The emit already reached this node's sockets (PubSubManager handles it here first).
            logger.debug("publish failed: %s", exc)
            self.on_trouble(exc)

    def _listen(self) -> Iterator[bytes]:
        delay = RESUBSCRIBE_FIRST
        while True:
            pubsub = redis_client(self.url).pubsub()
            try:
                # One connection for both: what one node publishes arrives in the order it was sent.
                pubsub.subscribe(self.channel, self.routes.node_channel)
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
        self.queue = RedisQueue(url, prefix, self.presence.node_id, on_trouble=self.presence.lost)
        self.presence.receiving = lambda: self.queue.receiving
        # When the tick registers this node's sockets again, its rooms go first: routes before presence.
        self.presence.on_register = lambda: self.queue.routes.resync(self.queue.holds.rooms())
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
