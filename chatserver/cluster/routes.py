"""Which nodes get an emit to a room: every node publishes its held rooms to Redis, and Redis routes.

Keys, under the prefix ``P`` (the presence's):

=============================  ======  ============================================================
``P:route:ROOM``               hash    node -> 1, the nodes that hold ROOM (transport/holds.py)
``P:lent:ROOM``                hash    node -> 1, nodes about to hold ROOM; the key expires
``P:node:ID:rooms``            set     the rooms node ID holds, so a dead node's routes can go
=============================  ======  ============================================================

Each node listens on the shared channel ``P:socketio`` and on its own, ``P:socketio:ID``. An
emit to rooms is one script: Redis reads the rooms' routes and publishes the message on the
channel of each node in them but the sender, or on the shared channel when no node holds one
of the rooms (a login whose room is not registered yet: more nodes, never fewer). The sender
never asks which nodes hold a room, so its view cannot be stale; a node registers a room before
the call that put a socket in it returns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# A node that is told to join a room (a ``move`` between nodes) registers it when it handles
# the move; until then, the node that sent the move lends it the room's emits, for this long.
LEND_SECONDS = 10.0

_PRELUDE = """
local prefix = ARGV[1]
local function route(room) return prefix .. ':route:' .. room end
local function lent(room) return prefix .. ':lent:' .. room end
local function rooms_of(node) return prefix .. ':node:' .. node .. ':rooms' end
"""

# ARGV: prefix, node, 1 (hold) or 0 (release), rooms...
_HOLD = _PRELUDE + """
local node, index = ARGV[2], rooms_of(ARGV[2])
for i = 4, #ARGV do
  if ARGV[3] == '1' then
    redis.call('HSET', route(ARGV[i]), node, 1)
    redis.call('SADD', index, ARGV[i])
  else
    redis.call('HDEL', route(ARGV[i]), node)
    redis.call('SREM', index, ARGV[i])
  end
end
"""

# ARGV: prefix, node, rooms...: make Redis hold exactly these rooms for the node (after an outage).
_RESYNC = _PRELUDE + """
local node, index = ARGV[2], rooms_of(ARGV[2])
for _, room in ipairs(redis.call('SMEMBERS', index)) do redis.call('HDEL', route(room), node) end
redis.call('DEL', index)
for i = 3, #ARGV do
  redis.call('HSET', route(ARGV[i]), node, 1)
  redis.call('SADD', index, ARGV[i])
end
"""

# ARGV: prefix, the sending node, the shared channel, the message, rooms...
# -> how many nodes it was published to, or -1 when it went on the shared channel.
_PUBLISH = _PRELUDE + """
-- Redis restarted empty and the nodes are registering their rooms again: to every node meanwhile.
if redis.call('EXISTS', prefix .. ':settling') == 1 then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return -1
end
local sender, nodes = ARGV[2], {}
for i = 5, #ARGV do
  local found = false
  for _, key in ipairs({route(ARGV[i]), lent(ARGV[i])}) do
    for _, node in ipairs(redis.call('HKEYS', key)) do
      found = true
      nodes[node] = true
    end
  end
  -- A room no node holds (a login not registered yet): to every node, in case.
  if not found then
    redis.call('PUBLISH', ARGV[3], ARGV[4])
    return -1
  end
end
local count = 0
for node in pairs(nodes) do
  if node ~= sender then
    redis.call('PUBLISH', ARGV[3] .. ':' .. node, ARGV[4])
    count = count + 1
  end
end
return count
"""

# ARGV: prefix, milliseconds, room, then either 'of' and a room whose nodes get it, or 'to' and nodes.
_LEND = _PRELUDE + """
local key, nodes = lent(ARGV[3]), {}
if ARGV[4] == 'of' then
  nodes = redis.call('HKEYS', route(ARGV[5]))
  for _, node in ipairs(redis.call('HKEYS', lent(ARGV[5]))) do table.insert(nodes, node) end
else
  for i = 5, #ARGV do table.insert(nodes, ARGV[i]) end
end
for _, node in ipairs(nodes) do redis.call('HSET', key, node, 1) end
if #nodes > 0 then redis.call('PEXPIRE', key, ARGV[2]) end
"""

# Used by the presence's reaper (presence.py): forget the routes of a dead node.
FORGET_NODE = """
local function forget_routes(node)
  local index = prefix .. ':node:' .. node .. ':rooms'
  for _, room in ipairs(redis.call('SMEMBERS', index)) do redis.call('HDEL', prefix .. ':route:' .. room, node) end
  redis.call('DEL', index)
end
"""


class Routes:
    """This node's side of the routes: register the rooms it holds, publish emits to the nodes that hold theirs."""

    def __init__(self, redis: Redis, prefix: str, node_id: str, channel: str,
                 on_trouble: Callable[[Exception], None]) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id
        self.channel = channel
        self.on_trouble = on_trouble
        self._hold = redis.register_script(_HOLD)
        self._resync = redis.register_script(_RESYNC)
        self._publish = redis.register_script(_PUBLISH)
        self._lend = redis.register_script(_LEND)
        # One change at a time, so that Redis applies this node's holds and releases in their order.
        self._lock = threading.Lock()

    @property
    def node_channel(self) -> str:
        """The channel only this node listens on (besides the shared one)."""
        return f"{self.channel}:{self.node_id}"

    def changed(self, room: Any, held: bool) -> None:
        """This node started (or stopped) holding ``room`` (RoomHolds' ``on_change``)."""
        if not isinstance(room, str):
            return
        try:
            with self._lock:
                self._hold(args=[self.prefix, self.node_id, 1 if held else 0, room])
        except RedisError as exc:
            # Registered again, all of them, by the presence's next tick once Redis answers.
            logger.debug("route change failed: %s", exc)
            self.on_trouble(exc)

    def resync(self, rooms: Iterable[Any]) -> None:
        """Make Redis hold exactly ``rooms`` for this node (Redis came back, or lost its data)."""
        with self._lock:
            self._resync(args=[self.prefix, self.node_id, *(room for room in rooms if isinstance(room, str))])

    def publish(self, rooms: list[str], message: str) -> None:
        """Publish ``message`` to every other node that holds one of ``rooms`` (raises RedisError)."""
        self._publish(args=[self.prefix, self.node_id, self.channel, message, *rooms])

    def publish_all(self, message: str) -> None:
        """Publish ``message`` to every node (raises RedisError)."""
        self.redis.publish(self.channel, message)

    def lend_like(self, of_room: str, room: str) -> None:
        """Emits to ``room`` also go, for a while, to the nodes that hold ``of_room`` (they are told to join it)."""
        self._lend_args([room, "of", of_room])

    def lend_to(self, node: str, rooms: Iterable[Any]) -> None:
        """Emits to ``rooms`` also go, for a while, to ``node`` (it is taking over a session in them)."""
        for room in rooms:
            if isinstance(room, str):
                self._lend_args([room, "to", node])

    def _lend_args(self, args: list[str]) -> None:
        try:
            self._lend(args=[self.prefix, int(LEND_SECONDS * 1000), *args])
        except RedisError as exc:
            logger.debug("route lend failed: %s", exc)
            self.on_trouble(exc)
