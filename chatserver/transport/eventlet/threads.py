"""Real OS threads under eventlet, for work that must not run on the event loop's thread.

After ``eventlet.monkey_patch()`` the ``threading`` module makes green threads, which share the
loop's OS thread: a database call or a password hash in one of them stalls every socket. The
store's worker and the password hashing get real threads from the unpatched module instead,
and a green thread waits for them through eventlet's ``tpool``, which parks only that green
thread (the hub hears of the result through a pipe).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import eventlet.patcher
import eventlet.tpool

os_threading = eventlet.patcher.original("threading")
# OS-thread primitives, for what a real thread sets and a green thread waits for.
lock = os_threading.Lock
event = os_threading.Event


def start_thread(target: Callable[[], None]) -> None:
    """Run ``target`` in a new daemon OS thread."""
    os_threading.Thread(target=target, name="chatserver-store", daemon=True).start()


def wait(event: Any, timeout: float | None = None) -> bool:
    """Wait for an OS-thread event (``timeout`` seconds at most) without blocking the event loop."""
    return event.is_set() or eventlet.tpool.execute(event.wait, timeout)


def offload(function: Callable[..., Any], *args: Any) -> Any:
    """Call ``function(*args)`` in one of eventlet's OS threads and return its result."""
    return eventlet.tpool.execute(function, *args)
