"""What the ChatService tests share."""

from __future__ import annotations


class FakeClock:
    """A clock that only moves when told: set ``now``."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
