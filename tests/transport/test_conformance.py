"""Transport conformance: the wire behaves as socket.io 4.8 / engine.io 6 do (issue 14, item 5).

Written from the protocol documents (socketio/engine.io-protocol and socketio/socket.io-protocol,
their specs and test-suite/) and the Node server's code (engine.io 6: lib/server.ts, lib/socket.ts,
lib/transports/polling.ts; socket.io-parser's Decoder), with raw WebSocket and HTTP clients so
that every byte is ours. Each point runs against a real server process under eventlet (the
default), threading (`flask run`) and gevent (`gunicorn -k gevent`).

a. an invalid Engine.IO or Socket.IO packet closes the connection, over WebSocket and long-polling;
   chat-level bad input is answered and the socket stays up; binary packets are still refused;
b. a long-polling GET after the ping timed out is answered 400;
c. a second long-polling GET while one waits is refused (400) and the session closed;
d. a forced close while a GET waits answers that GET with a NOOP ("6");
e. no NOOP goes out over the new WebSocket after an upgrade;
f. a CONNECT to an unknown namespace gets CONNECT_ERROR {"message": "Invalid namespace"};
g. a request without a `transport` query parameter is answered 400;
h. the OPEN packet gives pingInterval and pingTimeout in exact milliseconds as configured.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import websocket
from raw_clients import SOCKETIO_PATH, RawPolling, RawWebSocket, request

from support import BIN, ServerProcess, chatserver_command, free_port

# Ping settings no whole-second or truncating conversion keeps: python-engineio advertised 20000 and 1004.
PING_INTERVAL, PING_TIMEOUT = "20.25", "1.005"
# Pings far longer than any wait below: a connection that closes did so for what the test sent.
CLOSE_WAIT = 3.0


def command(mode: str, port: int) -> tuple[list[str], signal.Signals]:
    """The command line that serves the chat in async ``mode`` on ``port``, and the signal that stops it quickly."""
    if mode == "eventlet":
        return chatserver_command(port), signal.SIGTERM
    if mode == "threading":
        return [str(BIN / "flask"), "--app", "chatserver", "run", "--port", str(port)], signal.SIGTERM
    return ([str(BIN / "gunicorn"), "-k", "gevent", "-w", "1", "--bind", f"127.0.0.1:{port}",
             "chatserver:create_app()"], signal.SIGINT)


def start(mode: str, tmp_path, **settings: str) -> ServerProcess:
    """Start a server in async ``mode`` with CHATSERVER_<name> ``settings``."""
    port = free_port()
    argv, stop_signal = command(mode, port)
    env = {f"CHATSERVER_{name}": value for name, value in settings.items()}
    env["CHATSERVER_RATE_LIMIT_PER_SECOND"] = "0"
    return ServerProcess(argv, port, env=env, log_dir=tmp_path, stop_signal=stop_signal).start()


@pytest.fixture(scope="module", params=["eventlet", "threading", "gevent"])
def server(request, tmp_path_factory):
    """A server with long, odd ping settings, in each async mode."""
    process = start(request.param, tmp_path_factory.mktemp(request.param),
                    PING_INTERVAL=PING_INTERVAL, PING_TIMEOUT=PING_TIMEOUT)
    yield process
    process.stop()


@pytest.fixture(scope="module", params=["eventlet", "threading", "gevent"])
def quick_pings(request, tmp_path_factory):
    """A server whose pings time out within seconds (a short interval, a timeout longer than engine.io's sweep
    needs to notice on its own soon after), in each async mode."""
    process = start(request.param, tmp_path_factory.mktemp(request.param + "-pings"),
                    PING_INTERVAL="0.5", PING_TIMEOUT="3")
    yield process
    process.stop()


def get_in_background(raw: RawPolling, pool: ThreadPoolExecutor):
    """Start a long-polling GET on another thread; return its future (status, body)."""
    future = pool.submit(raw.get)
    time.sleep(0.5)  # until the server holds it waiting
    assert not future.done(), f"the GET did not wait: {future.result()}"
    return future


def assert_session_gone(raw: RawPolling) -> None:
    """The session no longer exists: a GET on it is answered 400."""
    status, body = raw.get(timeout=5)
    assert status == 400, (status, body)


def connected_websocket(server: ServerProcess) -> RawWebSocket:
    """A raw WebSocket connected to the main Socket.IO namespace."""
    raw = RawWebSocket(server)
    raw.connect_namespace()
    return raw


def connected_polling(server: ServerProcess) -> RawPolling:
    """A raw long-polling session connected to the main Socket.IO namespace."""
    raw = RawPolling(server)
    assert raw.post("40") == 200
    assert raw.packets()[0].startswith("40")
    return raw


# -- a. invalid packets close the connection ----------------------------------------------------

INVALID_ENGINEIO = [
    pytest.param("abc", id="unknown-type"),
    pytest.param("", id="empty"),
    pytest.param("7", id="type-7"),
    pytest.param("9hello", id="type-9"),
    pytest.param("2", id="ping-from-the-client"),
    pytest.param("2probe", id="probe-outside-an-upgrade"),
]


@pytest.mark.parametrize("packet", INVALID_ENGINEIO)
def test_invalid_engineio_packet_closes_the_websocket(server, packet):
    """engine.io-protocol "closes the session upon invalid packet format" (WebSocket); engine.io 6 closes too
    for a PING from a v4 client ("invalid heartbeat direction") and for types its parser does not know."""
    raw = connected_websocket(server)
    try:
        raw.send(packet)
        assert raw.closed_by_server(CLOSE_WAIT), f"{packet!r} left the connection open"
    finally:
        raw.close()


@pytest.mark.parametrize("body", ["abc", "7", "2", "4hello\x1eabc"], ids=["unknown-type", "type-7", "ping", "second"])
def test_invalid_engineio_packet_closes_the_polling_session(server, body):
    """engine.io-protocol "closes the session upon invalid packet format" (long-polling): the POST gets 400
    and so does the next GET."""
    raw = connected_polling(server)
    assert raw.post(body) == 400
    assert_session_gone(raw)


INVALID_SOCKETIO = [
    pytest.param("4abc", id="unknown-type"),
    pytest.param("4", id="empty"),
    pytest.param("48", id="type-8"),
    pytest.param("42{}", id="object-payload"),
    pytest.param('42abc["message",{}]', id="invalid-ack-id"),
    pytest.param("42", id="event-without-payload"),
    pytest.param("42[]", id="event-empty-array"),
    pytest.param('42"login"', id="event-string-payload"),
    pytest.param('42["login",{', id="broken-json"),
    pytest.param("42[null]", id="event-name-null"),
    pytest.param('42[{"a":1}]', id="event-name-object"),
    pytest.param("43", id="ack-without-payload"),
    pytest.param("431{}", id="ack-object-payload"),
    pytest.param('41{"a":1}', id="disconnect-with-payload"),
    pytest.param('40"token"', id="connect-string-payload"),
    pytest.param("40", id="connect-twice"),
    pytest.param('44{"message":"x"}', id="connect-error-from-client"),
    pytest.param('42/nowhere,["message",{}]', id="event-to-unconnected-namespace"),
    pytest.param("41/nowhere,", id="disconnect-from-unconnected-namespace"),
    pytest.param('421-["message",{}]', id="attachments-on-a-text-event"),
]


@pytest.mark.parametrize("packet", INVALID_SOCKETIO)
def test_invalid_socketio_packet_closes_the_websocket(server, packet):
    """socket.io-protocol "should close the connection upon invalid format" (unknown type, invalid payload
    format, invalid ack id), the spec's "MUST close" for an EVENT without a non-empty array, and socket.io 4.8's
    "invalid state" close (a packet for a namespace not connected, a second CONNECT, a CONNECT_ERROR)."""
    raw = connected_websocket(server)
    try:
        raw.send(packet)
        assert raw.closed_by_server(CLOSE_WAIT), f"{packet!r} left the connection open"
    finally:
        raw.close()


def test_a_packet_before_connect_closes_the_websocket(server):
    """socket.io-protocol: "If the server does not receive a CONNECT packet first, then it MUST close the
    connection immediately"."""
    raw = RawWebSocket(server)
    try:
        raw.emit("login", {"id": "early"})
        assert raw.closed_by_server(CLOSE_WAIT)
    finally:
        raw.close()


