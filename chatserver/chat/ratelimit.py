"""A token bucket: the per-socket rate limit."""

from __future__ import annotations

from collections.abc import Callable


class TokenBucket:
    """Allows ``burst`` events at once, refilled at ``rate`` tokens per second."""

    __slots__ = ("rate", "burst", "clock", "tokens", "updated")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def take(self) -> bool:
        """Spend one token; return False (and spend nothing) when the bucket is empty."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
