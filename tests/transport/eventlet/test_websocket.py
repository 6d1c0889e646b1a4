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
