"""Presence shared by every node through Redis: the online list, socket counts, dead nodes reaped.

Keys, all under one prefix (``CHATSERVER_REDIS_PREFIX``):

=============================  ======  ============================================================
``P:online``                   hash    user -> number of logged-in sockets on every node
``P:alias``                    hash    user -> alias of the user's first socket
``P:nodes``                    set     ids of the nodes that may have sockets registered
``P:node:ID:sockets``          hash    sid -> user, the sockets of node ID
``P:node:ID:alive``            string  the heartbeat of node ID; expires NODE_TIMEOUT after the last
``P:epoch``                    string  random; a new one means Redis lost everything (restarted)
``P:settling``                 string  exists for a few seconds after that, while nodes register again
=============================  ======  ============================================================

Every change runs as one Lua script, so of several nodes exactly one sees a user's first socket
arrive or last socket leave: online and offline are announced once per transition, cluster-wide.
Each node also keeps its own sockets in memory: it answers for them while Redis is away and
registers them again when Redis is back.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from ..chat.presence import Departure, MemoryPresence, Presence, PresenceChange, PresenceUnavailable, UserList
from .routes import FORGET_NODE

logger = logging.getLogger(__name__)

# Shared by the scripts below: key names and the two moves every change is made of.
_PRELUDE = """
local prefix = ARGV[1]
local online, aliases, nodes = prefix .. ':online', prefix .. ':alias', prefix .. ':nodes'
local function sockets_of(node) return prefix .. ':node:' .. node .. ':sockets' end
local function alive(node) return prefix .. ':node:' .. node .. ':alive' end

-- Count one more socket; true when it is the user's first on any node.
local function enter(node, sid, user, alias)
  redis.call('HSET', sockets_of(node), sid, user)
  if redis.call('HINCRBY', online, user, 1) == 1 then
    redis.call('HSET', aliases, user, alias)
    return true
  end
  return false
end

