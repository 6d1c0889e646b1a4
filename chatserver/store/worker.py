"""``OffloadedStore``: every store call runs on one worker OS thread, off the event loop.

Under eventlet a blocking database call would stall every socket of the process, so one real
OS thread owns the ``SqlStore`` and takes jobs from a FIFO. Jobs run in the order they were
submitted, so a ``history`` right after a ``save_messages`` sees the saved messages. Saving is
fire-and-forget (consecutive saves share one transaction); every other call waits for its result.

eventlet and gevent replace ``threading`` with green threads, so this module takes its thread,
lock and events from an injected ``Threads`` and never from a module that may be patched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from .interface import Account, Conversation, Room, Store, StoreUnavailable

logger = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 1000
# The least time between two writes of saved messages: what comes meanwhile goes in one transaction.
# Without it a busy worker writes a few messages per transaction: the Python around each
# transaction costs more than the rows, and every wake-up takes the GIL from the event loop. A
# call (a login, a history page) ends the wait at once: only saves wait.
DEFAULT_BATCH_DELAY = 0.02


class Event(Protocol):
    """What the worker needs of an event: ``threading.Event``'s methods."""

    def set(self) -> None: ...

    def clear(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True)
class Threads:
    """How to run the worker and wait for it, for the process's concurrency model.

    ``start(target)`` runs ``target`` on a new daemon OS thread; ``lock()`` and ``event()`` make
    OS-thread primitives; ``wait(event, timeout)`` blocks the calling thread -- green or not --
    until ``event`` is set or ``timeout`` seconds passed (None: no limit) without blocking an
    event loop, and returns whether the event is set.
    """

    start: Callable[[Callable[[], None]], None]
    lock: Callable[[], AbstractContextManager]
    event: Callable[[], Event]
    wait: Callable[[Event, float | None], bool]


def _start_daemon(target: Callable[[], None]) -> None:
    threading.Thread(target=target, name="chatserver-store", daemon=True).start()


def _wait(event: Event, timeout: float | None) -> bool:
    return event.wait(timeout)


# Plain threads: right for Flask's threading mode and for tests, wrong under a monkey-patched
# ``threading`` (there the primitives would be green and the worker would block the loop).
OS_THREADS = Threads(start=_start_daemon, lock=threading.Lock, event=threading.Event, wait=_wait)


class _Call:
    """A job whose caller waits for its result or exception."""

    __slots__ = ("function", "args", "kwargs", "done", "result", "error")

    def __init__(self, function: Callable[..., Any], args: tuple, kwargs: dict, done: Event) -> None:
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.done = done
        self.result: Any = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.result = self.function(*self.args, **self.kwargs)
        except Exception as error:
            self.error = error  # raised again in the caller
        finally:
            self.done.set()


