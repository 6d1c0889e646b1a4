"""A real PostgreSQL for the tests: the server on 127.0.0.1:5432, or a throwaway one of our own.

Each test gets a database of its own, created for it and dropped after it. Where nothing
listens on 5432 (a fresh machine), one server is started for the session from the installed
binaries; the same class gives fault tests a server they may stop and start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from support import free_port

HOST = "127.0.0.1"
SHARED_PORT = 5432
USER = "postgres"  # the superuser, trust authentication
INSTALL = "apt-get install postgresql"

_session_port: int | None = None


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
        return True
    return False


def binaries() -> Path:
    """The newest installed PostgreSQL's bin folder; fail (never skip) when there is none."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not found:
        pytest.fail(f"PostgreSQL is not installed: the store tests need it ({INSTALL})", pytrace=False)
    return found[-1].parent


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temp folder on a free loopback port; stop and start it at will."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="postgres-"))
        self.data = self.folder / "data"
        # PostgreSQL refuses to run as root: then it runs as the postgres OS user, who must own the folder.
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                pytest.fail("runuser is missing: root needs it to run PostgreSQL as postgres (apt-get install "
                            "util-linux)", pytrace=False)
            self.as_user = ["runuser", "-u", USER, "--"]
            try:
                shutil.chown(self.folder, USER, USER)
            except LookupError:
                pytest.fail(f"there is no {USER} OS user to run PostgreSQL as ({INSTALL} makes it)", pytrace=False)
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "--no-sync", "-E", "UTF8")

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run([*self.as_user, str(self.bin / program), *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}):\n{result.stdout}{result.stderr}")

    def start(self) -> PostgresServer:
        """Start (or start again, on the same port) and wait until it accepts connections."""
        # fsync off: a throwaway cluster need not survive a power cut, and the tests run faster.
        options = f"-p {self.port} -k {self.folder} -c listen_addresses={HOST} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        """Stop at once: open connections are cut, as when the server crashes or restarts."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        """Stop it if it runs and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.destroy()


def session_port(config: pytest.Config) -> int:
    """The port of a PostgreSQL for this session: 5432 when it is there, else our own, stopped at the end."""
    global _session_port
    if _session_port is None:
        if _listening(SHARED_PORT):
            _session_port = SHARED_PORT
        else:
            server = PostgresServer()
            config.add_cleanup(server.destroy)
            _session_port = server.start().port
    return _session_port


def _admin(port: int) -> psycopg.Connection:
    return psycopg.connect(host=HOST, port=port, user=USER, dbname="postgres", autocommit=True)


@contextlib.contextmanager
def fresh_database(port: int) -> Iterator[str]:
    """Create a database no one else uses, yield its ``postgresql://`` URL, drop it afterwards."""
    name = f"chatserver_test_{uuid.uuid4().hex[:12]}"
    with _admin(port) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://{USER}@{HOST}:{port}/{name}"
    finally:
        with _admin(port) as admin:
            # FORCE: a connection the test left open must not keep the database alive.
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
