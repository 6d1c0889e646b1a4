"""Several nodes as one chat through Redis: the Socket.IO message queue and the shared presence.

Imported only when ``CHATSERVER_MESSAGE_QUEUE`` is set, so a single node needs no redis package.
The cluster implements the domain's ``Presence`` interface and imports nothing else of it.
"""

from .presence import RedisPresence
from .queue import Cluster, RedisQueue, redis_client

__all__ = ["Cluster", "RedisPresence", "RedisQueue", "redis_client"]