class _Save:
    """A fire-and-forget ``save_messages``."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[str, dict]]) -> None:
        self.items = items


_STOP = object()


def _one_line(error: Exception) -> str:
    # SQLAlchemy's own text goes on with the SQL and its parameters, which are people's messages.
    text = str(error.orig if isinstance(error, DBAPIError) else error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def _unreachable(error: Exception) -> bool:
    """Whether ``error`` says the database is down or locked (rather than that the data was bad)."""
    return isinstance(error, (OperationalError, InterfaceError, StoreUnavailable)) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


class OffloadedStore(Store):
    """A Store whose calls run in order on one worker OS thread that owns ``store`` (a Store or a ProcessStore).

    Every method means what it means in ``Store``. ``save_messages`` returns at once; saves
    that fail are logged and dropped. The others wait for their result and raise what the
    worker raised. ``observe_save(seconds)``, if given, is called on the worker's thread after
    each batched write (the metrics' histogram; the store imports nothing of them).
    """

    def __init__(self, store: Store, threads: Threads = OS_THREADS, *, max_batch: int = DEFAULT_MAX_BATCH,
                 batch_delay: float = DEFAULT_BATCH_DELAY,
                 observe_save: Callable[[float], None] | None = None) -> None:
        self._store = store
        self._observe_save = observe_save
        self._threads = threads
        self._max_batch = max_batch
        self._batch_delay = batch_delay
        self._jobs: deque = deque()
        self._lock = threads.lock()
        self._wake = threads.event()  # set while jobs wait; only the worker clears it
        self._calls_waiting = 0  # calls (not saves) in the queue; under the lock
        self._call_waits = threads.event()  # set while a call is queued: it ends the batching wait
        self._stopped = threads.event()
        self._closed = False
        threads.start(self._run)

    # -- the caller's side -------------------------------------------------------------------

    def _submit(self, job: object) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            self._jobs.append(job)
            if not isinstance(job, _Save):
                self._calls_waiting += 1
                self._call_waits.set()
            self._wake.set()

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._call_within(None, function, *args, **kwargs)

    def _call_within(self, timeout: float | None, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        job = _Call(function, args, kwargs, self._threads.event())
        self._submit(job)
        if not self._threads.wait(job.done, timeout):
            # The job stays queued and runs later; only this caller stops waiting for it.
            raise StoreUnavailable(f"no answer within {timeout} s")
        if job.error is not None:
            if _unreachable(job.error) and not isinstance(job.error, StoreUnavailable):
                raise StoreUnavailable(_one_line(job.error)) from job.error
            raise job.error
        return job.result

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is done; return False if ``timeout`` passed first."""
        job = _Call(lambda: None, (), {}, self._threads.event())
        self._submit(job)
        return self._threads.wait(job.done, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Finish every submitted job, close the store and end the worker; later calls raise RuntimeError."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._jobs.append(_STOP)
            self._calls_waiting += 1  # like a call: the worker stops waiting for more saves
            self._call_waits.set()
            self._wake.set()
        if not self._threads.wait(self._stopped, timeout):
            logger.warning("the store's worker did not finish within %s s", timeout)

    # -- the worker's side -------------------------------------------------------------------

    def _next(self) -> object:
        """Pop the next job (None if there is none); consecutive saves come as one list. Hold the lock."""
        if not self._jobs:
            return None
        job = self._jobs.popleft()
        if not isinstance(job, _Save):
            self._calls_waiting -= 1
            if not self._calls_waiting:
                self._call_waits.clear()
            return job
        saves, count = [job], len(job.items)
        while self._jobs and isinstance(self._jobs[0], _Save) and count + len(self._jobs[0].items) <= self._max_batch:
            saves.append(self._jobs.popleft())
            count += len(saves[-1].items)
        return saves

    def _saves_waiting(self) -> bool:
        with self._lock:
            return bool(self._jobs) and isinstance(self._jobs[0], _Save)

    def _run(self) -> None:
        last_write = -self._batch_delay
        while True:
            self._wake.wait()
            # Saves are written at most once per batch delay, so a busy worker writes big batches:
            # one that took whatever came during its last write would write a few rows each time.
            # A message after a quiet spell goes at once; a queued call ends the wait.
            wait = last_write + self._batch_delay - time.monotonic()
            if wait > 0 and self._saves_waiting():
                self._call_waits.wait(wait)
            with self._lock:
                job = self._next()
                if job is None:
                    self._wake.clear()  # under the lock: a job submitted after this sets it again
            if job is None:
                continue
            if job is _STOP:
                break
            if isinstance(job, list):
                last_write = time.monotonic()
                self._save(job)
            else:
                job.run()
        try:
            self._store.close()
        except Exception:
            logger.exception("closing the store failed")
        self._stopped.set()

    def _save(self, saves: list[_Save]) -> None:
        items = [item for save in saves for item in save.items]
        started = time.perf_counter()
        try:
            self._store.save_messages(items)
        except Exception as error:
            if len(saves) > 1 and not _unreachable(error):
                # Merging must not widen a failure: one bad message would take the others with
                # it. Not when the database is unreachable: each retry would wait as long again.
                for save in saves:
                    self._save([save])
            else:
                logger.error("%d message(s) not saved: %s", len(items), _one_line(error))
        else:
            if self._observe_save is not None:
                self._observe_save(time.perf_counter() - started)

    # -- Store -------------------------------------------------------------------------------

    def create_account(self, user_id: str, password_hash: str, alias: str, now_ms: int) -> bool:
        return self._call(self._store.create_account, user_id, password_hash, alias, now_ms)

    def account(self, user_id: str) -> Account | None:
        return self._call(self._store.account, user_id)

    def set_password(self, user_id: str, password_hash: str) -> bool:
        return self._call(self._store.set_password, user_id, password_hash)

    def set_banned(self, user_id: str, banned_ms: int | None) -> bool:
        return self._call(self._store.set_banned, user_id, banned_ms)

    def delete_account(self, user_id: str) -> bool:
        return self._call(self._store.delete_account, user_id)

    def add_token(self, token_hash: str, user_id: str, expires_ms: int) -> None:
        self._call(self._store.add_token, token_hash, user_id, expires_ms)

    def token_owner(self, token_hash: str, now_ms: int) -> str | None:
        return self._call(self._store.token_owner, token_hash, now_ms)

    def revoke_token(self, token_hash: str) -> None:
        self._call(self._store.revoke_token, token_hash)

    def revoke_tokens(self, user_id: str) -> None:
        self._call(self._store.revoke_tokens, user_id)

    def save_messages(self, items: Sequence[tuple[str, dict]]) -> None:
        if items:
            self._submit(_Save(list(items)))

    def save_offline(self, user_id: str, conversation: str, message: dict) -> None:
        self._call(self._store.save_offline, user_id, conversation, message)

    def take_offline(self, user_id: str) -> list[dict]:
        return self._call(self._store.take_offline, user_id)

    def history(self, conversation: str, *, before: str | None = None, after: str | None = None,
                limit: int = 50, since_ms: int = 0) -> tuple[list[dict], bool]:
        return self._call(self._store.history, conversation, before=before, after=after, limit=limit,
                          since_ms=since_ms)

    def create_room(self, room_id: str, name: str, owner: str, private: bool, now_ms: int) -> bool:
        return self._call(self._store.create_room, room_id, name, owner, private, now_ms)

    def room(self, room_id: str) -> Room | None:
        return self._call(self._store.room, room_id)

    def rooms(self) -> list[Room]:
        return self._call(self._store.rooms)

    def rename_room(self, room_id: str, name: str) -> bool:
        return self._call(self._store.rename_room, room_id, name)

    def delete_room(self, room_id: str) -> list[str] | None:
        return self._call(self._store.delete_room, room_id)

    def add_member(self, room_id: str, user_id: str) -> bool:
        return self._call(self._store.add_member, room_id, user_id)

    def remove_member(self, room_id: str, user_id: str) -> bool:
        return self._call(self._store.remove_member, room_id, user_id)

    def is_member(self, room_id: str, user_id: str) -> bool:
        return self._call(self._store.is_member, room_id, user_id)

    def members(self, room_id: str) -> list[tuple[str, str]]:
        return self._call(self._store.members, room_id)

    def rooms_of(self, user_id: str) -> list[str]:
        return self._call(self._store.rooms_of, user_id)

    def invite(self, room_id: str, user_id: str) -> None:
        self._call(self._store.invite, room_id, user_id)

    def is_invited(self, room_id: str, user_id: str) -> bool:
        return self._call(self._store.is_invited, room_id, user_id)

    def forget_user(self, user_id: str) -> list[str]:
        return self._call(self._store.forget_user, user_id)

    def mark_read(self, user_id: str, conversation: str, message_id: str) -> dict:
        return self._call(self._store.mark_read, user_id, conversation, message_id)

    def conversations(self, user_id: str, room_keys: Sequence[str]) -> list[Conversation]:
        return self._call(self._store.conversations, user_id, room_keys)

    def prune(self, before_ms: int) -> int:
        return self._call(self._store.prune, before_ms)

    def ping(self, timeout: float | None = None) -> None:
        """Store.ping; with ``timeout``, also raise StoreUnavailable when no answer came in time (a busy worker)."""
        self._call_within(timeout, self._store.ping)
