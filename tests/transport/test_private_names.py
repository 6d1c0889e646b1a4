"""The private names of python-socketio, python-engineio, eventlet and Flask-SocketIO chatserver relies on.

chatserver's transport subclasses, wraps and copies library internals (STYLE.md). Each check is
one of them, with the module of ours that needs it: a name, a parameter list we override or pass
keywords to, or the names a function we copied (or go around) touches. An upgrade that changes
one fails here, naming what to review, instead of as a traceback in a disconnect handler. The
versions these checks pass with are the ranges in setup.cfg; CI runs them at both ends
(constraints/floor.txt and constraints/newest.txt).
"""

from __future__ import annotations

import _socket
import configparser
import importlib
import inspect
import io
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from support import ROOT


def _tested_ranges() -> dict[str, str]:
    """setup.cfg's install_requires lines, by canonical project name."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in config["options"]["install_requires"].splitlines() if line.strip()]
    return {canonicalize_name(Requirement(line).name): line for line in lines}


TESTED = _tested_ranges()
PINNED = ["python-socketio", "python-engineio", "eventlet", "flask-socketio", "flask", "flask-cors", "simple-websocket"]


@dataclass(frozen=True)
class Reliance:
    """One private name of ``library`` that ``used_in`` (our code) needs; ``check`` raises if it changed."""

    library: str
    name: str
    used_in: str
    check: Callable[[], None]


# -- the kinds of check ------------------------------------------------------------------------


def _parameter_names(function: Callable) -> list[str]:
    """Parameter names as written: ``*args`` and ``**kwargs`` keep their stars."""
    star = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return [star.get(p.kind, "") + p.name for p in inspect.signature(function).parameters.values()]


def parameters(function: Callable[[], Callable], *expected: str) -> Callable[[], None]:
    """The function (resolved when checked) takes exactly these parameters, in this order."""

    def check() -> None:
        found = _parameter_names(function())
        assert found == list(expected), f"parameters are {found}, expected {list(expected)}"

    return check


def _code_names(function: Callable) -> set[str]:
    """The global and attribute names a function's own code uses."""
    return set(inspect.unwrap(function).__code__.co_names)


def touches(function: Callable[[], Callable], *names: str) -> Callable[[], None]:
    """The function's code still uses these names (it calls or reads what we replaced or wrapped)."""

    def check() -> None:
        missing = set(names) - _code_names(function())
        assert not missing, f"its code no longer uses {sorted(missing)}"

    return check


def touches_exactly(function: Callable[[], Callable], *names: str) -> Callable[[], None]:
    """The function's code uses exactly these names: our copy (or our way around it) matches its body."""

    def check() -> None:
        found = _code_names(function())
        added, removed = sorted(found - set(names)), sorted(set(names) - found)
        assert not added and not removed, f"its code changed: now also uses {added}, no longer uses {removed}"

    return check


def attribute(owner: Callable[[], Any], name: str, kind: type | tuple[type, ...] = object) -> Callable[[], None]:
    """``owner()`` (an instance or a class, made when checked) has ``name``, an instance of ``kind``."""

    def check() -> None:
        value = getattr(owner(), name)
        assert isinstance(value, kind), f"{name} is a {type(value).__name__}, expected {kind}"

    return check


def holds(condition: Callable[[], bool], problem: str) -> Callable[[], None]:
    """``condition()`` is true; ``problem`` says what it means when not."""

    def check() -> None:
        assert condition(), problem

    return check


def check_all(*checks: Callable[[], None]) -> Callable[[], None]:
    """Every one of ``checks`` passes."""

    def check() -> None:
        for each in checks:
            each()

    return check


# -- the objects, looked up and made only when a check runs, so a missing one fails its own test --


def lookup(dotted: str) -> Callable[[], Any]:
    """``"module:Attribute.attribute"``, imported and looked up when called."""

    def get() -> Any:
        module, _, path = dotted.partition(":")
        value: Any = importlib.import_module(module)
        for part in path.split("."):
            value = getattr(value, part)
        return value

    return get


