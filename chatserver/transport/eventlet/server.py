"""Serving the app on eventlet's WSGI server until SIGTERM or SIGINT, then shutting down gracefully.

Imported by the entry points only, after ``eventlet.monkey_patch()``.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import socket
import time
from typing import Any

import eventlet
import eventlet.hubs
import eventlet.patcher
import eventlet.wsgi
import greenlet
from flask import Flask

from chatserver import __version__

from ... import collector
from ...logs import configure_logging
from .headdeadline import head_deadline_protocol
from .upgraded import UpgradableProtocol
from .websocket import ended_connections

logger = logging.getLogger("chatserver")
# The unpatched module: green os.write would wait for the hub, which a signal handler cannot do.
real_os = eventlet.patcher.original("os")


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit: each connection is a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# A live long-polling client sends its next GET as soon as the last one returns.
POLLING_GRACE = 2.0


def queue_flushed(engineio_socket: Any) -> bool:
    """Return whether an Engine.IO socket's writer has taken every packet queued for it."""
    # Only engine.io's end-of-stream mark (None) may remain.
    return all(item is None for item in list(engineio_socket.queue.queue))


def delivered(eio: Any, engineio_socket: Any, polling_deadline: float) -> bool:
    """Return whether a closing socket's last packets went out, or no one will take them."""
    # A WebSocket whose connection ended before its writer took the CLOSE (the client left just as
    # the shutdown began) keeps its queue, and engine.io forgets the socket only at its next sweep.
    if queue_flushed(engineio_socket) or engineio_socket in ended_connections or engineio_socket.sid not in eio.sockets:
        return True
    return not engineio_socket.upgraded and time.monotonic() > polling_deadline


class GracefulShutdown:
    """On SIGTERM or SIGINT: refuse new clients, close every connection after its queued packets, stop.

    Every message already answered ``200`` sits in its recipients' send queues before the
    answer was sent, so closing each Engine.IO socket behind what is queued (a CLOSE packet,
    as socket.io's ``io.close()`` does; clients reconnect on their own) loses none of them.
    Closing runs the disconnect handlers, so presence is cleaned up and other nodes are told.
    """

    def __init__(self, app: Flask, server: greenlet.greenlet, timeout: float) -> None:
        self.app = app
        self.server = server
        self.timeout = timeout
        self.started = False
        self._wake_fd: int | None = None

    def install(self, *signums: int) -> None:
        """Handle ``signums`` from now on."""
        # The self-pipe trick: a Python signal handler runs between two bytecodes of whichever
        # green thread was running, and the hub would not notice new work until its next timer.
        # Writing to a pipe wakes the hub and a green thread of our own does the shutdown.
        read_fd, self._wake_fd = os.pipe()
        os.set_blocking(self._wake_fd, False)
        eventlet.spawn_n(self._wait_for_signal, read_fd)
        for signum in signums:
            signal.signal(signum, self.on_signal)

    def on_signal(self, signum: int, frame: Any) -> None:
        """Signal handler: wake the shutdown, or force the exit on a second signal."""
        if self.started:
            self._force_exit("second signal")
        self.started = True
        real_os.write(self._wake_fd, bytes([signum]))

    def _wait_for_signal(self, read_fd: int) -> None:
        eventlet.hubs.trampoline(read_fd, read=True)
        signum = real_os.read(read_fd, 1)[0]
        self.shut_down(signal.Signals(signum).name)

    def shut_down(self, cause: str) -> None:
        """Disconnect every client, wait for their queues to drain, then stop the WSGI server."""
        deadline = time.monotonic() + self.timeout
        state = self.app.extensions["chatserver"]
        if state.admission is not None:
            state.admission.stop_accepting()
        eio = state.socketio.server.eio
        # Sockets closed before (dropped, timed out) have nothing more to deliver.
        sockets = [s for s in list(eio.sockets.values()) if not s.closed]
        logger.info("%s: shutting down, disconnecting %d clients", cause, len(sockets))
        state.namespace.mute_presence()
        for engineio_socket in sockets:
            engineio_socket.close(wait=False)
        polling_deadline = time.monotonic() + POLLING_GRACE
        while not all(delivered(eio, s, polling_deadline) for s in sockets) and time.monotonic() < deadline:
            eventlet.sleep(0.05)
        logger.info("clients disconnected; %d users online", len(state.service.presence.users()))
        # History is written behind the replies: what was answered is on disk before we exit.
        state.store.close()
        # eventlet.wsgi.server stops accepting on SystemExit, closes idle keep-alive connections
        # and waits for the requests in progress (the WebSocket writers flushing their last bytes).
        eventlet.hubs.get_hub().schedule_call_global(0, self.server.throw, SystemExit(0))
        eventlet.sleep(max(0.0, deadline - time.monotonic()))
        self._force_exit(f"{self.timeout} s shutdown timeout")

    @staticmethod
    def _force_exit(reason: str) -> None:
        logger.warning("exiting with connections still open (%s)", reason)
        logging.shutdown()
        os._exit(0)


def protocol_class(head_timeout: float) -> type:
    """Return eventlet's HTTP protocol as chatserver serves it: request heads on a deadline, upgrades let go."""
    return type("ChatProtocol", (UpgradableProtocol, head_deadline_protocol(head_timeout)), {})


def run(app: Flask, host: str | None = None, port: int | None = None) -> None:
    """Serve ``app`` on eventlet until SIGTERM or SIGINT, then shut down gracefully."""
    config = app.config
    configure_logging(config["CHATSERVER_LOG_LEVEL"], config["CHATSERVER_LOG_FORMAT"])
    host = host or config["CHATSERVER_HOST"]
    port = config["CHATSERVER_PORT"] if port is None else port
    open_files = raise_open_file_limit()
    listener = eventlet.listen((host, port), backlog=1024)
    # Accepted sockets inherit this. Without it a reply written right after another (the
    # `response` event, then the ack) waits for the client's delayed ACK: about 40 ms a round trip.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    logger.info(
        "chatserver %s listening on http://%s:%s (pool %s, open-file limit %s)",
        __version__,
        host,
        listener.getsockname()[1],
        config["CHATSERVER_MAX_CONNECTIONS"],
        open_files,
    )
    logger.info("accounts and history in %s", app.extensions["chatserver"].database)
    shutdown = GracefulShutdown(app, greenlet.getcurrent(), config["CHATSERVER_SHUTDOWN_TIMEOUT"])
    shutdown.install(signal.SIGTERM, signal.SIGINT)
    collector.tune()
    eventlet.wsgi.server(
        listener,
        app,
        # eventlet's default pool of 1,024 green threads would cap concurrent connections.
        max_size=config["CHATSERVER_MAX_CONNECTIONS"],
        protocol=protocol_class(config["CHATSERVER_REQUEST_HEAD_TIMEOUT"]),
        # A socket operation stalled for a whole ping cycle means the peer is gone (half-open).
        socket_timeout=config["CHATSERVER_PING_INTERVAL"] + config["CHATSERVER_PING_TIMEOUT"],
        log_output=False,
        # eventlet's default (True) answers a request whose app raised with a 500 holding the
        # traceback (install paths, versions); no traceback goes to a client, whatever raised.
        debug=False,
    )
    logger.info("chatserver stopped")