@pytest.mark.parametrize("packet", ["42{}", '42abc["message",{}]', "42[null]", '42/nowhere,["message",{}]'],
                         ids=["object-payload", "invalid-ack-id", "event-name-null", "unconnected-namespace"])
def test_invalid_socketio_packet_closes_the_polling_session(server, packet):
    """The same over long-polling: the waiting GET gets the CLOSE packet ("1"), the next GET 400."""
    raw = connected_polling(server)
    with ThreadPoolExecutor(1) as pool:
        waiting = get_in_background(raw, pool)
        assert raw.post(packet) in {200, 400}  # the body was a valid Engine.IO payload; the session closes
        assert waiting.result(timeout=10) == (200, "1")
    assert_session_gone(raw)


CHAT_LEVEL_BAD_INPUT = [
    pytest.param('42["message",{"recepient":5,"data":"x"}]', "message", id="bad-message-payload"),
    pytest.param('42["message","hello"]', "message", id="message-payload-a-string"),
    pytest.param('42["nosuchevent",{}]', "nosuchevent", id="unknown-event"),
    pytest.param('42["disconnect"]', "disconnect", id="reserved-disconnect"),
    pytest.param('42["connect",{}]', "connect", id="reserved-connect"),
    pytest.param("42[123,{}]", "", id="number-event-name"),  # command: empty when the name is no string
]


