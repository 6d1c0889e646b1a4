"""What each entry point prints and loads, started as a real process from a working directory of the user's own.

test_run_modes.py checks that every way to run the server serves the chat; this module checks
what a user sees in its output and what it finds in the directory it was started from.
"""

from __future__ import annotations

import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support import BIN, PYTHON, ROOT, RecordingClient, ServerProcess, chatserver_command, free_port

HERE = Path(__file__).resolve().parent

# Each entry point, started from any working directory (not only the checkout): port -> (command, env).
ENTRY_POINTS = {
    "console-script": lambda port: ([str(BIN / "chatserver"), "--host", "127.0.0.1", "--port", str(port)], {}),
    "python-m": lambda port: (chatserver_command(port), {}),
    "python-wsgi": lambda port: ([PYTHON, str(ROOT / "wsgi.py")], {"CHATSERVER_PORT": str(port)}),
    "gunicorn": lambda port: ([str(BIN / "gunicorn"), "-k", "eventlet", "-w", "1", "--bind", f"127.0.0.1:{port}",
                               "--pythonpath", str(ROOT), "wsgi:app"], {}),
    "flask-run": lambda port: ([str(BIN / "flask"), "--app", "chatserver", "run", "--port", str(port)], {}),
}
# The entry points that import eventlet and configure logging themselves (gunicorn's worker imports
# eventlet and sets up logging before our code runs; flask run never imports eventlet).
OWN_ENTRY_POINTS = ["console-script", "python-m", "python-wsgi"]


def start(entry_point: str, cwd: Path, log_dir: Path, **env: str) -> ServerProcess:
    """Start ``entry_point`` with ``cwd`` as its working directory, on a free port."""
    port = free_port()
    command, entry_env = ENTRY_POINTS[entry_point](port)
    # gunicorn's SIGTERM is a graceful stop that waits seconds for idle connections; SIGINT is quick.
    stop_signal = signal.SIGINT if entry_point == "gunicorn" else signal.SIGTERM
    return ServerProcess(command, port, env={**entry_env, **env}, cwd=cwd, log_dir=log_dir,
                         stop_signal=stop_signal).start()


# -- eventlet's deprecation warning ------------------------------------------------------------------


@pytest.mark.parametrize("entry_point", OWN_ENTRY_POINTS)
def test_our_entry_points_do_not_print_eventlets_deprecation_warning(entry_point, tmp_path):
    server = start(entry_point, ROOT, tmp_path)
    server.stop()
    log = server.log()
    assert "listening on" in log
    assert "Eventlet is deprecated" not in log and "EventletDeprecationWarning" not in log, log


def test_an_embedder_importing_eventlet_still_sees_its_deprecation_warning(tmp_path):
    """The warning is silenced around our entry points' own import only, never by importing chatserver.

    An embedder sees what importing eventlet alone shows (eventlet 0.40.3, the floor, shows nothing;
    newer ones warn).
    """
    def warnings_of(code: str) -> int:
        result = subprocess.run([PYTHON, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stderr.count("Eventlet is deprecated")

    alone = warnings_of("import eventlet")
    assert warnings_of("from chatserver import create_app; create_app(); import eventlet") == alone


# -- CHATSERVER_AUTHENTICATOR from the working directory ---------------------------------------------


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_an_authenticator_module_in_the_working_directory_is_found(entry_point, tmp_path):
    """`CHATSERVER_AUTHENTICATOR=myauth:check` with myauth.py where the server is started, as `python -m` finds it."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "myauth.py").write_text((HERE / "authenticator.py").read_text())
    server = start(entry_point, workdir, tmp_path, CHATSERVER_AUTHENTICATOR="myauth:password_is_sesame")
    client = None
    try:
        client = RecordingClient(server.url)
        assert client.call("login", {"id": "alice", "password": "open"})["code"] == "401"
        assert client.call("login", {"id": "alice", "password": "sesame"})["code"] == "200"
    finally:
        if client is not None:
            client.close()
        server.stop()


# -- each log line once -------------------------------------------------------------------------------


@pytest.mark.parametrize("entry_point", OWN_ENTRY_POINTS)
def test_engineio_log_lines_are_printed_once(entry_point, tmp_path):
    """python-engineio logs an unknown session as an error: one line, in the entry point's format."""
    server = start(entry_point, ROOT, tmp_path)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/socket.io/?EIO=4&transport=polling&sid=no-such-session", timeout=5)
        refused.value.close()
        assert refused.value.code == 400
    finally:
        server.stop()
    lines = [line for line in server.log().splitlines() if "Invalid session no-such-session" in line]
    assert len(lines) == 1, server.log()
    assert " ERROR engineio.server: " in lines[0]
