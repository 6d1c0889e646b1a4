"""``ProcessStore``: the ``SqlStore`` in a child process, so that its Python never holds our GIL.

Under eventlet one OS thread runs every socket. A store worker thread in the same process
(worker.py) takes the GIL for SQLAlchemy's statement handling, and while it holds it the event
loop stands still: that, not the database, was most of what history cost a busy server. Behind
``OffloadedStore``, this proxy sends each call to a child process that owns the ``SqlStore``;
the worker thread only pickles the call and waits on a pipe, without the GIL, for the answer.

The pipes are raw file descriptors read through ``io``: eventlet replaces ``os.read``,
``os.write`` and ``subprocess``'s pipes with green versions that an OS thread must not use.
The child ignores SIGINT and SIGTERM and ends when its stdin closes, so a Ctrl-C or a
service manager stopping the whole group still lets the parent write what it has queued.
A child that died is started again at the next call; the call that met the death fails.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from .interface import Store, StoreUnavailable
from .migrate import upgrade
from .sql import DEFAULT_BUSY_TIMEOUT, SqlStore, open_engine
from .worker import _one_line, _unreachable

logger = logging.getLogger(__name__)

# The folder that holds the chatserver package: the child imports this very copy of it, wherever
# the parent found it (an installed package, a checkout, a benchmark's snapshot).
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CHILD = f"from {__name__} import main; main()"

# The calls the child answers: the Store's methods, nothing else by name.
CALLS = frozenset(name for name in dir(Store) if not name.startswith("_"))


def _portable(error: Exception) -> Exception:
    """``error`` as the parent can raise it: the database out of reach as StoreUnavailable, anything else as is."""
    if _unreachable(error):
        return StoreUnavailable(_one_line(error))
    try:
        pickle.dumps(error)
    except Exception:
        return RuntimeError(_one_line(error))
    return error


class ProcessStore:
    """Stands for a ``Store`` (every method of it, same arguments) whose ``SqlStore`` runs in a child process.

    Calls block until the child answered; call it from one thread at a time (``OffloadedStore``'s
    worker). Opening migrates the database unless ``migrate`` is false, and raises what the child
    raised doing so.
    """

    def __init__(self, url: str, *, migrate: bool = True, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self._setup = (url, migrate, busy_timeout)
        self._child: subprocess.Popen | None = None
        self._start()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in CALLS:
            raise AttributeError(name)
        return lambda *args, **kwargs: self._ask(name, args, kwargs)

    @property
    def pid(self) -> int | None:
        """The child's process id (None while none runs)."""
        return self._child.pid if self._child else None

    def close(self) -> None:
        """Close the child's store and wait for the child to end."""
        if self._child is not None:
            try:
                self._ask("close", (), {})
            finally:
                self._end()

    def _start(self) -> None:
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        self._writer = io.BufferedWriter(io.FileIO(from_parent, "wb"))
        self._reader = io.BufferedReader(io.FileIO(to_parent, "rb"))
        path = os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
        try:
            self._child = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=to_child, stdout=from_child,
                                           env={**os.environ, "PYTHONPATH": path})
        except BaseException:
            self._end()
            raise
        finally:
            os.close(to_child)
            os.close(from_child)
        try:
            self._exchange(self._setup)  # the URL by pipe, not argv: a password stays out of `ps`
        except BaseException:
            self._end()
            raise

    def _ask(self, name: str, args: tuple, kwargs: dict) -> Any:
        if self._child is None:
            logger.warning("the store process had ended: starting another")
            try:
                self._start()
            except Exception as error:
                raise StoreUnavailable(f"the store process does not start: {error}") from error
        return self._exchange((name, args, kwargs))

    def _exchange(self, request: object) -> Any:
        try:
            pickle.dump(request, self._writer, pickle.HIGHEST_PROTOCOL)
            self._writer.flush()
            ok, value = pickle.load(self._reader)
        except (EOFError, OSError, pickle.UnpicklingError) as error:
            code = self._end()
            raise StoreUnavailable(f"the store process ended (exit code {code})") from error
        if not ok:
            raise value
        return value

    def _end(self) -> int | None:
        """Close the pipes and reap the child (killed if it lingers); its exit code."""
        child, self._child = self._child, None
        for stream in (self._writer, self._reader):
            try:
                stream.close()
            except OSError:
                pass
        if child is None:
            return None
        try:
            return child.wait(timeout=10)  # it ends at once when its stdin closes
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()


def serve(reader: io.BufferedReader, writer: io.BufferedWriter) -> None:
    """The child's side: open the store as the setup message says, then answer calls until stdin ends."""

    def reply(ok: bool, value: object) -> None:
        pickle.dump((ok, value), writer, pickle.HIGHEST_PROTOCOL)
        writer.flush()

    url, migrate, busy_timeout = pickle.load(reader)
    try:
        engine = open_engine(url, busy_timeout=busy_timeout)
        if migrate:
            upgrade(engine)
        store = SqlStore(engine)
    except Exception as error:
        reply(False, _portable(error))
        return
    reply(True, None)
    while True:
        try:
            name, args, kwargs = pickle.load(reader)
        except EOFError:  # the parent closed the pipe or died
            store.close()
            return
        if name not in CALLS:
            reply(False, ValueError(f"not a store call: {name!r}"))
            continue
        try:
            reply(True, getattr(store, name)(*args, **kwargs))
        except Exception as error:
            reply(False, _portable(error))
        if name == "close":
            return


def main() -> None:
    """Run as the child: calls on stdin, answers on stdout, logs on stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Answers go on a copy of stdout; stdout itself becomes stderr, so that a stray print (a
    # migration's, a library's) cannot corrupt the stream of answers.
    answers = io.BufferedWriter(io.FileIO(os.dup(1), "wb"))
    os.dup2(2, 1)
    serve(io.BufferedReader(io.FileIO(0, "rb", closefd=False)), answers)