@pytest.mark.parametrize(("packet", "command"), CHAT_LEVEL_BAD_INPUT)
def test_chat_level_bad_input_is_answered_and_the_websocket_stays_up(server, packet, command):
    """Well-formed Socket.IO packets the chat refuses (docs/protocol.md) get their `response` 400, not a close."""
    raw = connected_websocket(server)
    try:
        user = f"bad-input-{time.monotonic_ns()}"
        raw.emit("login", {"id": user})
        assert raw.receive_event("response")["code"] == "200"
        raw.send(packet)
        reply = raw.receive_event("response")
        assert (str(reply["command"]), reply["code"]) == (command, "400")
        raw.emit("message", {"recepient": user, "data": "still here"})
        assert raw.receive_event("response")["code"] == "200"
    finally:
        raw.close()


def test_chat_level_bad_input_is_answered_and_the_polling_session_stays_up(server):
    """The same over long-polling: the POST gets 200, the response arrives, the session goes on."""
    raw = connected_polling(server)
    assert raw.post('42["nosuchevent",{}]\x1e42["message",{"recepient":5,"data":"x"}]') == 200
    received = []
    while len(received) < 2:
        received += [json.loads(packet[2:]) for packet in raw.packets() if packet.startswith("42")]
    # Not logged in: the message is refused 401, before its payload is looked at. (With recovery on,
    # an event's last argument is its offset.)
    assert [(name, reply["command"], reply["code"]) for name, reply, *_offset in received] == [
        ("response", "nosuchevent", "400"), ("response", "message", "401")]
    assert raw.post(f'42["login",{{"id":"polling-{time.monotonic_ns()}"}}]') == 200
    assert any('"code":"200"' in packet for packet in raw.packets())


def test_binary_packets_are_still_refused_without_a_close(server):
    """docs/security.md: binary Socket.IO packets are dropped before the decoder; the socket stays up and
    the dropped event never runs."""
    raw = connected_websocket(server)
    try:
        raw.send('451-["login",{"_placeholder":true,"num":0}]')
        raw.send(b"\x01\x02\x03")
        raw.emit("nosuchevent", {})
        # The first answer is to the text event: the binary login was never handled.
        reply = raw.receive_event("response")
        assert (reply["command"], reply["code"]) == ("nosuchevent", "400")
    finally:
        raw.close()


# -- b. a GET after the ping timed out --------------------------------------------------------------


