"""Start and stop the two servers under test, each on a free loopback port, pinned to one core."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
OPEN_FILES = 65536  # 20,000 clients need 20,000 descriptors on each side, plus some


def raise_open_files() -> None:
    """Raise RLIMIT_NOFILE for a child (the hard limit too when root): the capacity run needs it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, OPEN_FILES)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pin(core: int) -> list[str]:
    """A `taskset -c core` prefix when there are two cores or more to keep server and generator apart."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core)]
    return []


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chatserver_python() -> str:
    """The project's virtualenv Python, where chatserver and its dependencies are installed."""
    venv = os.path.join(ROOT, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else "python3"


def command(name: str, port: int, chatserver_dir: str = ROOT) -> tuple[list[str], dict, str]:
    """Command line, extra environment and working directory that start server `name` on `port`.

    `python -m chatserver` imports the package from its working directory first, so
    `chatserver_dir` can be a frozen copy of the tree while the checkout keeps changing.
    """
    if name == "chatserver":
        cmd = [chatserver_python(), "-m", "chatserver", "--host", "127.0.0.1", "--port", str(port)]
        # Only the per-socket rate limit may be changed for the benchmark: one client sends faster than a person.
        return cmd, {"CHATSERVER_RATE_LIMIT_PER_SECOND": "0"}, chatserver_dir
    if name == "node-seed":
        return ["node", os.path.join(BENCH, "peers", "node-seed", "server.js"), str(port), "127.0.0.1"], {}, ROOT
    raise ValueError(f"unknown server {name!r}")


class ServerError(RuntimeError):
    """A server did not start, or did not answer Socket.IO."""


ERROR_LINE = re.compile(r"Traceback|ERROR|CRITICAL|Exception|Error:|FATAL|uncaught", re.IGNORECASE)


class Server:
    """One server process under test; `with Server(...) as s:` starts it and always stops it."""

    def __init__(
        self, name: str, log_path: str, chatserver_dir: str = ROOT, core: int = 0, start_timeout_s: float = 30.0
    ):
        self.name = name
        self.chatserver_dir = chatserver_dir
        self.stop_s: float | None = None  # how long SIGTERM took; None if it had to be killed
        self.log_path = log_path
        self.core = core
        self.start_timeout_s = start_timeout_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        cmd, extra_env, cwd = command(self.name, self.port, self.chatserver_dir)
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in __exit__
        try:
            self.proc = subprocess.Popen(
                pin(self.core) + cmd,
                cwd=cwd,
                env={**os.environ, **extra_env},
                stdout=self.log,
                stderr=subprocess.STDOUT,
                preexec_fn=raise_open_files,
            )
        except OSError as e:
            self.log.close()
            raise ServerError(f"{self.name} could not be started: {e}") from e
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self) -> None:
        """Poll the Engine.IO handshake until it answers (bounded), failing fast if the process dies."""
        deadline = time.monotonic() + self.start_timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.proc.returncode} at start; see {self.log_path}")
            try:
                url = f"{self.url}/socket.io/?EIO=4&transport=polling"
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200 and r.read(1) == b"0":
                        return
            except OSError as e:
                last = str(e)
            time.sleep(0.2)
        raise ServerError(f"{self.name} did not answer on {self.url} within {self.start_timeout_s:.0f} s ({last})")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __exit__(self, *exc) -> None:
        """SIGTERM, then SIGKILL after 10 s: a server slow to stop is a finding, not a reason to hang."""
        if self.proc and self.proc.poll() is None:
            started = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
                self.stop_s = round(time.monotonic() - started, 2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def error_lines(self, start: int = 0, limit: int = 5) -> tuple[int, list[str]]:
        """How many lines of the log from byte `start` look like errors, and the first `limit` of them."""
        with open(self.log_path, "rb") as f:
            f.seek(start)
            lines = [ln.decode("utf-8", "replace").rstrip() for ln in f]
        bad = [ln for ln in lines if ERROR_LINE.search(ln) and "DeprecationWarning" not in ln]
        return len(bad), bad[:limit]
