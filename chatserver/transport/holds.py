"""Which rooms this node holds: rooms with a socket of this node in them, or a dropped session kept here.

A cluster sends an emit to a room only to the nodes that hold it (cluster/routes.py). A node
holds a room as long as one of its sockets is in it, and also as long as it keeps a dropped
session that was in it (transport/recovery.py), or its packet log would miss what that session
must get when its client comes back. Sockets' own rooms (named after their sid) are not counted:
emits to a sid go to every node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any


class RoomHolds:
    """Counts the reasons (sockets, kept sessions) this node has to get each room's emits.

    ``on_change(room, held)`` is called when a room's count leaves 0 (``held`` true) or goes back
    to 0, in the order the changes happen, before the change that caused it returns.
    """

    def __init__(self, on_change: Callable[[Any, bool], None]) -> None:
        self.on_change = on_change
        self.counts: Counter = Counter()

    def add(self, rooms: Iterable[Any]) -> None:
        """One more reason for each of ``rooms`` (None, python-socketio's room of every socket, is skipped)."""
        counts = self.counts
        for room in rooms:
            if room is not None:
                counts[room] += 1
                if counts[room] == 1:
                    self.on_change(room, True)

    def remove(self, rooms: Iterable[Any]) -> None:
        """One reason less for each of ``rooms``."""
        counts = self.counts
        for room in rooms:
            if room is not None and counts[room] > 0:
                counts[room] -= 1
                if counts[room] == 0:
                    del counts[room]
                    self.on_change(room, False)

    def rooms(self) -> list:
        """Every room held now."""
        return list(self.counts)