def test_a_polling_get_after_the_ping_timeout_is_400(quick_pings):
    """engine.io-protocol "closes the session upon ping timeout" (long-polling): the client answers no ping;
    a GET once pingInterval + pingTimeout passed gets 400, not the unanswered PING with 200."""
    raw = RawPolling(quick_pings)
    time.sleep(0.5 + 3 + 0.3)
    status, body = raw.get(timeout=5)
    assert status == 400, (status, body)


def test_a_polling_session_that_answers_its_pings_lives_on(quick_pings):
    """The other side of b: a client that answers each PING is not timed out."""
    raw = RawPolling(quick_pings)
    for _ in range(3):
        assert raw.packets() == ["2"]
        assert raw.post("3") == 200
    assert raw.packets() == ["2"]


def test_a_silent_websocket_is_dropped_after_the_ping_timeout(quick_pings):
    """The WebSocket side of b: a client that answers no PING is closed once pingInterval + pingTimeout passed
    (under eventlet the PINGs come from a hub timer, not a green thread per socket)."""
    raw = RawWebSocket(quick_pings)
    started = time.monotonic()
    pings = []
    raw.ws.settimeout(8)
    try:
        while True:
            pings.append(raw.ws.recv())  # never answered
            if not pings[-1]:
                break
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        pass
    assert pings[:1] == ["2"], pings
    assert 0.5 + 3 - 0.2 < time.monotonic() - started < 8, pings
    raw.close()


def test_a_websocket_that_answers_its_pings_lives_on(quick_pings):
    """The other side: a WebSocket client that answers each PING is pinged again and again and not timed out."""
    raw = RawWebSocket(quick_pings)
    raw.connect_namespace()
    deadline = time.monotonic() + 0.5 + 3 + 1.5
    pings = 0
    while time.monotonic() < deadline:
        assert raw.ws.recv() == "2"
        raw.send("3")
        pings += 1
    assert pings >= 6
    raw.emit("login", {"id": "pinged"})
    assert raw.receive_event("response")["code"] == "200"
    raw.close()


# -- c. overlapping GETs ---------------------------------------------------------------------------


def test_a_second_polling_get_while_one_waits_is_400_and_closes_the_session(server):
    """engine.io-protocol "closes the session upon duplicate poll requests": the second GET gets 400 at once,
    the waiting one the CLOSE packet ("1"), and the session is gone."""
    raw = RawPolling(server)
    with ThreadPoolExecutor(1) as pool:
        waiting = get_in_background(raw, pool)
        status, body = raw.get(timeout=5)
        assert status == 400, (status, body)
        assert waiting.result(timeout=10) == (200, "1")
    assert_session_gone(raw)


# -- d. a forced close while a GET waits -------------------------------------------------------------


def test_a_forced_close_answers_the_waiting_get_with_a_noop(server):
    """engine.io-protocol "forcefully closes the session" (long-polling): the client POSTs CLOSE ("1") while
    its GET waits; the GET gets a NOOP ("6"), not an empty body, and the next GET 400."""
    raw = connected_polling(server)
    with ThreadPoolExecutor(1) as pool:
        waiting = get_in_background(raw, pool)
        assert raw.post("1") == 200
        assert waiting.result(timeout=10) == (200, "6")
    assert_session_gone(raw)


# -- e. no NOOP over the upgraded WebSocket ----------------------------------------------------------


def upgrade(server: ServerProcess, raw: RawPolling, get_during_upgrade: bool) -> websocket.WebSocket:
    """Upgrade ``raw``'s session to WebSocket (probe, then UPGRADE); return the WebSocket."""
    url = f"ws://127.0.0.1:{server.port}{SOCKETIO_PATH}?EIO=4&transport=websocket&sid={raw.sid}"
    ws = websocket.create_connection(url, timeout=5)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    if get_during_upgrade:
        # engine.io-protocol: "noop" packet to cleanly end the HTTP long-polling request
        assert raw.packets() == ["6"]
    ws.send("5")
    return ws


