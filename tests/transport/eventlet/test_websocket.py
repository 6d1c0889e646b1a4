"""The fast unmask gives exactly what eventlet's byte-by-byte version gives."""

import os

import pytest

from chatserver.transport.eventlet.websocket import unmask


def reference_unmask(data, mask, length=None, offset=0):
    """eventlet's RFC6455WebSocket._apply_mask, as written there."""
    if length is None:
        length = len(data)
    return b"".join(bytes((data[i] ^ mask[(offset + i) % 4],)) for i in range(length))


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 126, 4096, 65537])
@pytest.mark.parametrize("offset", [0, 1, 2, 3, 7])
def test_unmask_matches_eventlet(size, offset):
    data, mask = os.urandom(size), os.urandom(4)
    assert unmask(data, mask, offset=offset) == reference_unmask(data, mask, offset=offset)
    assert unmask(data + b"tail", mask, length=size, offset=offset) == reference_unmask(data, mask, offset=offset)


def test_unmask_keeps_leading_zero_bytes():
    assert unmask(b"\x00\x00ab", b"\x00\x00\x00\x00") == b"\x00\x00ab"


class _Recorder:
    """Stands in for eventlet's green socket: records what sendall was given."""

    def __init__(self):
        self.writes = []

    def sendall(self, data):
        self.writes.append(bytes(data))


@pytest.mark.parametrize("text", ["", "x", "é" * 40, "y" * 125, "z" * 126, "w" * 65535, "v" * 65536])
def test_websocket_frame_matches_eventlet(text):
    from engineio.packet import MESSAGE, Packet
    from eventlet.websocket import RFC6455WebSocket

    from chatserver.transport.eventlet.websocket import websocket_frame

    packet = Packet(MESSAGE, text)
    eventlet_socket = RFC6455WebSocket(_Recorder(), {}, 13)
    eventlet_socket.send(packet.encode())
    assert websocket_frame(packet) == eventlet_socket.socket.writes[0]
    assert websocket_frame(packet) is websocket_frame(packet), "a broadcast frames its packet once"


class _Connection:
    """Stands in for the client's TCP connection: records each ``send()`` and takes everything."""

    def __init__(self):
        self.sends = []

    def send(self, data, flags=0):
        self.sends.append(bytes(data))
        return len(data)


class _EngineSocket:
    """Stands in for an upgraded engine.io Socket (what CoalescingWriter reads of it)."""

    upgraded, upgrading = True, False

    def __init__(self):
        self.send = None

    def check_ping_timeout(self):
        return True


class _WebSocket:
    def __init__(self, connection):
        self.socket = connection
        self.send = None


def _writer():
    """A CoalescingWriter past its upgrade, writing to a recording connection."""
    from chatserver.transport.eventlet.websocket import CoalescingWriter

    connection, engine_socket = _Connection(), _EngineSocket()
    writer = CoalescingWriter(engine_socket, _WebSocket(connection), limit=0, on_overflow=None)
    writer.writer_busy = False  # as once the writer has sent what engine.io queued before the upgrade
    return writer, engine_socket, connection


def _packet(text, later=False):
    from engineio.packet import MESSAGE, Packet

    packet = Packet(MESSAGE, text)
    if later:
        packet.chatserver_later = True
    return packet


def test_frames_that_may_wait_are_written_together_within_the_delay():
    """Three presence-like frames in separate turns: not written at the turn's end, then in one send()."""
    import eventlet

    from chatserver.transport.eventlet.websocket import LATER_DELAY, websocket_frame

    writer, engine_socket, connection = _writer()
    packets = [_packet(f"online {n}", later=True) for n in range(3)]
    for packet in packets:
        engine_socket.send(packet)
        eventlet.sleep(0)  # the turn ends
    assert connection.sends == []
    eventlet.sleep(LATER_DELAY * 3)
    assert connection.sends == [b"".join(websocket_frame(p) for p in packets)]


def test_a_frame_that_may_not_wait_takes_the_waiting_ones_with_it_in_order():
    import eventlet

    from chatserver.transport.eventlet.websocket import LATER_DELAY, websocket_frame

    writer, engine_socket, connection = _writer()
    waiting, urgent, after = _packet("online", later=True), _packet("message"), _packet("offline", later=True)
    engine_socket.send(waiting)
    eventlet.sleep(0)
    engine_socket.send(urgent)
    engine_socket.send(after)  # same turn as the urgent one: goes with it
    eventlet.sleep(0)
    assert connection.sends == [websocket_frame(waiting) + websocket_frame(urgent) + websocket_frame(after)]
    eventlet.sleep(LATER_DELAY * 3)  # the delayed pass finds nothing left to write
    assert len(connection.sends) == 1


def test_frames_that_may_not_wait_are_written_at_the_end_of_each_turn():
    import eventlet

    from chatserver.transport.eventlet.websocket import websocket_frame

    writer, engine_socket, connection = _writer()
    first, second = _packet("one"), _packet("two")
    engine_socket.send(first)
    eventlet.sleep(0)
    engine_socket.send(second)
    eventlet.sleep(0)
    assert connection.sends == [websocket_frame(first), websocket_frame(second)]
