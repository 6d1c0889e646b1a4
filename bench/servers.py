"""Start and stop the servers under test, each on a free loopback port, pinned to one core.

Six chatserver variants and two peers:
- `chatserver`: history on, SQLite;
- `chatserver-nohistory`: CHATSERVER_HISTORY=off;
- `chatserver-pg`: history on, PostgreSQL;
- `chatserver-metrics`: `chatserver` with CHATSERVER_METRICS=on (what counting costs);
- `chatserver-norecovery`: `chatserver` with CHATSERVER_RECOVERY_WINDOW=0 (what connection state
  recovery costs, which every other variant has on);
- `chatserver-storethread`: `chatserver` with CHATSERVER_STORE_PROCESS=off (the store on a thread
  of the server process instead of a child process);
- `node-seed`: the seed's server on Node's socket.io;
- `python-seed`: the seed's handlers on plain Flask-SocketIO and eventlet (the floor of the stack
  chatserver is built on).
The metrics, norecovery and storethread variants and python-seed run only when asked for.
Every chatserver run gets a database of its own: a fresh SQLite file next to its log, or a PostgreSQL
database created before the server starts and dropped after it stops, so no run inherits another's rows.
The server's own process is pinned; the processes it starts (its store) are not (`_unpin_children`).
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
OPEN_FILES = 65536  # 20,000 clients need 20,000 descriptors on each side, plus some
CHATSERVERS = ("chatserver", "chatserver-nohistory", "chatserver-pg", "chatserver-metrics", "chatserver-norecovery",
               "chatserver-storethread")
NAMES = (*CHATSERVERS, "node-seed", "python-seed")
# The PostgreSQL that chatserver-pg's databases are created on (trust auth; BENCH_POSTGRES_URL overrides).
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")


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


def chatserver_python(chatserver_dir: str = ROOT) -> str:
    """The virtualenv Python of the tree being benchmarked, else this checkout's, else python3.

    A tree's dependencies change with it (the store brought SQLAlchemy and psycopg), so the
    tree's own `.venv` comes first; a `git archive` snapshot has none and uses the checkout's.
    """
    for tree in (chatserver_dir, ROOT):
        venv = os.path.join(tree, ".venv", "bin", "python")
        if os.path.exists(venv):
            return venv
    return "python3"


def command(
    name: str, port: int, chatserver_dir: str = ROOT, database_url: str | None = None
) -> tuple[list[str], dict, str]:
    """Command line, extra environment and working directory that start server `name` on `port`.

    `python -m chatserver` imports the package from its working directory first, so
    `chatserver_dir` can be a frozen copy of the tree while the checkout keeps changing.
    Every chatserver variant is given `database_url`, history off included, so none of them
    falls back to a database file shared between runs.
    """
    if name in CHATSERVERS:
        cmd = [chatserver_python(chatserver_dir), "-m", "chatserver", "--host", "127.0.0.1", "--port", str(port)]
        # Only the per-socket rate limit may be changed for the benchmark: one client sends faster than a person.
        env = {"CHATSERVER_RATE_LIMIT_PER_SECOND": "0"}
        if database_url:
            env["CHATSERVER_DATABASE_URL"] = database_url
        if name == "chatserver-nohistory":
            env["CHATSERVER_HISTORY"] = "off"
        if name == "chatserver-metrics":
            env["CHATSERVER_METRICS"] = "on"
        if name == "chatserver-norecovery":
            env["CHATSERVER_RECOVERY_WINDOW"] = "0"
        if name == "chatserver-storethread":
            env["CHATSERVER_STORE_PROCESS"] = "off"
        return cmd, env, chatserver_dir
    if name == "node-seed":
        return ["node", os.path.join(BENCH, "peers", "node-seed", "server.js"), str(port), "127.0.0.1"], {}, ROOT
    if name == "python-seed":
        script = os.path.join(BENCH, "peers", "python-seed", "server.py")
        return [chatserver_python(chatserver_dir), script, str(port), "127.0.0.1"], {}, ROOT
    raise ValueError(f"unknown server {name!r}")


# What makes the variants differ: never inherited from the shell that runs the bench.
VARIANT_ENV = ("CHATSERVER_HISTORY", "CHATSERVER_DATABASE_URL", "CHATSERVER_METRICS", "CHATSERVER_RECOVERY_WINDOW",
               "CHATSERVER_STORE_PROCESS")


def inherited_env() -> dict:
    """This process's environment less VARIANT_ENV, which `command` sets per variant."""
    return {k: v for k, v in os.environ.items() if k not in VARIANT_ENV}


class ServerError(RuntimeError):
    """A server did not start, or did not answer Socket.IO."""


def psql(sql: str, database: str = "postgres", timeout_s: float = 60.0) -> str:
    """Run `sql` with psql on `database` of POSTGRES_URL; its unaligned output, or ServerError."""
    if not shutil.which("psql"):
        raise ServerError("psql not found: chatserver-pg needs it (apt-get install postgresql-client)")
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", f"{POSTGRES_URL}/{database}", "-c", sql]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as e:
        raise ServerError(f"psql timed out after {timeout_s:.0f} s: {sql}") from e
    if out.returncode != 0:
        raise ServerError(f"psql failed on {POSTGRES_URL}: {out.stderr.strip()[-300:]}")
    return out.stdout


def postgres_problem() -> str | None:
    """Why chatserver-pg cannot run here (no psql, no server at POSTGRES_URL), or None."""
    try:
        psql("SELECT 1", timeout_s=10)
    except ServerError as e:
        return str(e)
    return None


# Rows per table of the current database, exactly (pg_stat's counts lag behind the writes).
_PG_ROWS = (
    "SELECT table_name, (xpath('/row/n/text()', query_to_xml("
    "format('SELECT count(*) AS n FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text "
    "FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
)


