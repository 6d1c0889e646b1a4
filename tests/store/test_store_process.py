"""ProcessStore: the SqlStore in a child process that outlives signals, not its parent, and comes back after a crash.

Every Store test of the other files also runs through a child process (conftest's ``store``);
these are about the process itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from store_support import message

from chatserver.store import ProcessStore, StoreUnavailable, open_store

from support import process_ended


def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'chatserver.sqlite3'}"


def test_the_database_work_runs_in_another_process(tmp_path):
    store = ProcessStore(sqlite_url(tmp_path))
    child = store.pid
    try:
        assert child not in (None, os.getpid())
        assert store.create_account("alice", "hash", "Alice", 1) is True
        assert store.account("alice").alias == "Alice"
    finally:
        store.close()
    assert store.pid is None
    assert process_ended(child)


def test_the_url_reaches_the_child_by_pipe_not_on_its_command_line(tmp_path):
    url = sqlite_url(tmp_path)
    store = ProcessStore(url)
    try:
        with open(f"/proc/{store.pid}/cmdline", "rb") as cmdline:
            assert str(tmp_path).encode() not in cmdline.read()
    finally:
        store.close()


def test_a_killed_child_fails_one_call_and_the_next_starts_another(tmp_path):
    store = open_store(sqlite_url(tmp_path), process=True)
    try:
        store.save_messages([("ALL", message("before"))])
        store.flush()
        first = store._store.pid
        os.kill(first, signal.SIGKILL)
        assert process_ended(first)
        with pytest.raises(StoreUnavailable, match="store process ended"):
            store.ping()
        store.ping()  # a new child, on the same file
        assert store._store.pid not in (None, first)
        page, _ = store.history("ALL")
        assert [item["data"] for item in page] == ["before"]
    finally:
        store.close()


def test_sigint_and_sigterm_leave_the_child_serving_so_the_parent_can_write_what_is_queued(tmp_path):
    # A Ctrl-C or a service manager signals the whole process group: the child must not die
    # before the parent's last writes.
    store = open_store(sqlite_url(tmp_path), process=True)
    child = store._store.pid
    try:
        os.kill(child, signal.SIGINT)
        os.kill(child, signal.SIGTERM)
        store.save_messages([("ALL", message("after the signals"))])
        page, _ = store.history("ALL")
        assert [item["data"] for item in page] == ["after the signals"]
        assert store._store.pid == child
    finally:
        store.close()
    assert process_ended(child)


def test_the_child_ends_when_its_parent_dies(tmp_path):
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from chatserver.store import ProcessStore\n"
         "store = ProcessStore(sys.argv[1])\n"
         "print(store.pid, flush=True)\n"
         "time.sleep(60)\n",
         sqlite_url(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        parent.kill()
        parent.wait(10)
        assert process_ended(child), "the store's child outlived a killed parent"
    finally:
        parent.kill()
        parent.stdout.close()


def test_a_database_that_cannot_be_opened_fails_the_open_in_the_parent(tmp_path):
    with pytest.raises(StoreUnavailable, match="unable to open database file"):
        ProcessStore(f"sqlite:///{tmp_path / 'no such folder' / 'chatserver.sqlite3'}")
    with pytest.raises(ValueError, match="unsupported database"):
        ProcessStore("mysql://someone@127.0.0.1/chat")


def test_only_store_methods_are_forwarded(tmp_path):
    store = ProcessStore(sqlite_url(tmp_path))
    try:
        with pytest.raises(AttributeError):
            store.engine  # noqa: B018 - the SqlStore's engine stays in the child
        with pytest.raises(AttributeError):
            store._exec  # noqa: B018
    finally:
        store.close()
