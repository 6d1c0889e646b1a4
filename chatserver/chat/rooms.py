"""Rooms (the seed book's chat04-05): the `room` event's commands and the room lists.

Membership belongs to the user and lives in the store; every socket of a member is in the
room's Socket.IO room (``room_key``), which is what a ``groupchat`` message is emitted to. A
change of membership is a ``Move`` that every node applies to its own sockets of that user.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..store.interface import Room, Store
from .errors import ChatError
from .history import BROADCAST
from .outbox import ONLINE_ROOM, Delivery, Move, Outbox, room_key, user_room
from .presence import Presence

MAX_ROOM_NAME_LENGTH = 64
COMMANDS = ("create", "update", "delete", "join", "leave", "invite", "members", "list")


class RoomList(list):
    """A `room` list's entries: dicts of strings, ints and bools, so never binary (see packets.py)."""


def entry(room: Room) -> dict:
    """A room as the `room` list shows it."""
    return {"id": room.id, "name": room.name, "owner": room.owner, "members": room.members, "private": room.private}


@dataclass(frozen=True)
class RoomLimits:
    """How many rooms there may be, how many one user may be in, and how many members one may have."""

    rooms: int = 1000
    rooms_per_user: int = 100
    members: int = 10000


@dataclass(frozen=True)
class RoomRequest:
    """A parsed `room` payload."""

    command: str
    room_id: str
    name: str | None
    private: bool
    user_id: str | None


def parse_request(payload: Any, valid_id: Callable[..., str]) -> RoomRequest:
    """Read a `room` payload, or raise ChatError 400; ``roomOwner`` from a client is ignored."""
    if not isinstance(payload, dict):
        raise ChatError("400", detail="room expects an object")
    command = payload.get("command")
    if command not in COMMANDS:
        raise ChatError("400", detail=f"command must be one of {', '.join(COMMANDS)}")
    if command == "list":
        return RoomRequest(command, "", None, False, None)
    room_id = valid_id(payload.get("roomId"), "roomId")
    if room_id.upper() == BROADCAST:
        raise ChatError("400", detail=f"{BROADCAST} is reserved")
    name = payload.get("roomName")
    if command == "update" or name not in (None, ""):
        if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_ROOM_NAME_LENGTH \
                or not name.isprintable():
            raise ChatError("400", detail=f"roomName must be 1-{MAX_ROOM_NAME_LENGTH} printable characters")
        name = name.strip()
    private = payload.get("private", False)
    if not isinstance(private, bool):
        raise ChatError("400", detail="private must be true or false")
    user_id = valid_id(payload.get("userId"), "userId") if command == "invite" else None
    return RoomRequest(command, room_id, name or None, private, user_id)


