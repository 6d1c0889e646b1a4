"""Connection state recovery across the nodes of a cluster: a session kept on one node, restored on another.

The node that kept a dropped session notes its pid in Redis (``P:recovery:<pid>`` → its host id,
expiring with the window). A node where the client reconnects asks that node through the
message queue channel, in order with the emits around the request; the keeping node answers
when its listener reaches the request, on a Redis list the asking node waits on. docs/scaling.md
says why the order makes every missed event arrive once.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# How long a reconnecting client waits for the node that kept its session; then a normal connect.
ANSWER_TIMEOUT = 1.5
REQUEST = "recovery-request"
DONE = "recovery-done"


class RemoteRecovery:
    """The cluster's half of ``transport.recovery.Recovery``: who kept which session, and asking for it."""

    def __init__(self, redis: Redis, queue: Any, prefix: str, window: float) -> None:
        self.redis = redis
        self.queue = queue
        self.prefix = prefix
        self.window = window
        self.recovery: Any = None

    def shared_secret(self) -> bytes:
        """The key every node derives pids with, made by the first node and kept in Redis."""
        key = f"{self.prefix}:recovery:secret"
        self.redis.set(key, secrets.token_hex(32), nx=True)
        return bytes.fromhex(self.redis.get(key).decode())

    def attach(self, recovery: Any) -> None:
        """Serve ``recovery`` (this node's): note kept sessions, answer other nodes' requests."""
        self.recovery = recovery
        recovery.remote = self
        self.queue.node_handlers[REQUEST] = self.on_request
        self.queue.node_handlers[DONE] = self.on_done

    def kept(self, pid: str) -> None:
        """This node keeps the session ``pid`` now."""
        try:
            self.redis.set(self._owner_key(pid), self.queue.host_id, ex=max(1, int(self.window) + 1))
        except RedisError as exc:
            logger.warning("recovery: could not note session in Redis (%s): it recovers on this node only", exc)

    def restore(self, pid: str, offset: str, namespace: str) -> dict | None:
        """Ask the node that kept ``pid`` for it; None when no node has it (or none answered in time)."""
        try:
            owner = self.redis.get(self._owner_key(pid))
            if owner is None or owner.decode() == self.queue.host_id:
                return None
            reply = f"{self.prefix}:recovery:reply:{uuid.uuid4().hex}"
            self.queue.to_other_nodes(REQUEST, {"to": owner.decode(), "from": self.queue.host_id, "pid": pid,
                                                "offset": offset, "namespace": namespace, "reply": reply})
            answer = self.redis.blpop([reply], timeout=ANSWER_TIMEOUT)
        except RedisError as exc:
            logger.warning("recovery: asking for a session failed (%s): normal connect", exc)
            return None
        if answer is None:
            logger.warning("recovery: node %s did not answer for a session within %s s", owner.decode(), ANSWER_TIMEOUT)
            return None
        answer = json.loads(answer[1])
        if answer:
            answer["owner"] = owner.decode()
        return answer or None

    def done(self, owner: str, sid: str) -> None:
        """The session of ``sid`` from ``owner`` is logged in here: ``owner`` may let its presence entry go."""
        self.queue.to_other_nodes(DONE, {"to": owner, "sid": sid})

    def on_done(self, data: Any) -> None:
        """Another node logged in the socket this node handed over: its user is online there now."""
        if isinstance(data, dict) and data.get("to") == self.queue.host_id:
            self.recovery.handed_over(data["sid"])

    def on_request(self, data: Any) -> None:
        """Another node asks for a session this node may have kept: answer with it (or with nothing)."""
        if not isinstance(data, dict) or data.get("to") != self.queue.host_id:
            return
        # Emits to the session's rooms go to the asking node from now on (it keeps them until it
        # has the socket in those rooms): those published before are in this node's answer.
        if isinstance(data.get("from"), str):
            self.queue.routes.lend_to(data["from"], self.recovery.rooms_kept(data["pid"]))
        answer = self.recovery.hand_over(data["pid"], data["offset"], data["namespace"])
        try:
            pipeline = self.redis.pipeline(transaction=False)
            pipeline.rpush(data["reply"], json.dumps(answer))
            pipeline.expire(data["reply"], 10)
            pipeline.delete(self._owner_key(data["pid"]))
            pipeline.execute()
        except RedisError as exc:
            logger.warning("recovery: answering for a session failed (%s)", exc)
        if answer is not None:
            logger.info("recovery: handed the session of %s over to another node", answer["sid"])

    def _owner_key(self, pid: str) -> str:
        return f"{self.prefix}:recovery:{pid}"
