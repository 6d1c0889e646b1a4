"""Fast unit tests of the transport guards, without a server."""

from __future__ import annotations

import queue
import time

import pytest
from socketio.packet import Packet as SocketIOPacket

from chatserver.transport.malformed import refused_over_websocket, undecodable
from chatserver.transport.packetfilter import is_binary
from chatserver.transport.packetrules import InvalidPacket, decode
from chatserver.transport.sendqueue import FLUSH_WAIT, PACKET_OVERHEAD, bounded_queue_class
from chatserver.transport.upgrade import without_noops


class Packet:
    def __init__(self, data):
        self.data = data


def make_queue(limit):
    overflows = []
    send_queue = bounded_queue_class(queue.Queue)(limit, lambda q, waiting: overflows.append((q, waiting)), time.sleep)
    return send_queue, overflows


def test_a_send_queue_overflows_once_then_drops_but_always_takes_the_end_mark():
    size = PACKET_OVERHEAD + 10
    send_queue, overflows = make_queue(limit=size)
    send_queue.put(Packet("a" * 10))  # the next packet out: not counted
    send_queue.put(Packet("b" * 10))  # waits behind it: exactly the limit
    send_queue.put(Packet("c" * 10))  # over the limit: overflow, dropped
    send_queue.put(Packet("d"))  # dropped without a second overflow
    send_queue.put(None)  # engine.io's end-of-stream mark gets through
    assert overflows == [(send_queue, 2 * size)]
    assert [send_queue.get().data, send_queue.get().data, send_queue.get()] == ["a" * 10, "b" * 10, None]
    assert send_queue.queued_bytes == 0


def test_the_largest_packet_is_not_counted_but_what_waits_besides_it_is():
    size = PACKET_OVERHEAD + 10
    send_queue, overflows = make_queue(limit=2 * size)
    send_queue.put(Packet("L" * 100_000))  # e.g. the presence list with thousands online
    send_queue.put(Packet("x" * 10))
    send_queue.put(Packet("y" * 10))  # besides the big one: exactly the limit
    assert overflows == []
    send_queue.put(Packet("z" * 10))
    assert overflows == [(send_queue, 3 * size)]
    assert [send_queue.get().data[0] for _ in range(3)] == ["L", "x", "y"]
    assert send_queue.queued_bytes == 0 and send_queue.largest == 0


def test_a_zero_limit_means_unbounded():
    send_queue, overflows = make_queue(limit=0)
    for _ in range(1000):
        send_queue.put(Packet("x" * 1000))
    assert overflows == [] and send_queue.qsize() == 1000


def test_join_gives_up_when_no_one_takes_the_queue():
    send_queue, _ = make_queue(limit=0)
    send_queue.put(Packet("never collected"))
    started = time.monotonic()
    send_queue.join()
    assert FLUSH_WAIT <= time.monotonic() - started < FLUSH_WAIT + 1


def test_binary_packets_are_recognised():
    assert is_binary(b"\x00") and is_binary('51-["message",{"_placeholder":true,"num":0}]') and is_binary("6")
    assert not is_binary('2["message",{}]') and not is_binary("") and not is_binary("40")


def test_messages_engineio_cannot_decode_are_recognised():
    for message in ["abc", "", "ba", "b!a=", " 4", "\u0663", "\u00b2", "x42[]"]:
        assert undecodable(message), message
    for message in ["2", "3probe", "40", '42["message",{}]', "9", "bYWJj", "b", b"\xff\x00", b"", None]:
        assert not undecodable(message), message


def test_engineio_packets_socketio_closes_a_websocket_for_are_recognised():
    for message in ["abc", "", "7", "8x", "9", "2", "2probe", "\u0663"]:
        assert refused_over_websocket(message), message
    for message in ["3", "3probe", "40", "1", "5", "6", b"\x01", None]:
        assert not refused_over_websocket(message), message
    assert not refused_over_websocket("2probe", upgrading=True)
    assert refused_over_websocket("2", upgrading=True)


@pytest.mark.parametrize("encoded", [
    "", "7", "5", "\u0663", "abc", "2", "2[]", '2"x"', "2{}", "2[null]", "2[true]", '2[{"a":1}]', "2[[1]]",
    '2["x",', "2 ", "3", "3{}", '1{"a":1}', '0"token"', "0[]", '4{"message":"x"}', '21-["x"]', '2abc["x"]',
])
def test_socketio_packets_socketio_refuses_raise_invalid_packet(encoded):
    with pytest.raises(InvalidPacket):
        decode(SocketIOPacket, encoded)


@pytest.mark.parametrize("encoded", [
    '2["message",{}]', '212["message"]', "2[7]", "2[1.5]", '2["disconnect"]', "3[]", '31["a",1]', "1",
    "1/chat,", "0", '0{"token":"x"}', "0/chat,", '2/chat,["x"]',
])
def test_well_formed_socketio_packets_decode(encoded):
    assert decode(SocketIOPacket, encoded).packet_type == int(encoded[0])


def test_no_noop_is_sent_over_a_websocket():
    sent = []
    send = without_noops(sent.append)
    for message in ["6", "40", "6", "2", b"6", "60"]:
        send(message)
    assert sent == ["40", "2", b"6", "60"]
