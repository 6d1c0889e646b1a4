"""OffloadedStore: one worker thread, calls in order, saves batched, failures reported, never a hang."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from store_support import message, messages

from chatserver.store import (
    OS_THREADS,
    OffloadedStore,
    SqlStore,
    StoreUnavailable,
    UnknownMessage,
    open_engine,
    open_store,
    upgrade,
)


class HeldThreads:
    """OS threads whose worker starts only on ``release()``: jobs pile up first, as under load."""

    def __init__(self) -> None:
        self.targets: list = []
        self.threads = dataclasses.replace(OS_THREADS, start=self.targets.append)

    def release(self) -> None:
        for target in self.targets:
            OS_THREADS.start(target)


@pytest.fixture
def engine(url):
    """A migrated engine; the store made from it disposes of it."""
    engine = open_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def count_commits(engine) -> list:
    commits: list = []
    event.listen(engine, "commit", lambda connection: commits.append(1))
    return commits


def saved_data(store, conversation: str = "ALL") -> list[str]:
    page, _ = store.history(conversation, limit=100)
    return [item["data"] for item in page]


def test_a_read_sees_the_saves_submitted_before_it(store):
    for number in range(50):
        store.save_messages([("ALL", message(str(number)))])  # returns before it is written
    assert saved_data(store) == [str(number) for number in range(50)]


def test_pending_saves_are_merged_into_few_transactions(engine):
    held = HeldThreads()
    store = OffloadedStore(SqlStore(engine), held.threads)
    commits = count_commits(engine)
    for item in messages(1000):
        store.save_messages([("ALL", item)])
    held.release()
    assert store.flush()
    assert len(commits) == 1
    page, more = store.history("ALL", limit=100)
    assert len(page) == 100 and more
    store.close()


def test_a_busy_worker_waits_the_batch_delay_after_a_write_instead_of_taking_what_came_during_it(engine):
    # The first write is slowed down; "during" arrives while it runs, "after" once it is done.
    # Taking whatever queued up during a write would write "during" alone, then "after": a busy
    # worker would write a few rows per transaction. Both must wait for the delay and go together.
    slow = [True]

    @event.listens_for(engine, "before_cursor_execute")
    def slow_first_insert(connection, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("INSERT INTO messages") and slow.pop() if slow else False:
            time.sleep(0.2)

    store = OffloadedStore(SqlStore(engine), batch_delay=1.0)
    commits = count_commits(engine)
    store.save_messages([("ALL", message("first"))])  # after a quiet spell: written at once
    time.sleep(0.05)
    store.save_messages([("ALL", message("during"))])
    time.sleep(0.25)
    store.save_messages([("ALL", message("after"))])
    time.sleep(0.1)
    assert len(commits) == 1, "a save was written before the batch delay had passed"
    assert store.flush(timeout=5)  # a call ends the wait
    assert len(commits) == 2
    assert saved_data(store) == ["first", "during", "after"]
    store.close()


def test_a_batch_holds_at_most_max_batch_messages_unless_one_save_is_bigger(engine):
    held = HeldThreads()
    store = OffloadedStore(SqlStore(engine), held.threads, max_batch=100)
    commits = count_commits(engine)
    for item in messages(250):
        store.save_messages([("ALL", item)])
    store.save_messages([("ALL", item) for item in messages(150)])  # one call: one transaction, whole
    held.release()
    assert store.flush()
    assert len(commits) == 4  # 100, 100, 50, then the 150
    store.close()


def test_an_error_is_raised_in_the_caller_and_the_worker_goes_on(store):
    store.save_messages([("ALL", message("kept"))])
    with pytest.raises(UnknownMessage):
        store.history("ALL", before="no-such-id")
    assert store.create_account("alice", "hash", "Alice", 1) is True
    assert saved_data(store) == ["kept"]


def test_a_failing_save_is_logged_and_loses_only_its_own_messages(engine, caplog):
    held = HeldThreads()
    store = OffloadedStore(SqlStore(engine), held.threads)
    bad = dict(message("bad"), data=None)  # NOT NULL: the database refuses it
    store.save_messages([("ALL", message("first"))])
    store.save_messages([("ALL", bad), ("ALL", message("with the bad one"))])
    store.save_messages([("ALL", message("last"))])
    with caplog.at_level(logging.ERROR, logger="chatserver.store.worker"):
        held.release()
        assert store.flush()
    assert saved_data(store) == ["first", "last"]
    (record,) = caplog.records
    line = record.getMessage()
    assert line.startswith("2 message(s) not saved: IntegrityError: ") and "\n" not in line
    store.save_messages([("ALL", message("after"))])
    assert saved_data(store) == ["first", "last", "after"]
    store.close()


def test_flush_and_close_write_everything(url):
    store = open_store(url)
    for item in messages(300):
        store.save_messages([("ALL", item)])
    store.close()
    store.close()  # again: nothing to do
    with pytest.raises(RuntimeError, match="closed"):
        store.save_messages([("ALL", message())])

    store = open_store(url)
    page, more = store.history("ALL", limit=100)
    assert [item["data"] for item in page] == [str(number) for number in range(200, 300)] and more
    store.close()


def test_flush_gives_up_after_its_timeout(engine):
    held = HeldThreads()  # the worker is not running yet: nothing can finish
    store = OffloadedStore(SqlStore(engine), held.threads)
    store.save_messages([("ALL", message())])
    assert store.flush(timeout=0.05) is False
    held.release()
    assert store.flush() is True
    store.close()


def test_a_ping_with_a_timeout_gives_up_when_the_worker_does_not_answer(engine):
    held = HeldThreads()  # a worker busy elsewhere, as behind a long write
    store = OffloadedStore(SqlStore(engine), held.threads)
    with pytest.raises(StoreUnavailable, match="no answer within 0.05 s"):
        store.ping(timeout=0.05)
    held.release()
    store.ping(timeout=5)
    store.close()


def test_each_batched_write_is_timed_for_the_metrics(engine):
    held = HeldThreads()
    timed: list[float] = []
    store = OffloadedStore(SqlStore(engine), held.threads, observe_save=timed.append)
    for item in messages(10):
        store.save_messages([("ALL", item)])
    held.release()
    assert store.flush()
    assert len(timed) == 1 and 0 < timed[0] < 5  # one transaction for the ten
    store.save_messages([("ALL", dict(message("bad"), data=None))])  # refused: not a write to time
    assert store.flush()
    store.close()
    assert len(timed) == 1


@pytest.fixture
def locked_sqlite(tmp_path):
    """A migrated SQLite file and a second connection that holds its write lock until released."""
    url = f"sqlite:///{tmp_path / 'chatserver.sqlite3'}"
    open_store(url).close()
    other = sqlite3.connect(tmp_path / "chatserver.sqlite3", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield url, other
    other.close()


def test_a_locked_sqlite_database_is_an_error_not_a_hang(locked_sqlite):
    url, other = locked_sqlite
    store = open_store(url, busy_timeout=0.1, migrate=False)
    with pytest.raises(StoreUnavailable, match="OperationalError: database is locked") as raised:
        store.create_account("alice", "hash", "Alice", 1)
    assert isinstance(raised.value.__cause__, OperationalError), "the driver's error stays attached"
    other.execute("ROLLBACK")
    assert store.create_account("alice", "hash", "Alice", 1) is True
    store.close()


def test_saves_that_meet_a_locked_database_are_logged_once(locked_sqlite, caplog):
    # The database, not the data, is at fault: retrying each save would wait the busy timeout again.
    url, other = locked_sqlite
    engine = open_engine(url, busy_timeout=0.1)
    held = HeldThreads()
    store = OffloadedStore(SqlStore(engine), held.threads)
    for item in messages(3):
        store.save_messages([("ALL", item)])
    with caplog.at_level(logging.ERROR, logger="chatserver.store.worker"):
        held.release()
        assert store.flush()
    assert [record.getMessage() for record in caplog.records] == [
        "3 message(s) not saved: OperationalError: database is locked"]
    other.execute("ROLLBACK")
    store.close()


def test_every_thread_primitive_comes_from_the_injected_threads(engine):
    used: list[str] = []

    def recording(name, make):
        def call(*args):
            used.append(name)
            return make(*args)
        return call

    threads = OS_THREADS
    threads = dataclasses.replace(threads, **{field.name: recording(field.name, getattr(threads, field.name))
                                              for field in dataclasses.fields(threads)})
    store = OffloadedStore(SqlStore(engine), threads)
    assert store.create_account("alice", "hash", "Alice", 1)
    store.close()
    assert used.count("start") == 1
    assert used.count("wait") == 2  # the call's result, then close
    assert {"lock", "event"} <= set(used)


def test_importing_the_store_loads_no_green_threads():
    code = "import sys, chatserver.store; print(sorted({'eventlet', 'gevent'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"



def test_a_call_does_not_wait_for_the_saves_batching_delay(engine):
    # Saves wait up to batch_delay for more to share their transaction; a login or a history
    # page queued behind them must not: it ends the wait, and the saves before it are written first.
    store = OffloadedStore(SqlStore(engine), batch_delay=30.0)
    try:
        store.save_messages([("ALL", message("waiting for company"))])
        store.ping(timeout=5.0)  # raises StoreUnavailable if it waited out the save's 30 s
        assert saved_data(store) == ["waiting for company"]
        store.save_messages([("ALL", message("and another"))])
        assert store.flush(timeout=10.0)
        assert saved_data(store) == ["waiting for company", "and another"]
    finally:
        store.close(timeout=10.0)
