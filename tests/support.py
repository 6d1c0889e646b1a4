"""Shared test helpers: free ports, real server processes, recording Socket.IO clients."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import socketio
from socketio import packet as sio_packet

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def free_port() -> int:
    """Return a TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_ended(pid: int, timeout: float = 10.0) -> bool:
    """Whether process ``pid`` ended within ``timeout`` seconds (a zombie nobody reaped yet counts as ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


class ServerProcess:
    """A real server process on a free loopback port, stopped on exit; its output goes to a log file."""

    def __init__(self, command: list[str], port: int, env: dict[str, str] | None = None, cwd: Path = ROOT,
                 log_dir: Path | None = None, ready_path: str = "/healthz",
                 stop_signal: signal.Signals = signal.SIGTERM) -> None:
        self.command = command
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        log_dir = log_dir or Path(os.environ.get("TMPDIR", "/tmp"))
        # Each server keeps its accounts and history in a file of its own unless told otherwise.
        database = f"sqlite:///{log_dir / f'chat-{port}.sqlite3'}"
        self.env = {**os.environ, "CHATSERVER_LOG_LEVEL": "INFO", "CHATSERVER_DATABASE_URL": database, **(env or {})}
        self.cwd = cwd
        self.ready_path = ready_path
        self.stop_signal = stop_signal  # e.g. SIGINT for gunicorn, whose SIGTERM waits for a graceful exit
        self.log_path = log_dir / f"server-{port}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> ServerProcess:
        """Start the process and wait until it answers HTTP."""
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the process (``stop_signal``, then SIGKILL) and return its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._log.close()
        return self.process.returncode

    def log(self) -> str:
        """Return what the process printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def chatserver_command(port: int) -> list[str]:
    """The `python -m chatserver` command line for ``port``."""
    return [PYTHON, "-m", "chatserver", "--host", "127.0.0.1", "--port", str(port)]


class RecordingClient:
    """A python-socketio client that records every event it receives, in order."""

    def __init__(self, url: str, transports: list[str] | None = None, namespace: str = "/",
                 headers: dict[str, str] | None = None, **client_options) -> None:
        self.namespace = namespace
        self.events: queue.Queue = queue.Queue()
        self.offsets: list[str] = []
        self.sio = socketio.Client(reconnection=False, **client_options)
        self.sio.on("*", self._record, namespace=namespace)
        self.sio.connect(url, transports=transports or ["websocket"], namespaces=[namespace], headers=headers or {},
                         wait_timeout=10)

    def _record(self, event, *args):
        # With recovery on, the server appends socket.io's offset (a string) to every event; the
        # chat's events have one argument, so two with a string last are payload and offset.
        if len(args) == 2 and isinstance(args[1], str):
            self.offsets.append(args[1])
            args = args[:1]
        self.events.put((event, args[0] if len(args) == 1 else list(args)))

    def emit(self, event, *args):
        """Emit without waiting."""
        self.sio.emit(event, args[0] if len(args) == 1 else tuple(args) if args else None, namespace=self.namespace)

    def call(self, event, data=None, timeout: float = 10):
        """Emit with an acknowledgement and return what the server acknowledged."""
        return self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    def next(self, event: str | None = None, timeout: float = 5.0, **match):
        """Return the next received payload (of ``event``, whose fields equal ``match``), skipping others."""
        name, payload = self.until(event, timeout, **match)[-1]
        return payload if event is not None else (name, payload)

    def until(self, event: str | None, timeout: float = 5.0, **match) -> list:
        """Return every (event, payload) pair received up to and including the next matching one."""
        deadline = time.monotonic() + timeout
        received = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event or 'event'} {match or ''} within {timeout} s; got {received}")
            try:
                name, payload = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            received.append((name, payload))
            if event is not None and name != event:
                continue
            if all(isinstance(payload, dict) and payload.get(k) == v for k, v in match.items()):
                return received

    def drain(self, wait: float = 0.2) -> list:
        """Return every event received within ``wait`` seconds, as (event, payload) pairs."""
        time.sleep(wait)
        received = []
        while True:
            try:
                received.append(self.events.get_nowait())
            except queue.Empty:
                return received

    def close(self) -> None:
        """Disconnect, and close the WebSocket python-engineio leaves open when the server hung up first."""
        if self.sio.connected:
            # python-engineio closes its WebSocket right after queueing the DISCONNECT, and its
            # polling writer exits without sending what was queued when a POST is in flight: the
            # server then hears a dropped transport, which keeps the user online for the presence
            # grace (and, polling, disconnect() waits for the next ping to end its GET). So the
            # DISCONNECT goes out first, and the queue is drained, as socket.io-client does.
            self.sio._send_packet(self.sio.packet_class(sio_packet.DISCONNECT, namespace=self.namespace))
            self.sio.eio.queue.join()
        self.sio.disconnect()
        ws = getattr(self.sio.eio, "ws", None)
        if ws is not None:
            ws.shutdown()  # not ws.close(): that returns early once the peer is gone
