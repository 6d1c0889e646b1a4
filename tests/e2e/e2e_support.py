"""Helpers for the end-to-end tests: unique ids, logging in, barriers, raw Socket.IO packets."""

from __future__ import annotations

import queue
import sys
import uuid
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
if str(TESTS) not in sys.path:  # tests/ has no __init__.py: make tests/support.py importable
    sys.path.insert(0, str(TESTS))

from support import RecordingClient  # noqa: E402

TRANSPORTS = ["websocket", "polling"]
MESSAGE_FIELDS = {"id", "sender", "recepient", "command", "type", "data", "timestamp"}


def new_id(name: str = "user") -> str:
    """Return a login id no other test uses, so tests can share one server process."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def login(client: RecordingClient, user: str, **fields) -> dict:
    """Log ``client`` in as ``user``, assert it worked, and return the presence list it got."""
    ack = client.call("login", {"id": user, **fields})
    assert ack["code"] == "200", ack
    return client.next("presence", command="list")


def assert_next_is_barrier(observer: RecordingClient, observer_id: str, sender: RecordingClient,
                           sender_id: str | None = None) -> None:
    """Have ``sender`` message ``observer`` and assert that message is the next thing it receives.

    The server handles one socket's events in order and emits to each socket in order, so
    anything an earlier event of ``sender`` caused at ``observer`` would arrive first.
    """
    token = new_id("barrier")
    ack = sender.call("message", {"recepient": observer_id, "data": token})
    assert ack["code"] == "200", ack
    name, payload = observer.next()
    assert (name, payload.get("data") if isinstance(payload, dict) else payload) == ("message", token), (
        f"{observer_id} received {name} {payload!r} before the barrier message"
    )
    if sender_id is not None:
        assert payload["sender"] == sender_id, payload


def raw_call(client: RecordingClient, body: str, timeout: float = 3.0):
    """Send one Socket.IO EVENT packet as-is (``2<ack id><body>``, namespace /) and return its ack.

    This bypasses every check python-socketio's client could make, so what goes on the wire is
    exactly ``body``: e.g. ``["disconnect"]`` or ``[{"a":1}]``.
    """
    acks: queue.Queue = queue.Queue()
    ack_id = client.sio._generate_ack_id(client.namespace, lambda *args: acks.put(args))
    client.sio.eio.send(f"2{ack_id}{body}")
    try:
        args = acks.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no acknowledgement for the packet 2{ack_id}{body} within {timeout} s") from None
    return args[0] if len(args) == 1 else list(args)


def assert_next_is_broadcast(sender: RecordingClient, *observers: RecordingClient) -> None:
    """Have ``sender`` (logged in) broadcast, and assert that is the next thing each observer receives."""
    token = new_id("broadcast")
    ack = sender.call("message", {"recepient": "ALL", "data": token})
    assert ack["code"] == "200", ack
    for observer in observers:
        name, payload = observer.next()
        assert (name, payload.get("data") if isinstance(payload, dict) else payload) == ("message", token), (
            f"received {name} {payload!r} before the broadcast"
        )
