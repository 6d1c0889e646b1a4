"""The fast unmask gives exactly what eventlet's byte-by-byte version gives."""

import os

import pytest

from chatserver.leanwebsocket import unmask


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