def made(dotted: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
    """An instance of the class at ``dotted``, made when called."""
    return lambda: lookup(dotted)()(*args, **kwargs)


def nested(function: Callable[[], Callable], name: str) -> Callable[[], Any]:
    """The function defined inside ``function`` as ``name`` (a closure), as something with a ``__code__``."""

    def get() -> Any:
        code = inspect.unwrap(function()).__code__
        inner = next(c for c in code.co_consts if inspect.iscode(c) and c.co_name == name)
        return type(name, (), {"__code__": inner})

    return get


sio_server = made("socketio:Server", async_mode="threading")
eio_server = made("engineio:Server", async_mode="threading")


def eio_socket() -> Any:
    """An engine.io Socket of a threading-mode server."""
    return lookup("engineio.socket:Socket")()(eio_server(), "sid")


def flask_socketio() -> Any:
    """A Flask-SocketIO SocketIO on a new Flask app."""
    from flask import Flask

    return lookup("flask_socketio:SocketIO")()(Flask(__name__), async_mode="threading")


def _engine_reasons() -> set[str]:
    reason = lookup("engineio:Server.reason")()
    return {reason.TRANSPORT_CLOSE, reason.TRANSPORT_ERROR, reason.PING_TIMEOUT, reason.CLIENT_DISCONNECT}


def _recovery_reasons() -> set[str]:
    recovery = importlib.import_module("chatserver.transport.recovery")
    return {*recovery.DROPS, recovery.CLIENT_DISCONNECT}


def room_forward_map() -> None:
    manager = sio_server().manager
    sid = manager.pre_connect("eio-sid", "/")
    manager.connect(sid, "/")
    members = manager.rooms["/"][sid]
    assert dict(members._fwdm) == {sid: "eio-sid"}, "a room's _fwdm is not its sid -> eio_sid dict"


def manager_connect_phases() -> None:
    """pre_connect, connect, pre_disconnect: a client counts as connected only in between."""
    manager = sio_server().manager
    sid = manager.pre_connect("eio-sid", "/")
    assert sid is not None, "pre_connect refused a new client"
    assert not manager.is_connected(sid, "/"), "is_connected is true before the connect handler accepted the client"
    assert manager.connect(sid, "/") == sid, "connect(sid) after pre_connect returned another sid"
    assert manager.is_connected(sid, "/"), "is_connected is false once connected"
    assert list(manager.get_participants("/", sid)) == [(sid, "eio-sid")], "get_participants yields no (sid, eio_sid)"
    manager.pre_disconnect(sid, "/")
    assert not manager.is_connected(sid, "/"), "is_connected is true while disconnecting"


def green_socket_fd() -> None:
    """A GreenSocket's ``fd`` is the real socket under it."""
    green = lookup("eventlet.greenio:GreenSocket")()()
    try:
        # _socket.socket: eventlet's fd is a socket.socket of its own unpatched copy of the module.
        assert isinstance(green.fd, _socket.socket), f"fd is a {type(green.fd).__name__}, not the real socket"
    finally:
        green.close()


def open_packet_through_connect(transport: str) -> Callable[[], None]:
    """A handshake on ``transport`` queues the OPEN packet, runs the connect handler, then encodes the packet."""

    def check() -> None:
        server = eio_server()
        server.start_service_task = False  # no monitor thread for a server that serves one request
        open_type, payload = lookup("engineio.packet:OPEN")(), lookup("engineio.payload:Payload")()
        sent: list[str] = []

        class HangingUpWebSocket:
            """The async mode's WebSocket app, for a client that hangs up after the handshake."""

            def __init__(self, handler: Callable, server: Any) -> None:
                self.handler = handler

            def __call__(self, environ: dict, start_response: Callable) -> Any:
                return self.handler(self)

            def wait(self) -> None:
                return None

            def send(self, message: str) -> None:
                sent.append(message)

            def close(self) -> None:
                pass

        queued: list[Any] = []

        def on_connect(sid: str, environ: dict) -> None:
            queued.extend(server.sockets[sid].queue.queue)
            for packet in queued:
                if packet.packet_type == open_type and isinstance(packet.data, dict):
                    packet.data["pingInterval"] = 1234

        server._async = dict(server._async, websocket=HangingUpWebSocket)
        server.on("connect", on_connect)
        environ = {"REQUEST_METHOD": "GET", "QUERY_STRING": f"EIO=4&transport={transport}"}
        if transport == "websocket":
            environ.update(HTTP_CONNECTION="Upgrade", HTTP_UPGRADE="websocket")
        answer = b"".join(server.handle_request(environ, lambda status, headers: None)).decode() + "".join(sent)
        for engineio_socket in list(server.sockets.values()):  # the polling one stays open: end its ping task
            engineio_socket.close(wait=False, abort=True)
        assert [p.packet_type for p in queued] == [open_type], (
            f"{transport}: when connect ran, the socket's queue held {queued!r}, not the OPEN packet alone")
        received = payload(encoded_payload=answer).packets
        assert received and received[0].data.get("pingInterval") == 1234, (
            f"{transport}: OPEN was encoded before connect returned: the client got {answer!r}")

    return check


def websocket_reads_through_wait() -> None:
    """``Socket._websocket_handler`` reads with ``ws.wait()``; a None from it ends the session."""
    engineio_socket = eio_socket()
    calls: list[str] = []

    class ClosedWebSocket:
        def wait(self) -> None:
            calls.append("wait")
            return None

        def send(self, message: str) -> None:
            calls.append("send")

        def close(self) -> None:
            calls.append("close")

    engineio_socket._websocket_handler(ClosedWebSocket())
    assert "wait" in calls, f"the handler never called ws.wait() (it called {calls})"
    assert engineio_socket.closed, "the session is still open after ws.wait() returned None"


def undecodable_post_raises_value_error() -> None:
    """A POST body that is no Engine.IO payload raises ValueError out of ``handle_post_request``."""
    body = b"abc"
    try:
        eio_socket().handle_post_request({"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)})
    except ValueError:
        return
    raise AssertionError("a POST body that is no Engine.IO payload no longer raises ValueError")


def queue_keeps_items(mode: str) -> Callable[[], None]:
    """A queue of engine.io's ``mode`` driver shows what was put in ``queue``, counted in ``unfinished_tasks``."""

    def check() -> None:
        queue = lookup(f"engineio.async_drivers.{mode}:_async")()["queue"]()
        queue.put("packet")
        assert list(queue.queue) == ["packet"], f"{type(queue).__name__}().queue holds {list(queue.queue)!r}"
        assert queue.unfinished_tasks == 1, f"{type(queue).__name__}().unfinished_tasks is {queue.unfinished_tasks}"

    return check


def reads_environ(function: Callable[[], Callable], key: str) -> Callable[[], None]:
    """The function's code still names the WSGI environ ``key``."""
    return holds(lambda: key in inspect.unwrap(function()).__code__.co_consts, f"its code no longer reads {key}")


def defined_as(owner: str, name: str, kind: type) -> Callable[[], None]:
    """``name`` is defined on the class at ``owner`` as a ``kind`` (staticmethod, classmethod)."""
    return holds(lambda: isinstance(inspect.getattr_static(lookup(owner)(), name), kind),
                 f"{name} is no longer a {kind.__name__}")


FANOUT = "chatserver.transport.fanout (FanOutManager)"
EVENTS = "chatserver.events (ChatNamespace)"
INSTALL = "chatserver.transport.install"
SENDQUEUE = "chatserver.transport.sendqueue (SlowConsumerGuard, BoundedSendQueue)"
ADMISSION = "chatserver.transport.admission (Admission wraps the connect and disconnect handlers)"
PACKETFILTER = "chatserver.transport.packetfilter (IncomingPacketFilter wraps the message handler)"
PACKETS = "chatserver.transport.packets (ChatPacket)"
QUEUE = "chatserver.cluster.queue (RedisQueue)"
WEBSOCKET = "chatserver.transport.eventlet.websocket (LeanWebSocket, CoalescingWriter)"
HEADDEADLINE = "chatserver.transport.eventlet.headdeadline (HeadDeadlineProtocol)"
SERVER = "chatserver.transport.eventlet.server (run, GracefulShutdown)"
HANDSHAKE = "chatserver.transport.handshake (ExactPingInterval)"
MALFORMED = "chatserver.transport.malformed (CheckedWebSocket, refuse_undecodable_posts)"
NAMESPACES = "chatserver.transport.namespaces (is_known, is_connected, refuse_unknown)"
POLLING = "chatserver.transport.polling (PolledSocket)"
UPGRADE = "chatserver.transport.upgrade (without_noops)"
PACKETRULES = "chatserver.transport.packetrules (decode)"
RECOVERY = "chatserver.transport.recovery (Recovery)"

SIO, EIO, EVENTLET, FSIO, SWS = "python-socketio", "python-engineio", "eventlet", "flask-socketio", "simple-websocket"

RELIANCES = [
    # python-socketio: the client manager we subclass and partly copy, the packet, the handlers we wrap.
    Reliance(SIO, "Manager.basic_enter_room", FANOUT + " overrides it", parameters(
        lookup("socketio:Manager.basic_enter_room"), "self", "sid", "namespace", "room", "eio_sid")),
    Reliance(SIO, "Manager.basic_leave_room", FANOUT + " overrides it", parameters(
        lookup("socketio:Manager.basic_leave_room"), "self", "sid", "namespace", "room")),
    Reliance(SIO, "Manager.get_rooms", FANOUT + " overrides it", parameters(
        lookup("socketio:Manager.get_rooms"), "self", "sid", "namespace")),
    Reliance(SIO, "Manager.basic_disconnect", FANOUT + " overrides it", parameters(
        lookup("socketio:Manager.basic_disconnect"), "self", "sid", "namespace", "**kwargs")),
    Reliance(SIO, "BaseManager.basic_disconnect body", FANOUT + ": basic_disconnect is a copy of it", touches_exactly(
        lookup("socketio.base_manager:BaseManager.basic_disconnect"),
        "rooms", "copy", "items", "append", "basic_leave_room", "callbacks", "pending_connect", "pending_disconnect",
        "remove", "len")),
    *(Reliance(SIO, f"Manager().{name}", FANOUT + ": basic_disconnect clears it", attribute(
        made("socketio:Manager"), name, dict))
      for name in ("rooms", "callbacks", "pending_connect", "pending_disconnect")),
    Reliance(SIO, "Manager.emit", FANOUT + " overrides it", parameters(
        lookup("socketio:Manager.emit"),
        "self", "event", "data", "namespace", "room", "skip_sid", "callback", "to", "**kwargs")),
    Reliance(SIO, "Manager.emit body", FANOUT + ": emit does its work for emits without a callback", touches_exactly(
        lookup("socketio:Manager.emit"),
        "rooms", "isinstance", "tuple", "list", "server", "packet_class", "packet", "EVENT", "encode",
        "get_participants", "_send_eio_packet", "_generate_ack_id", "_send_packet")),
    Reliance(SIO, "Manager.get_participants", FANOUT + " and " + EVENTS, parameters(
        lookup("socketio:Manager.get_participants"), "self", "namespace", "room")),
    Reliance(SIO, "a room's bidict ._fwdm", FANOUT + " (_recipients reads a room's sid -> eio_sid dict)",
             room_forward_map),
    Reliance(SIO, "Manager.pre_connect/connect/is_connected", EVENTS + ": trigger_event tells lifecycle events from "
             "client events by is_connected", manager_connect_phases),
    Reliance(SIO, "Server._send_eio_packet", FANOUT, parameters(
        lookup("socketio:Server._send_eio_packet"), "self", "eio_sid", "eio_pkt")),
    Reliance(SIO, "Server().packet_class", INSTALL + " replaces it; " + FANOUT + " reads it", holds(
        lambda: sio_server().packet_class is lookup("socketio.packet:Packet")(),
        "the default packet_class is not socketio.packet.Packet")),
    Reliance(SIO, "Packet.data_is_binary", PACKETS + " overrides it", check_all(
        defined_as("socketio.packet:Packet", "data_is_binary", classmethod),
        parameters(lookup("socketio.packet:Packet.data_is_binary"), "data"))),
    Reliance(SIO, "Packet.__init__ calls data_is_binary", PACKETS, touches(
        lookup("socketio.packet:Packet.__init__"), "data_is_binary")),
    Reliance(SIO, "Server._handle_eio_connect", ADMISSION, parameters(
        lookup("socketio:Server._handle_eio_connect"), "self", "eio_sid", "environ")),
    Reliance(SIO, "Server._handle_eio_message", PACKETFILTER + " takes its place", parameters(
        lookup("socketio:Server._handle_eio_message"), "self", "eio_sid", "data")),
    Reliance(SIO, "Server._handle_eio_message body", PACKETFILTER + ": dispatch sends each packet type where it "
             "does, and refuses what it refuses", touches_exactly(
                 lookup("socketio:Server._handle_eio_message"),
                 "_binary_packet", "add_attachment", "packet_type", "packet", "BINARY_EVENT", "_handle_event",
                 "namespace", "id", "data", "_handle_ack", "packet_class", "CONNECT", "_handle_connect",
                 "DISCONNECT", "_handle_disconnect", "reason", "CLIENT_DISCONNECT", "EVENT", "ACK", "BINARY_ACK",
                 "manager", "sid_from_eio_sid", "ValueError", "CONNECT_ERROR")),
    Reliance(SIO, "Server._handle_connect", PACKETFILTER, parameters(
        lookup("socketio:Server._handle_connect"), "self", "eio_sid", "namespace", "data")),
    Reliance(SIO, "Server._handle_connect knows a namespace by handlers, namespace_handlers, namespaces",
             NAMESPACES + ": is_known makes the same test", touches(
                 lookup("socketio:Server._handle_connect"), "handlers", "namespace_handlers", "namespaces",
                 "pre_connect")),
    *(Reliance(SIO, f"Server().{name}", NAMESPACES, attribute(sio_server, name, kind))
      for name, kind in (("handlers", dict), ("namespace_handlers", dict), ("namespaces", (list, str)))),
    Reliance(SIO, "Server._handle_event", PACKETFILTER, parameters(
        lookup("socketio:Server._handle_event"), "self", "eio_sid", "namespace", "id", "data")),
    Reliance(SIO, "Server._handle_ack", PACKETFILTER, parameters(
        lookup("socketio:Server._handle_ack"), "self", "eio_sid", "namespace", "id", "data")),
    Reliance(SIO, "Server._handle_disconnect", PACKETFILTER, parameters(
        lookup("socketio:Server._handle_disconnect"), "self", "eio_sid", "namespace", "reason")),
    Reliance(SIO, "Server.reason.CLIENT_DISCONNECT", PACKETFILTER, attribute(
        lookup("socketio:Server.reason"), "CLIENT_DISCONNECT", str)),
    Reliance(SIO, "Server._send_packet", NAMESPACES, parameters(
        lookup("socketio:Server._send_packet"), "self", "eio_sid", "pkt")),
    Reliance(SIO, "Manager.sid_from_eio_sid", NAMESPACES, parameters(
        lookup("socketio:Manager.sid_from_eio_sid"), "self", "eio_sid", "namespace")),
    Reliance(SIO, "Packet(encoded_packet=...).attachment_count", PACKETRULES + ": text packets may announce none",
             holds(lambda: lookup("socketio.packet:Packet")()(encoded_packet='21-["a"]').attachment_count == 1,
                   "a decoded packet no longer tells its attachment count")),
    Reliance(SIO, "Server._handle_eio_disconnect", ADMISSION, parameters(
        lookup("socketio:Server._handle_eio_disconnect"), "self", "eio_sid", "reason")),
    Reliance(SIO, "Server().eio.handlers", ADMISSION + ", " + PACKETFILTER + ", " + HANDSHAKE + " and " + MALFORMED,
             holds(lambda: {"connect", "message", "disconnect"} <= set(sio_server().eio.handlers),
                   "python-socketio no longer registers connect, message and disconnect in eio.handlers")),
    Reliance(SIO, "Namespace().server", EVENTS + ": self.server.manager, enter_room, leave_room, emit", check_all(
        attribute(made("socketio:Namespace", "/"), "server"),
        parameters(lookup("socketio:Namespace._set_server"), "self", "server"))),
    Reliance(SIO, "Manager.pre_connect", FANOUT + " overrides it for a restored session", parameters(
        lookup("socketio:Manager.pre_connect"), "self", "eio_sid", "namespace")),
    Reliance(SIO, "BaseManager.pre_connect body", FANOUT + ": pre_connect of a restored session is a copy of it",
             touches_exactly(lookup("socketio.base_manager:BaseManager.pre_connect"),
                             "server", "eio", "generate_id", "basic_enter_room", "ValueDuplicationError",
                             "pending_connect", "append")),
    Reliance(SIO, "Manager.eio_sid_from_sid", RECOVERY + ": is_drop", parameters(
        lookup("socketio:Manager.eio_sid_from_sid"), "self", "sid", "namespace")),
    Reliance(SIO, "Server._handle_connect", RECOVERY + " wraps it (the CONNECT auth's pid and offset)", check_all(
        parameters(lookup("socketio:Server._handle_connect"), "self", "eio_sid", "namespace", "data"),
        touches(lookup("socketio:Server._handle_connect"), "pre_connect", "_send_packet", "connect"))),
    Reliance(SIO, "Server._send_packet", RECOVERY + " wraps it (the CONNECT reply's pid)", parameters(
        lookup("socketio:Server._send_packet"), "self", "eio_sid", "pkt")),
    Reliance(SIO, "Server._handle_disconnect passes the reason", RECOVERY + " and " + EVENTS, touches(
        lookup("socketio:Server._handle_disconnect"), "_trigger_event", "reason")),
    Reliance(EIO, "Server.reason", RECOVERY + ": the reasons of a drop", holds(
        lambda: _engine_reasons() == _recovery_reasons(),
        "engine.io's disconnect reasons are not the strings recovery.py knows")),
    Reliance(SIO, "PubSubManager.emit handles its own emit, then publishes the same dict", QUEUE + ": the message id "
             "stamped in _handle_emit travels with it", touches(
                 lookup("socketio:PubSubManager.emit"), "_handle_emit", "_publish")),
    Reliance(SIO, "PubSubManager._handle_emit body", QUEUE + ": _handle_emit does its work for emits without a "
             "callback, with the message id", touches_exactly(
                 lookup("socketio:PubSubManager._handle_emit"),
                 "get", "partial", "_return_callback", "len", "Packet", "reconstruct_binary",
                 "isinstance", "list", "tuple", "super", "emit")),
    Reliance(SIO, "PubSubManager._publish", QUEUE + " overrides it", parameters(
        lookup("socketio:PubSubManager._publish"), "self", "data")),
    Reliance(SIO, "PubSubManager._listen", QUEUE + " overrides it", parameters(
        lookup("socketio:PubSubManager._listen"), "self")),
    Reliance(SIO, "PubSubManager._thread calls _listen", QUEUE + ": _listen yields JSON text", touches(
        lookup("socketio:PubSubManager._thread"), "_listen", "json", "loads")),
    Reliance(SIO, "PubSubManager.emit calls _publish", QUEUE, touches(
        lookup("socketio:PubSubManager.emit"), "_publish")),
    Reliance(SIO, "PubSubManager._handle_emit", QUEUE + " overrides it for node events", parameters(
        lookup("socketio:PubSubManager._handle_emit"), "self", "message")),
    Reliance(SIO, "PubSubManager._thread calls _handle_emit", QUEUE + ": node events arrive as emits", touches(
        lookup("socketio:PubSubManager._thread"), "_handle_emit")),
    Reliance(SIO, "PubSubManager().host_id", QUEUE + ": a node event carries it, as python-socketio's own messages",
             attribute(made("socketio:PubSubManager", channel="c"), "host_id", str)),
    Reliance(SIO, "PubSubManager._thread skips messages with its own host_id", QUEUE + " sets host_id to the node id",
             touches(lookup("socketio:PubSubManager._thread"), "host_id")),
    Reliance(SIO, "PubSubManager().channel", QUEUE, attribute(
        made("socketio:PubSubManager", channel="c"), "channel", str)),
    Reliance(SIO, "PubSubManager().json", QUEUE, attribute(made("socketio:PubSubManager"), "json")),
    # python-engineio: the server and socket the guards reach into.
    Reliance(EIO, "Server()._async", INSTALL + " and " + SENDQUEUE, holds(
        lambda: {"queue", "websocket"} <= set(eio_server()._async), "_async has no 'queue' or no 'websocket'")),
    Reliance(EIO, "async_drivers.eventlet._async", INSTALL + " and " + WEBSOCKET, holds(
        lambda: {"queue", "websocket"} <= set(lookup("engineio.async_drivers.eventlet:_async")()),
        "_async has no 'queue' or no 'websocket'")),
    Reliance(EIO, "async_drivers.eventlet.WebSocketWSGI", SENDQUEUE + ", " + MALFORMED + " and " + WEBSOCKET
             + " subclass it", parameters(
        lookup("engineio.async_drivers.eventlet:WebSocketWSGI.__init__"), "self", "handler", "server")),
    Reliance(EIO, "Server.create_queue", SENDQUEUE + " replaces it on the server", parameters(
        lookup("engineio:Server.create_queue"), "self", "*args", "**kwargs")),
    Reliance(EIO, "BaseSocket.__init__ calls server.create_queue", SENDQUEUE, touches(
        lookup("engineio.base_socket:BaseSocket.__init__"), "create_queue", "queue")),
    Reliance(EIO, "Server().handlers", ADMISSION + ", " + PACKETFILTER + ", " + HANDSHAKE + ", " + POLLING + " and "
             + MALFORMED,
             attribute(eio_server, "handlers", dict)),
    Reliance(EIO, "Server().sockets", FANOUT + ", " + SENDQUEUE + ", " + SERVER + ", " + HANDSHAKE + " and "
             + MALFORMED, attribute(eio_server, "sockets", dict)),
    Reliance(EIO, "Server.reason.SERVER_DISCONNECT", SENDQUEUE, attribute(
        lookup("engineio:Server.reason"), "SERVER_DISCONNECT", str)),
    Reliance(EIO, "Server.reason.TRANSPORT_ERROR", PACKETFILTER + " and " + POLLING, attribute(
        lookup("engineio:Server.reason"), "TRANSPORT_ERROR", str)),
    Reliance(EIO, "Socket.handle_get_request", POLLING + " replaces it on each socket", check_all(
        parameters(lookup("engineio.socket:Socket.handle_get_request"), "self", "environ", "start_response"),
        touches(lookup("engineio.socket:Socket.handle_get_request"), "poll", "upgrade_protocols", "upgrading",
                "upgraded"))),
    Reliance(EIO, "Server.handle_request calls socket.handle_get_request", POLLING + ": the EngineIOError it "
             "raises gets 400", touches(lookup("engineio:Server.handle_request"), "handle_get_request",
                                        "EngineIOError")),
    Reliance(EIO, "Socket.poll returns [] when the queue ends without a packet", POLLING + ": that GET gets a NOOP",
             touches(lookup("engineio.socket:Socket.poll"), "queue", "get")),
    Reliance(EIO, "Socket().upgrade_protocols", POLLING, attribute(eio_socket, "upgrade_protocols", list)),
    Reliance(EIO, "Socket._websocket_handler ends the poll with a queued NOOP", UPGRADE + ": the NOOP is not sent "
             "over the WebSocket", touches(lookup("engineio.socket:Socket._websocket_handler"), "NOOP", "queue")),
    Reliance(EIO, "Server.send_packet body", FANOUT + ": emit sends to the socket directly", touches_exactly(
        lookup("engineio:Server.send_packet"), "_get_socket", "KeyError", "logger", "warning", "send")),
    Reliance(EIO, "BaseServer._get_socket body", FANOUT + ": emit skips closed sockets as it does", touches_exactly(
        lookup("engineio.base_server:BaseServer._get_socket"), "sockets", "KeyError", "closed")),
    Reliance(EIO, "Socket.send", WEBSOCKET + ": CoalescingWriter.send replaces it", parameters(
        lookup("engineio.socket:Socket.send"), "self", "pkt")),
    Reliance(EIO, "Socket.send body", WEBSOCKET + ": CoalescingWriter.send does what it does", touches_exactly(
        lookup("engineio.socket:Socket.send"),
        "check_ping_timeout", "queue", "put", "server", "logger", "info", "sid", "packet", "packet_names",
        "packet_type", "data", "isinstance", "bytes")),
    *(Reliance(EIO, f"Socket().{name}", WEBSOCKET + ", " + SENDQUEUE + ", " + SERVER + " and " + HANDSHAKE,
               attribute(eio_socket, name))
      for name in ("queue", "upgraded", "upgrading", "closed", "sid")),
    Reliance(EIO, "Socket.check_ping_timeout", WEBSOCKET + " and " + POLLING, parameters(
        lookup("engineio.socket:Socket.check_ping_timeout"), "self")),
    Reliance(EIO, "Socket.close", SENDQUEUE + ", " + SERVER + ", " + PACKETFILTER + " and " + POLLING, parameters(
        lookup("engineio.socket:Socket.close"), "self", "wait", "abort", "reason")),
    Reliance(EIO, "Socket._upgrade_websocket", SENDQUEUE + " and " + MALFORMED + ": the WebSocket app is made from "
             "_async['websocket'] with the socket's bound _websocket_handler", touches(
                 lookup("engineio.socket:Socket._upgrade_websocket"), "_async", "_websocket_handler")),
    Reliance(EIO, "Socket._websocket_handler writer", WEBSOCKET + ": the FLUSH cue goes out as ws.send(item.encode())",
             touches(nested(lookup("engineio.socket:Socket._websocket_handler"), "writer"), "poll", "send", "encode")),
    Reliance(EIO, "Socket._websocket_handler reads ws.wait()", MALFORMED + ": CheckedWebSocket replaces ws.wait, and "
             "its None ends the session", check_all(
                 touches(nested(lookup("engineio.socket:Socket._websocket_handler"), "websocket_wait"), "wait"),
                 websocket_reads_through_wait)),
    Reliance(EIO, "Server._handle_connect: OPEN queued, connect, then encoded", HANDSHAKE + ": on_connect corrects "
             "the waiting OPEN packet; " + MALFORMED + ": on_connect finds the new socket in sockets", check_all(
                 open_packet_through_connect("polling"), open_packet_through_connect("websocket"))),
    *(Reliance(EIO, f"Server().{name}", HANDSHAKE + ": the advertised pingInterval is their sum", check_all(
        attribute(made("engineio:Server", async_mode="threading", ping_interval=(1.5, 0.25)), name, float),
        touches(lookup("engineio:Server._handle_connect"), name)))
      for name in ("ping_interval", "ping_interval_grace_period")),
    *(Reliance(EIO, f"async_drivers.{mode}._async['queue']().queue/unfinished_tasks", HANDSHAKE + " reads queue; "
               + SENDQUEUE + ": BoundedSendQueue.join reads unfinished_tasks", queue_keeps_items(mode))
      for mode in ("threading", "eventlet", "gevent")),
    *(Reliance(EIO, f"async_drivers.{module}.{name}", SENDQUEUE + " and " + MALFORMED + " subclass it", parameters(
        lookup(f"engineio.async_drivers.{module}:{name}.__init__"), "self", "handler", "server", *rest))
      for module, name, rest in (("_websocket_wsgi", "SimpleWebSocketWSGI", ["**kwargs"]),
                                 ("gevent", "WebSocketWSGI", []))),
    Reliance(EIO, "SimpleWebSocketWSGI().ws", MALFORMED + ": close_for_protocol_error closes simple-websocket's "
             "connection", touches(lookup("engineio.async_drivers._websocket_wsgi:SimpleWebSocketWSGI.__call__"),
                                   "ws", "Server")),
    Reliance(EIO, "Socket.handle_post_request", MALFORMED + ": refuse_undecodable_posts replaces it on each socket and "
             "catches ValueError", check_all(
                 parameters(lookup("engineio.socket:Socket.handle_post_request"), "self", "environ"),
                 undecodable_post_raises_value_error)),
    Reliance(EIO, "Server.handle_request calls socket.handle_post_request", MALFORMED + ": the EngineIOError it "
             "raises gets 400", touches(lookup("engineio:Server.handle_request"), "handle_post_request",
                                        "EngineIOError")),
    Reliance(SIO, "Server.handle_request calls self.eio.handle_request", "chatserver.transport.transportquery "
             "(RequireTransport replaces eio.handle_request on the server)", touches(
                 lookup("socketio:Server.handle_request"), "eio", "handle_request")),
    Reliance(EIO, "WSGIApp().engineio_path", INSTALL + ": the admission middleware's path", holds(
        lambda: flask_socketio().sockio_mw.engineio_path == "/socket.io/",
        "sockio_mw.engineio_path is not /socket.io/")),
    # Flask-SocketIO
    Reliance(FSIO, "SocketIO().sockio_mw", INSTALL, attribute(flask_socketio, "sockio_mw")),
    Reliance(FSIO, "SocketIO().server", INSTALL + ", " + EVENTS + " and " + SERVER, attribute(
        flask_socketio, "server", lookup("socketio:Server")())),
    Reliance(FSIO, "Namespace.trigger_event", EVENTS + " overrides it", parameters(
        lookup("flask_socketio:Namespace.trigger_event"), "self", "event", "*args")),
    # simple-websocket: the connection under the threading and gevent WebSocket.
    Reliance(SWS, "Server.close", MALFORMED + ": close_for_protocol_error sends 1002 with reason=, message=",
             parameters(lookup("simple_websocket:Server.close"), "self", "reason", "message")),
    Reliance(SWS, "Server().connected", MALFORMED + ": close_for_protocol_error closes only a connected one", check_all(
        touches(lookup("simple_websocket.ws:Base.__init__"), "connected"),
        touches(lookup("simple_websocket:Server.close"), "connected"))),
    # eventlet: the WebSocket, the WSGI server, the hub.
    Reliance(EVENTLET, "WebSocketWSGI._handle_hybi_request", WEBSOCKET + " overrides it", parameters(
        lookup("eventlet.websocket:WebSocketWSGI._handle_hybi_request"), "self", "environ")),
    Reliance(EVENTLET, "RFC6455WebSocket._apply_mask", WEBSOCKET + ": unmask replaces it", check_all(
        defined_as("eventlet.websocket:RFC6455WebSocket", "_apply_mask", staticmethod),
        parameters(lookup("eventlet.websocket:RFC6455WebSocket._apply_mask"), "data", "mask", "length", "offset"))),
    Reliance(EVENTLET, "RFC6455WebSocket._recv_frame", WEBSOCKET + ": it reads self.socket and unmasks with "
             "self._apply_mask", touches(lookup("eventlet.websocket:RFC6455WebSocket._recv_frame"),
                                         "_apply_mask", "socket", "recv")),
    Reliance(EVENTLET, "WebSocketWSGI._handle_hybi_request reads HTTP_SEC_WEBSOCKET_EXTENSIONS", WEBSOCKET
             + ": LeanWebSocket removes it to refuse permessage-deflate", reads_environ(
                 lookup("eventlet.websocket:WebSocketWSGI._handle_hybi_request"), "HTTP_SEC_WEBSOCKET_EXTENSIONS")),
    Reliance(EVENTLET, "RFC6455WebSocket._send_closing_frame", WEBSOCKET + ": close_for_protocol_error sends the "
             "close frame 1002 with it", parameters(
                 lookup("eventlet.websocket:RFC6455WebSocket._send_closing_frame"),
                 "self", "ignore_send_errors", "close_data")),
    Reliance(EVENTLET, "RFC6455WebSocket._send", WEBSOCKET, parameters(
        lookup("eventlet.websocket:RFC6455WebSocket._send"), "self", "frame")),
    Reliance(EVENTLET, "RFC6455WebSocket.send", WEBSOCKET + ": send_message replaces it", parameters(
        lookup("eventlet.websocket:RFC6455WebSocket.send"), "self", "message", "**kw")),
    Reliance(EVENTLET, "WebSocket.__init__ sets socket", WEBSOCKET + ": BufferedReceive wraps it", touches(
        lookup("eventlet.websocket:WebSocket.__init__"), "socket")),
    Reliance(EVENTLET, "greenio.GreenSocket().fd", WEBSOCKET + ": writes to the real socket without blocking",
             green_socket_fd),
    Reliance(EVENTLET, "wsgi.Input.get_socket", SENDQUEUE + ": raw_connection", parameters(
        lookup("eventlet.wsgi:Input.get_socket"), "self")),
    Reliance(EVENTLET, "queue.Queue().queue", SERVER + ": queue_flushed reads it", attribute(
        made("eventlet.queue:Queue"), "queue")),
    Reliance(EVENTLET, "queue.Queue().unfinished_tasks", SENDQUEUE + ": BoundedSendQueue.join", attribute(
        made("eventlet.queue:Queue"), "unfinished_tasks", int)),
    *(Reliance(EVENTLET, f"wsgi.HttpProtocol.{name}", HEADDEADLINE + " sets it", check_all(
        attribute(lookup("eventlet.wsgi:HttpProtocol"), name, int),
        touches(lookup("eventlet.wsgi:HttpProtocol.setup"), name))) for name in ("rbufsize", "wbufsize")),
    Reliance(EVENTLET, "wsgi.HttpProtocol.handle_one_request", HEADDEADLINE + " overrides it", check_all(
        parameters(lookup("eventlet.wsgi:HttpProtocol.handle_one_request"), "self"),
        touches(lookup("eventlet.wsgi:HttpProtocol.handle_one_request"), "get_environ"))),
    Reliance(EVENTLET, "wsgi.HttpProtocol.get_environ", HEADDEADLINE + " overrides it", parameters(
        lookup("eventlet.wsgi:HttpProtocol.get_environ"), "self")),
    Reliance(EVENTLET, "wsgi.HttpProtocol.handle reads close_connection", HEADDEADLINE, touches(
        lookup("eventlet.wsgi:HttpProtocol.handle"), "handle_one_request", "close_connection")),
    Reliance(EVENTLET, "wsgi.HttpProtocol.__init__ sets client_address", HEADDEADLINE, touches(
        lookup("eventlet.wsgi:HttpProtocol.__init__"), "client_address")),
    Reliance(EVENTLET, "hubs.get_hub().schedule_call_global", WEBSOCKET + " (HubFlusher) and " + SERVER, check_all(
        parameters(lookup("eventlet.hubs.hub:BaseHub.schedule_call_global"), "self", "seconds", "cb", "*args", "**kw"),
        holds(lambda: issubclass(lookup("eventlet.hubs:get_default_hub")()().Hub,
                                 lookup("eventlet.hubs.hub:BaseHub")()),
              "the default hub is not a BaseHub"))),
    Reliance(EVENTLET, "wsgi.server keywords", SERVER, holds(
        lambda: {"max_size", "protocol", "socket_timeout", "log_output", "debug"} <= set(
            _parameter_names(lookup("eventlet.wsgi:server")())),
        "wsgi.server lost one of max_size, protocol, socket_timeout, log_output, debug")),
]


def _installed(library: str) -> str:
    try:
        return metadata.version(library)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _range(library: str) -> str:
    return TESTED.get(canonicalize_name(library), f"{library} (no range in setup.cfg)")


@pytest.mark.parametrize("reliance", RELIANCES, ids=lambda r: f"{r.library}:{r.name}")
def test_private_name(reliance: Reliance) -> None:
    try:
        reliance.check()
    except Exception as exc:  # any way the name went or changed: AttributeError, ImportError, a failed check
        problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    else:
        return
    pytest.fail(
        f"{reliance.library} {_installed(reliance.library)}: {reliance.name} is not what chatserver relies on: "
        f"{problem}\n"
        f"  used in: {reliance.used_in}\n"
        f"  tested range: {_range(reliance.library)} (setup.cfg install_requires)\n"
        f"  Review that code against this {reliance.library} before widening the range.",
        pytrace=False,
    )


@pytest.mark.parametrize("library", PINNED)
def test_installed_version_is_in_tested_range(library: str) -> None:
    assert canonicalize_name(library) in TESTED, f"{library} has no range in setup.cfg install_requires"
    requirement = Requirement(TESTED[canonicalize_name(library)])
    assert any(spec.operator == "<" for spec in requirement.specifier), (
        f"{_range(library)} in setup.cfg has no cap: cap it at the next minor not yet tested")
    installed = _installed(library)
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"{library} {installed} is installed, but chatserver is tested with {_range(library)} (setup.cfg): "
        f"run the suite with it, then move the range and constraints/newest.txt")
