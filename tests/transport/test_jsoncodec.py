"""The packets' JSON: orjson's speed, the standard library's answers where orjson has none."""

from __future__ import annotations

import json
import math

import pytest
from socketio import packet as sio_packet

from chatserver.transport import jsoncodec
from chatserver.transport.packets import packet_class


@pytest.mark.parametrize("value", [
    ["message", {"command": "chat", "data": "hello", "timestamp": 1764300000000, "ok": True, "none": None}],
    {"nested": [1, 2.5, -0.0, [], {}], "empty": ""},
    "안녕하세요 \u2028 \x00 \"quoted\" \\ back",
])
def test_what_it_writes_reads_back_as_the_standard_library_reads_it(value):
    text = jsoncodec.dumps(value, separators=(",", ":"))
    assert json.loads(text) == value
    assert jsoncodec.loads(text) == value
    assert ", " not in text and '": ' not in text  # compact, as python-socketio asks


def test_non_ascii_text_goes_out_as_utf8_not_escapes():
    assert jsoncodec.dumps({"data": "안녕"}) == '{"data":"안녕"}'


@pytest.mark.parametrize("value", [
    {1: "a key that is not a string"},
    [2 ** 70],  # beyond 64 bits
    ["\ud800"],  # a lone surrogate
])
def test_what_orjson_cannot_write_is_written_by_the_standard_library(value):
    assert jsoncodec.dumps(value) == json.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize("text", ['"\\ud800"', "[NaN]", "[Infinity]", "[1e400]"])
def test_what_orjson_cannot_read_is_read_by_the_standard_library(text):
    expected, got = json.loads(text), jsoncodec.loads(text)
    if isinstance(expected, list) and isinstance(expected[0], float) and math.isnan(expected[0]):
        assert math.isnan(got[0])
    else:
        assert got == expected


@pytest.mark.parametrize("text", ["[1,", "{'a': 1}", "", "[1] x"])
def test_what_is_not_json_raises_value_error(text):
    with pytest.raises(ValueError):
        jsoncodec.loads(text)


def test_socketio_packets_use_it_unless_the_host_app_chose_its_own(monkeypatch):
    chat_packet = packet_class()
    assert chat_packet.json.loads is jsoncodec.loads
    encoded = chat_packet(sio_packet.EVENT, data=["message", {"data": "안녕"}], namespace="/").encode()
    assert encoded == '2["message",{"data":"안녕"}]'
    assert chat_packet(encoded_packet=encoded).data == ["message", {"data": "안녕"}]

    monkeypatch.setattr(sio_packet.Packet, "json", json)  # what socketio.Server(json=...) does
    assert packet_class().json.loads is json.loads
    assert packet_class().json.dumps(["message", {"data": "안녕"}]) == '["message", {"data": "\\uc548\\ub155"}]'
