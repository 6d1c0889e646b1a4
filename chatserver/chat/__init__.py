"""The chat domain: no Flask, no sockets. ``ChatService`` decides; it returns ``Outbox``es to carry out."""

from .errors import ChatError
from .outbox import ONLINE_ROOM, Delivery, Move, Outbox, room_key, user_room
from .presence import MemoryPresence, Presence, PresenceChange, UserList
from .service import ChatService

__all__ = [
    "ONLINE_ROOM",
    "ChatError",
    "ChatService",
    "Delivery",
    "MemoryPresence",
    "Move",
    "Outbox",
    "Presence",
    "PresenceChange",
    "UserList",
    "room_key",
    "user_room",
]