@pytest.mark.parametrize("get_during_upgrade", [False, True], ids=["no-get", "get-during-upgrade"])
def test_no_noop_goes_out_over_the_websocket_after_an_upgrade(server, get_during_upgrade):
    """engine.io-protocol "successfully upgrades from HTTP long-polling to WebSocket": after the UPGRADE, the
    first packet on the WebSocket is the answer to what the client sent, not a leftover NOOP."""
    raw = RawPolling(server)
    ws = upgrade(server, raw, get_during_upgrade)
    try:
        ws.send("40")
        first = ws.recv()
        assert first.startswith("40{"), first
        ws.send('42["nosuchevent",{}]')
        assert ws.recv().startswith('42["response"')
    finally:
        ws.close()


def test_http_requests_after_an_upgrade_are_400(server):
    """engine.io-protocol "ignores HTTP requests with same sid after upgrade"."""
    raw = RawPolling(server)
    ws = upgrade(server, raw, get_during_upgrade=False)
    try:
        ws.send("40")
        assert ws.recv().startswith("40{")
        assert raw.get(timeout=5)[0] == 400
    finally:
        ws.close()


# -- f. unknown namespaces ---------------------------------------------------------------------------


@pytest.mark.parametrize("packet", ["40/random", "40/random,", '40/random,{"token":"x"}'])
def test_connect_to_an_unknown_namespace_is_refused_with_the_error_object(server, packet):
    """socket.io-protocol "should disallow connection to an unknown namespace": CONNECT_ERROR with the object
    {"message": "Invalid namespace"}; the connection stays open for the namespaces that exist."""
    raw = RawWebSocket(server)
    try:
        raw.send(packet)
        assert raw.receive() == '44/random,{"message":"Invalid namespace"}'
        raw.connect_namespace()
    finally:
        raw.close()


# -- g. the transport query parameter ----------------------------------------------------------------


@pytest.mark.parametrize("query", ["EIO=4", "EIO=4&transport=", "EIO=4&transport=abc", "EIO=4&t=transport=polling"],
                         ids=["missing", "empty", "unknown", "inside-another-value"])
def test_a_request_without_a_valid_transport_is_400(server, query):
    """engine.io-protocol "fails with an invalid 'transport' query parameter" (long-polling): 400, no session."""
    status, body = request(server, "GET", query, timeout=5)
    assert status == 400, (status, body)


def test_a_websocket_without_a_transport_is_refused(server):
    """engine.io-protocol "fails with an invalid 'transport' query parameter" (WebSocket): no handshake."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"ws://127.0.0.1:{server.port}{SOCKETIO_PATH}?EIO=4", timeout=5)
    assert refused.value.status_code == 400


def test_a_session_request_without_a_transport_is_400(server):
    """With a session too: a POST naming no transport is refused, and the session carries on."""
    raw = RawPolling(server)
    assert request(server, "POST", f"EIO=4&sid={raw.sid}", b"40", timeout=5)[0] == 400
    assert raw.post("40") == 200


# -- h. ping settings in the OPEN packet -------------------------------------------------------------


def test_open_packet_gives_the_ping_settings_in_exact_milliseconds(server):
    """engine.io-protocol "successfully opens a session": pingInterval and pingTimeout as configured, in
    milliseconds (20.25 s and 1.005 s: python-engineio said 20000 and 1004), over both transports."""
    expected = (round(float(PING_INTERVAL) * 1000), round(float(PING_TIMEOUT) * 1000))
    polling = RawPolling(server).open
    assert set(polling) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert (polling["pingInterval"], polling["pingTimeout"]) == expected == (20250, 1005)
    raw = RawWebSocket(server)
    try:
        assert (raw.open["pingInterval"], raw.open["pingTimeout"]) == expected
    finally:
        raw.close()


def test_the_server_keeps_serving_after_all_of_it(server):
    """Nothing above disturbed the server: a new client still logs in."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    raw = connected_websocket(server)
    try:
        raw.emit("login", {"id": "after-conformance"})
        assert raw.receive_event("response")["code"] == "200"
    finally:
        raw.close()
