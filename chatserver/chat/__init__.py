"""The chat domain: no Flask, no sockets. ``ChatService`` decides; it returns ``Outbox``es to carry out."""

from .errors import ChatError
from .presence import MemoryPresence, Presence, PresenceChange, UserList
from .service import ONLINE_ROOM, ChatService, Delivery, Outbox, user_room

__all__ = [
    "ONLINE_ROOM",
    "ChatError",
    "ChatService",
    "Delivery",
    "MemoryPresence",
    "Outbox",
    "Presence",
    "PresenceChange",
    "UserList",
    "user_room",
]
