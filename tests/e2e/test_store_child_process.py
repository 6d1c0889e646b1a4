"""CHATSERVER_STORE_PROCESS in real `python -m chatserver` processes (eventlet): where the store runs, when it ends."""

from __future__ import annotations

import os
import signal

from e2e_support import new_id

from support import RecordingClient, ServerProcess, chatserver_command, free_port, process_ended


def store_children(pid: int) -> list[int]:
    """The child processes of ``pid`` that run chatserver's store."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            for child in children.read().split():
                with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                    if b"chatserver.store.process" in cmdline.read():
                        found.append(int(child))
    return found


def assert_history_works(url: str) -> None:
    alice, bob = RecordingClient(url), RecordingClient(url)
    try:
        alice_id, bob_id = new_id("alice"), new_id("bob")
        assert alice.call("login", {"id": alice_id})["code"] == "200"
        assert bob.call("login", {"id": bob_id})["code"] == "200"
        assert alice.call("message", {"recepient": "ALL", "data": "kept"})["code"] == "200"
        ack = bob.call("history", {"recepient": "ALL"})
        assert ack["code"] == "200" and [m["data"] for m in ack["messages"]][-1:] == ["kept"], ack
    finally:
        alice.close()
        bob.close()


def test_the_store_runs_in_one_child_process_that_ends_with_the_server(tmp_path):
    port = free_port()
    with ServerProcess(chatserver_command(port), port, log_dir=tmp_path) as server:
        children = store_children(server.process.pid)
        assert len(children) == 1, children
        assert_history_works(server.url)
    assert process_ended(children[0]), "the store's process outlived a stopped server"


def test_the_store_process_ends_when_the_server_is_killed(tmp_path):
    port = free_port()
    with ServerProcess(chatserver_command(port), port, log_dir=tmp_path) as server:
        [child] = store_children(server.process.pid)
        server.process.send_signal(signal.SIGKILL)
        assert process_ended(child), "the store's process outlived a killed server"


def test_store_process_off_keeps_the_store_in_the_server(tmp_path):
    port = free_port()
    env = {"CHATSERVER_STORE_PROCESS": "off"}
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path) as server:
        assert store_children(server.process.pid) == []
        assert_history_works(server.url)
