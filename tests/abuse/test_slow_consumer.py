"""Item 5: a client that stops reading is not buffered without limit: its send queue is bounded
and it is dropped with a logged reason, on either transport."""

from __future__ import annotations

import pytest
from abuse_support import chatserver_process, rss_kib, still_serves
from raw_clients import RawPolling, RawWebSocket

from support import RecordingClient

QUEUE_LIMIT = 65536
# 2,000 Hangul syllables: 6 KB of UTF-8 per delivered message, 2,000 characters in the send queue.
BIG = "한" * 2000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with chatserver_process(
        tmp_path_factory.mktemp("slow"), SEND_QUEUE_BYTES=QUEUE_LIMIT, RATE_LIMIT_PER_SECOND=0,
        # A dropped slow consumer is a drop: its user stays online for the grace, here short.
        PRESENCE_GRACE=1,
    ) as process:
        yield process


def flood_everyone_until_offline(server, watcher: RecordingClient, slow_user: str, messages: int) -> None:
    """Broadcast big messages until the watcher hears that ``slow_user`` went offline."""
    sender = RecordingClient(server.url)
    try:
        assert sender.call("login", {"id": "sender-" + slow_user})["code"] == "200"
        for _ in range(messages):
            sender.emit("message", {"recepient": "ALL", "data": BIG})
        watcher.next("presence", timeout=20, command="offline", id=slow_user)
    finally:
        sender.close()


def test_a_websocket_client_that_stops_reading_is_dropped(server):
    watcher = RecordingClient(server.url)
    assert watcher.call("login", {"id": "watcher-ws"})["code"] == "200"
    slow = RawWebSocket(server, receive_buffer=4096)
    try:
        slow.connect_namespace()
        slow.emit("login", {"id": "slow-ws"})
        watcher.next("presence", command="online", id="slow-ws")
        before = rss_kib(server.process.pid)
        # From here on `slow` reads nothing; the kernel buffers fill first, then its send queue.
        flood_everyone_until_offline(server, watcher, "slow-ws", messages=1500)
        grown = rss_kib(server.process.pid) - before
        print(f"server RSS growth while a WebSocket client stopped reading 9 MB of messages: {grown} KiB")
        assert grown < 40_000
        assert "dropping client" in server.log() and "it stopped reading" in server.log()
        assert slow.closed_by_server(timeout=5)  # its TCP connection was cut, not left hanging
    finally:
        slow.close()
        watcher.close()
    still_serves(server)


def test_a_long_polling_client_that_stops_polling_is_dropped(server):
    watcher = RecordingClient(server.url)
    assert watcher.call("login", {"id": "watcher-polling"})["code"] == "200"
    slow = RawPolling(server)
    assert slow.post("40") == 200
    assert slow.post('42["login",{"id":"slow-polling"}]') == 200
    watcher.next("presence", command="online", id="slow-polling")
    # It never sends another GET: everything for it waits in its send queue (60 x 2,000 > 65,536).
    flood_everyone_until_offline(server, watcher, "slow-polling", messages=60)
    assert slow.request("GET")[0] == 400  # the session is gone
    watcher.close()
    still_serves(server)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_presence_list_bigger_than_the_limit_reaches_a_client_that_reads(tmp_path, transport):
    """The limit is on what waits behind a packet: one big packet (the list, with many online) passes."""
    with chatserver_process(tmp_path, SEND_QUEUE_BYTES=2048) as process:
        ids = [f"user-{n}" for n in range(8)]
        crowd = [RecordingClient(process.url) for _ in ids]
        newcomer = RecordingClient(process.url, transports=[transport])
        try:
            for client, user in zip(crowd, ids, strict=True):
                # 64 Hangul syllables: 384 bytes of JSON escapes, so the list is about 3.5 KB.
                assert client.call("login", {"id": user, "alias": "한" * 64})["code"] == "200"
            assert newcomer.call("login", {"id": "newcomer"})["code"] == "200"
            listed = newcomer.next("presence", command="list")["users"]
            assert [user["id"] for user in listed] == sorted([*ids, "newcomer"])
            # The newcomer is still connected and gets what follows.
            assert crowd[0].call("message", {"recepient": "newcomer", "data": "welcome"})["code"] == "200"
            assert newcomer.next("message", data="welcome")["sender"] == ids[0]
            assert "dropping client" not in process.log()
        finally:
            for client in [newcomer, *crowd]:
                client.close()
