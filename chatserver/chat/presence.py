"""Who is online, on which sockets: one small interface and its in-memory implementation."""

from __future__ import annotations

import bisect
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class Departure:
    """A socket that was logged out: its user, the user's alias, and whether it was the last one."""

    user: str
    alias: str
    last: bool


@dataclass(frozen=True)
class PresenceChange:
    """A user who came ``online`` or went ``offline`` without a client event of this node saying so.

    A shared presence finds these itself: a dead node's users reaped, a node re-registering its
    sockets after losing its store.
    """

    command: str
    user: str
    alias: str


class PresenceUnavailable(Exception):
    """The shared presence cannot be reached, and this node alone cannot answer."""


class UserList(list):
    """``users()``: the online users as ``{id, alias}`` dicts of strings, so never binary (see packets.py).

    ``json_text``, when not None, is the list as compact JSON (``separators=(",", ":")``), kept up
    to date entry by entry: a login sends the list of everyone online, and encoding thousands of
    entries anew for each one cost more than anything else a login does but the presence fan-out.
    """

    def __init__(self, users: list, json_text: str | None = None) -> None:
        super().__init__(users)
        self.json_text = json_text


class Presence(ABC):
    """The registry of logged-in sockets; callers serialise calls (ChatService holds a lock)."""

    @abstractmethod
    def add(self, sid: str, user: str, alias: str) -> bool:
        """Log ``sid`` in as ``user``; return True when it is the user's first socket."""

    @abstractmethod
    def remove(self, sid: str) -> Departure | None:
        """Log ``sid`` out; return what left, or None when it was not logged in."""

    @abstractmethod
    def user_of(self, sid: str) -> str | None:
        """Return the user ``sid`` is logged in as, or None."""

    @abstractmethod
    def is_online(self, user: str) -> bool:
        """Return whether ``user`` has at least one logged-in socket; may raise PresenceUnavailable."""

    @abstractmethod
    def users(self) -> UserList:
        """Return every online user as ``{"id", "alias"}``, sorted by id, in a UserList."""

    @abstractmethod
    def count_users_here(self) -> int:
        """Return how many users have a socket logged in on this node (cheap: for the metrics)."""

    def reachable(self) -> bool:
        """Return whether every node can be reached right now (one process always can)."""
        return True


class MemoryPresence(Presence):
    """Presence for a single process, in plain dicts."""

    def __init__(self) -> None:
        self._user_by_sid: dict[str, str] = {}
        self._sids_by_user: dict[str, set[str]] = {}
        # {id, alias} of each online user; the alias is the one its first socket logged in with.
        self._entry_by_user: dict[str, dict] = {}
        # users(), kept until someone comes online or goes offline: each login asks for it.
        self._users: list[dict] | None = None
        # The online users' ids in order, and each one's entry as JSON, kept sorted as they come and go.
        self._ids: list[str] = []
        self._json_entries: list[str] = []
        self._json_text: str | None = None

    def add(self, sid: str, user: str, alias: str) -> bool:
        sids = self._sids_by_user.setdefault(user, set())
        first = not sids
        sids.add(sid)
        self._user_by_sid[sid] = user
        if first:
            entry = self._entry_by_user[user] = {"id": user, "alias": alias}
            at = bisect.bisect_left(self._ids, user)
            self._ids.insert(at, user)
            self._json_entries.insert(at, json.dumps(entry, separators=(",", ":")))
            self._users = self._json_text = None
        return first

    def remove(self, sid: str) -> Departure | None:
        user = self._user_by_sid.pop(sid, None)
        if user is None:
            return None
        sids = self._sids_by_user[user]
        sids.discard(sid)
        alias = self._entry_by_user[user]["alias"]
        if sids:
            return Departure(user, alias, last=False)
        del self._sids_by_user[user]
        del self._entry_by_user[user]
        at = bisect.bisect_left(self._ids, user)
        del self._ids[at]
        del self._json_entries[at]
        self._users = self._json_text = None
        return Departure(user, alias, last=True)

    def user_of(self, sid: str) -> str | None:
        return self._user_by_sid.get(sid)

    def is_online(self, user: str) -> bool:
        return user in self._sids_by_user

    def users(self) -> UserList:
        if self._users is None:
            entries = self._entry_by_user
            self._users = [entries[user] for user in self._ids]
            self._json_text = "[" + ",".join(self._json_entries) + "]"
        return UserList(self._users, self._json_text)  # the entries are shared: callers only serialize them

    def count_users_here(self) -> int:
        return len(self._sids_by_user)

    def sockets(self) -> list[tuple[str, str, str]]:
        """Return every logged-in socket as ``(sid, user, alias)``."""
        return [(sid, user, self._entry_by_user[user]["alias"]) for sid, user in self._user_by_sid.items()]