-- Forget one socket; {user, alias, 1 when it was the user's last on any node}, or nil.
local function leave(node, sid)
  local user = redis.call('HGET', sockets_of(node), sid)
  if not user then return nil end
  redis.call('HDEL', sockets_of(node), sid)
  local alias = redis.call('HGET', aliases, user) or user
  if redis.call('HINCRBY', online, user, -1) <= 0 then
    redis.call('HDEL', online, user)
    redis.call('HDEL', aliases, user)
    return {user, alias, 1}
  end
  return {user, alias, 0}
end
"""

# ARGV: prefix, node, sid, user, alias -> 1 when the user's first socket anywhere.
_ADD = """
redis.call('SADD', nodes, ARGV[2])
if enter(ARGV[2], ARGV[3], ARGV[4], ARGV[5]) then return 1 end
return 0
"""

# ARGV: prefix, node, sid -> {user, alias, last} or nil when Redis does not know the socket.
_REMOVE = """
return leave(ARGV[2], ARGV[3])
"""

# ARGV: prefix, node, ttl_ms, epoch this node saw last ('' if none), a new epoch, settle_ms
# -> {1 when the heartbeat was still there (this node was not reaped), the current epoch}.
_HEARTBEAT = """
local existed = redis.call('EXISTS', alive(ARGV[2]))
redis.call('SET', alive(ARGV[2]), '1', 'PX', ARGV[3])
redis.call('SADD', nodes, ARGV[2])
local epoch = redis.call('GET', prefix .. ':epoch')
if not epoch then
  epoch = ARGV[5]
  redis.call('SET', prefix .. ':epoch', epoch)
end
if ARGV[4] ~= '' and ARGV[4] ~= epoch then
  -- Redis lost its data since this node last saw it: until the other nodes have had time to
  -- register their sockets again, a user missing from the registry may yet be online.
  redis.call('SET', prefix .. ':settling', '1', 'PX', ARGV[6])
end
return {existed, epoch}
"""

# ARGV: prefix, node, ttl_ms, then sid, user, alias for every socket of the node.
# Makes Redis hold exactly these sockets for the node -> {command, user, alias, ...} transitions.
_RESYNC = """
local node = ARGV[2]
redis.call('SET', alive(node), '1', 'PX', ARGV[3])
redis.call('SADD', nodes, node)
local wanted = {}
for i = 4, #ARGV, 3 do wanted[ARGV[i]] = ARGV[i + 1] end
local known = {}
local registered = redis.call('HGETALL', sockets_of(node))
for i = 1, #registered, 2 do known[registered[i]] = registered[i + 1] end
local changes = {}
local function note(command, user, alias)
  table.insert(changes, command); table.insert(changes, user); table.insert(changes, alias)
end
-- Enter before leaving, so a user whose socket was replaced does not flap offline and online.
for i = 4, #ARGV, 3 do
  local sid, user = ARGV[i], ARGV[i + 1]
  if known[sid] ~= user then
    if known[sid] then
      local gone = leave(node, sid)
      if gone and gone[3] == 1 then note('offline', gone[1], gone[2]) end
    end
    if enter(node, sid, user, ARGV[i + 2]) then note('online', user, ARGV[i + 2]) end
  end
end
for sid, user in pairs(known) do
  if not wanted[sid] then
    local gone = leave(node, sid)
    if gone and gone[3] == 1 then note('offline', gone[1], gone[2]) end
  end
end
return changes
"""

# ARGV: prefix. Removes the sockets and the routes (routes.py) of every node whose heartbeat
# expired -> {{dead node, ...}, {user, alias, ...} that went offline}.
_REAP = FORGET_NODE + """
local dead, offline = {}, {}
for _, node in ipairs(redis.call('SMEMBERS', nodes)) do
  if redis.call('EXISTS', alive(node)) == 0 then
    table.insert(dead, node)
    for _, sid in ipairs(redis.call('HKEYS', sockets_of(node))) do
      local gone = leave(node, sid)
      if gone and gone[3] == 1 then table.insert(offline, gone[1]); table.insert(offline, gone[2]) end
    end
    redis.call('DEL', sockets_of(node))
    forget_routes(node)
    redis.call('SREM', nodes, node)
  end
end
return {dead, offline}
"""


def new_node_id() -> str:
    """Return an id for this process that no other node has: host, pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def heartbeat_interval(timeout: float) -> float:
    """Seconds between heartbeats: often enough to notice Redis coming back within a second."""
    return max(0.1, min(1.0, timeout / 5))


# After Redis restarts empty, how long "not in the registry" may still mean "not registered again
# yet": every node resubscribes within a second (cluster.RESUBSCRIBE_MAX) and ticks within a
# second of that; twice that leaves room for a node that is slow to notice.
SETTLE_SECONDS = 4.0


class RedisPresence(Presence):
    """Presence of every node in Redis; this node's own sockets are mirrored in memory.

    While Redis cannot be reached the node runs on its own sockets only: ``is_online`` answers
    for them and raises PresenceUnavailable for anyone else, ``reachable`` is false. ``tick``
    (every ``interval`` seconds, on a background task) heartbeats, registers this node's sockets
    again after an outage or after being taken for dead, and reaps nodes whose heartbeat expired.
    """

    def __init__(self, redis: Redis, *, prefix: str = "chatserver", node_id: str | None = None,
                 timeout: float = 30.0) -> None:
        if timeout <= 0:
            raise ValueError("node timeout must be positive")
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id or new_node_id()
        self.interval = heartbeat_interval(timeout)
        # The heartbeat is renewed every interval; it expires so that a dead node is reaped
        # at most `timeout` seconds after its last heartbeat.
        self.ttl_ms = max(int((timeout - self.interval) * 1000), 1)
        self.local = MemoryPresence()
        # Set by whoever emits (the extension): announce transitions found here, resend the list.
        self.on_change: Callable[[list[PresenceChange]], None] = lambda changes: None
        self.on_rejoin: Callable[[], None] = lambda: None
        # Set by the cluster: register what else this node holds in Redis, before its sockets are.
        self.on_register: Callable[[], None] = lambda: None
        # Whether events from other nodes arrive (the message queue's subscription is up).
        self.receiving: Callable[[], bool] = lambda: True
        self._online_key = f"{prefix}:online"
        self._alias_key = f"{prefix}:alias"
        self._settling_key = f"{prefix}:settling"
        self._epoch = ""
        self._add = redis.register_script(_PRELUDE + _ADD)
        self._remove = redis.register_script(_PRELUDE + _REMOVE)
        self._heartbeat = redis.register_script(_PRELUDE + _HEARTBEAT)
        self._resync = redis.register_script(_PRELUDE + _RESYNC)
        self._reap = redis.register_script(_PRELUDE + _REAP)
        # Local sockets and their registration in Redis change together (ticks run apart from
        # ChatService's lock, on a background task).
        self._lock = threading.Lock()
        self._healthy = True
        # Redis may not hold this node's sockets as they are: register them all on the next tick.
        self._stale = True
        self._stopped = False

    # -- Presence --------------------------------------------------------------------------

    def add(self, sid: str, user: str, alias: str) -> bool:
        with self._lock:
            first_here = self.local.add(sid, user, alias)
            if self._healthy:
                try:
                    return bool(self._add(args=[self.prefix, self.node_id, sid, user, alias]))
                except RedisError as exc:
                    self.lost(exc)
            return first_here

    def remove(self, sid: str) -> Departure | None:
        with self._lock:
            departure = self.local.remove(sid)
            if departure is None or not self._healthy:
                return departure
            try:
                gone = self._remove(args=[self.prefix, self.node_id, sid])
            except RedisError as exc:
                self.lost(exc)
                return departure
        if gone is None:
            # This node was taken for dead and reaped: the offline event went out then.
            return Departure(departure.user, departure.alias, last=False)
        user, alias, last = gone
        return Departure(user, alias, last=bool(last))

    def user_of(self, sid: str) -> str | None:
        # Only the node a socket is connected to is ever asked about it.
        return self.local.user_of(sid)

    def is_online(self, user: str) -> bool:
        if self.local.is_online(user):
            return True
        if not self._healthy:
            raise PresenceUnavailable(user)
        try:
            pipeline = self.redis.pipeline(transaction=False)
            online, settling = pipeline.hexists(self._online_key, user).exists(self._settling_key).execute()
        except RedisError as exc:
            self.lost(exc)
            raise PresenceUnavailable(user) from exc
        if not online and settling:
            raise PresenceUnavailable(user)
        return bool(online)

    def users(self) -> UserList:
        if self._healthy:
            try:
                aliases = self.redis.hgetall(self._alias_key)
            except RedisError as exc:
                self.lost(exc)
            else:
                return UserList({"id": user, "alias": alias} for user, alias in sorted(aliases.items()))
        with self._lock:
            return self.local.users()

    def count_users_here(self) -> int:
        return self.local.count_users_here()

    def reachable(self) -> bool:
        return self._healthy

    # -- the background task ---------------------------------------------------------------

    def start(self, spawn: Callable, sleep: Callable[[float], None]) -> None:
        """Register this node now, then keep ticking on a task made by ``spawn``."""
        self.tick()
        spawn(self._run, sleep)

    def stop(self) -> None:
        """End the background task after its current sleep."""
        self._stopped = True
        logger.info("node %s leaving the cluster", self.node_id)

    def _run(self, sleep: Callable[[float], None]) -> None:
        while not self._stopped:
            sleep(self.interval)
            try:
                self.tick()
            except Exception:  # the task must outlive any surprise, or the node would look dead
                logger.exception("presence tick failed")

    def tick(self) -> None:
        """Heartbeat; register this node's sockets again if Redis lost them; reap dead nodes."""
        changes: list[PresenceChange] = []
        rejoined = False
        with self._lock:
            try:
                still_registered, self._epoch = self._heartbeat(args=[
                    self.prefix, self.node_id, self.ttl_ms, self._epoch, uuid.uuid4().hex, int(SETTLE_SECONDS * 1000)])
                if (self._stale or not still_registered) and self.receiving():
                    self.on_register()
                    changes += self._register_all()
                    # Its sockets may have missed events while Redis or the subscription was away.
                    rejoined = bool(self.local.sockets()) and (self._stale or not self._healthy)
                    if not self._healthy:
                        logger.warning("Redis is back: node %s registered its sockets again", self.node_id)
                    self._stale = False
                    self._healthy = True
                if self._healthy:
                    changes += self._reap_dead_nodes()
            except RedisError as exc:
                self.lost(exc)
                return
        if changes:
            self.on_change(changes)
        if rejoined:
            self.on_rejoin()

    # -- helpers ---------------------------------------------------------------------------

    def _register_all(self) -> list[PresenceChange]:
        """Make Redis hold exactly this node's sockets; return the transitions that made."""
        args: list[str | int] = [self.prefix, self.node_id, self.ttl_ms]
        for sid, user, alias in self.local.sockets():
            args += [sid, user, alias]
        flat = self._resync(args=args)
        return [PresenceChange(*flat[i:i + 3]) for i in range(0, len(flat), 3)]

    def _reap_dead_nodes(self) -> list[PresenceChange]:
        dead, offline = self._reap(args=[self.prefix])
        for node in dead:
            logger.warning("node %s stopped heartbeating: its sockets are logged out", node)
        return [PresenceChange("offline", offline[i], offline[i + 1]) for i in range(0, len(offline), 2)]

    def lost(self, exc: Exception) -> None:
        """Redis failed (here, or for the message queue): serve this node's sockets only until a tick heals."""
        if self._healthy:
            logger.error("Redis unreachable (%s): node %s serves its own sockets only until it is back",
                         exc, self.node_id)
        self._healthy = False
        self._stale = True
