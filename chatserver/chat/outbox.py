"""What a client event makes the transport do: an ``Outbox`` of replies, room changes and deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field

ONLINE_ROOM = "chatserver:online"  # every logged-in socket: the audience of presence events
ROOM_PREFIX = "chatserver:room:"
# In ``Outbox.leaves``: every chat room the socket is in (it logs out or becomes another user).
EVERY_CHAT_ROOM = "chatserver:every-room"


def user_room(user: str) -> str:
    """Return the Socket.IO room that every socket logged in as ``user`` is in."""
    return "chatserver:user:" + user


def is_chat_room(room: object) -> bool:
    """Whether a Socket.IO room is a chat room's (python-socketio's room of every socket is None)."""
    return isinstance(room, str) and room.startswith(ROOM_PREFIX)


def room_key(room_id: str) -> str:
    """Return the Socket.IO room that every socket of every member of chat room ``room_id`` is in."""
    return ROOM_PREFIX + room_id


@dataclass(frozen=True)
class Delivery:
    """One event to emit: to a room or socket id, or to every socket when ``to`` is None.

    ``to`` may list several rooms: each socket in any of them gets the event once. ``local``
    keeps it to this node's sockets instead of every node sharing the message queue; ``skip`` is
    a socket id (or a list of them) left out.
    """

    event: str
    payload: dict
    to: str | list[str] | None
    local: bool = False
    skip: str | list[str] | None = None


@dataclass(frozen=True)
class Move:
    """Every socket in ``of_room``, on every node, joins (or, ``join`` false, leaves) ``room``."""

    of_room: str
    room: str
    join: bool


@dataclass
class Outbox:
    """What the transport must do after one client event, in this order.

    ``leaves`` and ``joins`` are rooms of the calling socket; ``reply`` goes to the caller as
    the ``response`` event and the acknowledgement, or as the acknowledgement only when
    ``respond`` is false (a successful broadcast, as in the seed). ``moves`` come after the
    deliveries (a deleted room's members are told before they leave it); ``lists_changed``
    last: every node sends its sockets the room list again.
    """

    reply: dict | None = None
    respond: bool = True
    leaves: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    lists_changed: bool = False