def _sqlite_rows(path: str) -> dict[str, int] | None:
    """Rows per table of the SQLite file at `path`, read-only; None when there is no such file."""
    if not os.path.exists(path):
        return None
    con = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, timeout=10)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


class Database:
    """The fresh database of one chatserver run: a SQLite file in `directory`, or a PostgreSQL one.

    `create()` before the server starts; `finish()` after it stopped reads what the run left
    (bytes and rows per table: did history store what was delivered?) and drops a PostgreSQL
    database, so the next run starts empty. A SQLite file is kept with the run's logs.
    """

    _made = 0

    def __init__(self, kind: str, directory: str, stem: str):
        self.kind = kind
        self.path = os.path.join(os.path.abspath(directory), f"{stem}.sqlite3")
        Database._made += 1
        self.name = f"chatbench_{os.getpid()}_{Database._made}_{time.time_ns() % 10**6}"
        self.created = False

    @property
    def url(self) -> str:
        if self.kind == "postgresql":
            return f"{POSTGRES_URL}/{self.name}"
        return f"sqlite:///{self.path}"  # an absolute path: sqlite:////abs/path.sqlite3

    def backend_cpu(self) -> dict[int, float]:
        """CPU seconds per PostgreSQL backend process serving this database (none for SQLite).

        PostgreSQL titles each backend `postgres: USER DATABASE HOST STATE`, so this database's
        backends are told from those of everything else using the same PostgreSQL.
        """
        if self.kind != "postgresql":
            return {}
        out = {}
        tick = os.sysconf("SC_CLK_TCK")
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    title = f.read().decode("utf-8", "replace")
                if not title.startswith("postgres:") or f" {self.name} " not in title:
                    continue
                with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                out[int(pid)] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
        return out

    def create(self) -> None:
        if self.kind == "postgresql":
            psql(f'CREATE DATABASE "{self.name}"')
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(self.path + suffix):
                    os.remove(self.path + suffix)
        self.created = True

    def finish(self) -> dict:
        """What the run left in the database: {kind, bytes, rows} (+ error); drops a PostgreSQL one."""
        info: dict = {"kind": self.kind, "bytes": None, "rows": None}
        if not self.created:
            return info
        try:
            if self.kind == "postgresql":
                info["bytes"] = int(psql(f"SELECT pg_database_size('{self.name}')").strip())
                rows = [ln.split("|") for ln in psql(_PG_ROWS, self.name).splitlines() if ln]
                info["rows"] = {t: int(n) for t, n in rows}
            else:
                files = [self.path + s for s in ("", "-wal", "-shm", "-journal") if os.path.exists(self.path + s)]
                info["bytes"] = sum(os.path.getsize(f) for f in files)
                info["rows"] = _sqlite_rows(self.path)
        except (ServerError, sqlite3.Error, ValueError) as e:
            info["error"] = f"reading the database: {e}"
        if self.kind == "postgresql":
            try:
                psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            except ServerError as e:
                info["error"] = f"dropping {self.name}: {e}"
        return info


# Whole words only: socket ids are random letters, and "FA5pjO_Br4IeRrorACKL" once counted as an error.
ERROR_LINE = re.compile(r"\b(?:Traceback|ERROR|CRITICAL|Exception|FATAL|uncaught)\b|Error:", re.IGNORECASE)


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
        self.db: Database | None = None
        if name in CHATSERVERS:
            stem = os.path.splitext(os.path.basename(log_path))[0]
            self.db = Database("postgresql" if name == "chatserver-pg" else "sqlite", os.path.dirname(log_path), stem)
        self.db_info: dict | None = None  # what the run left in its database, after __exit__

    def __enter__(self) -> Server:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in __exit__
        try:
            if self.db:
                self.db.create()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        cmd, extra_env, cwd = command(self.name, self.port, self.chatserver_dir, self.db and self.db.url)
        try:
            self.proc = subprocess.Popen(
                pin(self.core) + cmd,
                cwd=cwd,
                env={**inherited_env(), **extra_env},
                stdout=self.log,
                stderr=subprocess.STDOUT,
                preexec_fn=raise_open_files,
            )
        except OSError as e:
            self.__exit__(None, None, None)  # drops the database made for it
            raise ServerError(f"{self.name} could not be started: {e}") from e
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self._unpin_children()
        return self

    def _unpin_children(self) -> None:
        """Let the server's child processes (chatserver's store) run on any core, as PostgreSQL's backends do.

        The pin is for the event loop, the one core that serves every socket. Work the server hands
        to another process is still its cost: the generator counts the CPU of the whole process tree.
        """
        cores = range(os.cpu_count() or 1)
        for task in os.listdir(f"/proc/{self.pid}/task"):
            with open(f"/proc/{self.pid}/task/{task}/children", encoding="utf-8") as f:
                for child in f.read().split():
                    os.sched_setaffinity(int(child), cores)

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
        if self.db:
            self.db_info = self.db.finish()
            if self.db_info.get("error"):  # into the log, where compare.py's error count sees it
                self.log.write(f"bench: database error: {self.db_info['error']}\n".encode())
        self.log.close()

    def error_lines(self, start: int = 0, limit: int = 5) -> tuple[int, list[str]]:
        """How many lines of the log from byte `start` look like errors, and the first `limit` of them."""
        with open(self.log_path, "rb") as f:
            f.seek(start)
            lines = [ln.decode("utf-8", "replace").rstrip() for ln in f]
        bad = [ln for ln in lines if ERROR_LINE.search(ln) and "DeprecationWarning" not in ln]
        return len(bad), bad[:limit]