class Rooms:
    """Carries out `room` commands against the store and keeps the room list between changes.

    ``reply(command, code, text_key, extra=..., **details)`` makes the `response` object;
    ``registered(user)`` says whether an id has an account.
    """

    def __init__(self, store: Store, presence: Presence, reply: Callable[..., dict],
                 registered: Callable[[str], bool], limits: RoomLimits | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.presence = presence
        self.reply = reply
        self.registered = registered
        self.limits = limits or RoomLimits()
        self._rooms: list[Room] | None = None  # every room, until the next change anywhere

    # -- the room list ---------------------------------------------------------------------

    def all(self) -> list[Room]:
        """Every room with its member count (read once per change)."""
        if self._rooms is None:
            self._rooms = self.store.rooms()
        return self._rooms

    def count(self) -> int:
        """How many rooms there are, for callers outside the service's lock (the metrics).

        It never fills the cache: a list read here could arrive after a change had emptied the
        cache and put the list from before the change back.
        """
        rooms = self._rooms
        return len(rooms if rooms is not None else self.store.rooms())

    def changed(self) -> None:
        """Forget the room list: some node changed a room or a member count."""
        self._rooms = None

    def entries(self) -> RoomList:
        """Every room as the list shows it, private ones included (for the operator)."""
        return RoomList(entry(room) for room in self.all())

    def close(self, room_id: str) -> Outbox | None:
        """Delete a room whoever owns it (the operator's `close-room`); None when there is no such room."""
        room = self.store.room(room_id)
        if room is None or self.store.delete_room(room_id) is None:
            return None
        outbox = Outbox()
        self.tell_deleted([room], outbox)
        return outbox

    def visible_to(self, member_of: Iterable[str]) -> RoomList:
        """The list one user sees: every public room and the private rooms they are a member of."""
        mine = set(member_of)
        return RoomList(entry(room) for room in self.all() if not room.private or room.id in mine)

    def list_event(self, rooms: RoomList, to: str, **options: Any) -> Delivery:
        """The `room` {command:'list'} event."""
        return Delivery("room", {"command": "list", "rooms": rooms}, to, **options)

    def push_lists(self, participants: Callable[[str], Iterable[str]]) -> Outbox:
        """Send this node's logged-in sockets their room list again; ``participants(room)`` are local sids.

        Every change forgets the cached list when it happens (``changed``), so what is cached now is
        current: a login since may have read it already, and it is not read a second time here.
        """
        public = RoomList(entry(room) for room in self.all() if not room.private)
        # Most sockets see only the public rooms: one emit for them, one per socket that sees more.
        extra: dict[str, list[dict]] = {}
        for room in self.all():
            if room.private:
                for sid in participants(room_key(room.id)):
                    extra.setdefault(sid, []).append(entry(room))
        deliveries = [self.list_event(public, ONLINE_ROOM, local=True, skip=list(extra) or None)]
        for sid, private in extra.items():
            everything = sorted([*public, *private], key=lambda item: item["id"])
            deliveries.append(self.list_event(RoomList(everything), sid, local=True))
        return Outbox(deliveries=deliveries)

    # -- commands --------------------------------------------------------------------------

    def handle(self, user: str, request: RoomRequest) -> Outbox:
        """Carry out one `room` command of ``user``; raise ChatError when it cannot be done."""
        return getattr(self, "_" + request.command)(user, request)

    def _create(self, user: str, request: RoomRequest) -> Outbox:
        if len(self.all()) >= self.limits.rooms:
            raise ChatError("403", "403-room-limit")
        self._check_room_count(user)
        if not self.store.create_room(request.room_id, request.name or request.room_id, user, request.private,
                                      int(self.clock() * 1000)):
            raise ChatError("409", "409-room")
        return self._changed("room-create", moves=[Move(user_room(user), room_key(request.room_id), True)])

    def _update(self, user: str, request: RoomRequest) -> Outbox:
        self._owned(user, request.room_id)
        self.store.rename_room(request.room_id, request.name)
        return self._changed("room-update")

    def _delete(self, user: str, request: RoomRequest) -> Outbox:
        room = self._owned(user, request.room_id)
        self.store.delete_room(room.id)
        outbox = self._changed("room-delete")
        self.tell_deleted([room], outbox)
        return outbox

    def _join(self, user: str, request: RoomRequest) -> Outbox:
        room = self._existing(request.room_id)
        if self.store.is_member(room.id, user):
            return Outbox(reply=self.reply("room", "200", "room-join"))
        if room.private and not self.store.is_invited(room.id, user):
            raise ChatError("403", "403-room-private")
        if room.members >= self.limits.members:
            raise ChatError("403", "403-room-full")
        self._check_room_count(user)
        self.store.add_member(room.id, user)
        return self._changed("room-join", moves=[Move(user_room(user), room_key(room.id), True)])

    def _leave(self, user: str, request: RoomRequest) -> Outbox:
        room = self._existing(request.room_id)
        if room.owner == user:
            # A room always has its owner in it; an owner who is done with it deletes it.
            raise ChatError("403", "403-room-owner-leave")
        if not self.store.remove_member(room.id, user):
            raise ChatError("404", "404-room-member")
        return self._changed("room-leave", moves=[Move(user_room(user), room_key(room.id), False)])

    def _invite(self, user: str, request: RoomRequest) -> Outbox:
        room = self._member_of(user, request.room_id)
        # An invitation names an account: a guest's id can be taken by whoever logs in next.
        if not self.registered(request.user_id):
            raise ChatError("404", "404-invitee")
        self.store.invite(room.id, request.user_id)
        invitation = {"command": "invite", "roomId": room.id, "roomName": room.name, "sender": user}
        return Outbox(reply=self.reply("room", "200", "room-invite"),
                      deliveries=[Delivery("room", invitation, user_room(request.user_id))])

    def _members(self, user: str, request: RoomRequest) -> Outbox:
        room = self._existing(request.room_id)
        if room.private:
            self._member_of(user, room.id)
        online = {entry["id"]: entry["alias"] for entry in self.presence.users()}
        members = [{"id": member, "alias": online.get(member, alias), "online": member in online}
                   for member, alias in self.store.members(room.id)]
        return Outbox(reply=self.reply("room", "200", "room-members", extra={"members": members}))

    def _list(self, user: str, request: RoomRequest) -> Outbox:
        rooms = self.visible_to(self.store.rooms_of(user))
        return Outbox(reply=self.reply("room", "200", "room-list", extra={"rooms": rooms}))

    # -- helpers ---------------------------------------------------------------------------

    def tell_deleted(self, rooms: Iterable[Room], outbox: Outbox) -> None:
        """Tell deleted rooms' members (`room` {command:'delete'}), then take their sockets out."""
        for room in rooms:
            key = room_key(room.id)
            outbox.deliveries.append(Delivery("room", {"command": "delete", "roomId": room.id, "roomName": room.name},
                                              key))
            outbox.moves.append(Move(key, key, False))
        outbox.lists_changed = True

    def _changed(self, text_key: str, **parts: Any) -> Outbox:
        self.changed()
        return Outbox(reply=self.reply("room", "200", text_key), lists_changed=True, **parts)

    def _existing(self, room_id: str) -> Room:
        room = self.store.room(room_id)
        if room is None:
            raise ChatError("404", "404-room")
        return room

    def _owned(self, user: str, room_id: str) -> Room:
        room = self._existing(room_id)
        if room.owner != user:
            raise ChatError("403", "403-room-owner")
        return room

    def _member_of(self, user: str, room_id: str) -> Room:
        room = self._existing(room_id)
        if not self.store.is_member(room.id, user):
            raise ChatError("403", "403-room-member")
        return room

    def _check_room_count(self, user: str) -> None:
        if len(self.store.rooms_of(user)) >= self.limits.rooms_per_user:
            raise ChatError("403", "403-rooms-per-user", limit=self.limits.rooms_per_user)
