"""deploy/systemd/chatserver.service: systemd's own checks, and its command and settings serving the chat.

systemd cannot run as PID 1 in this container, so the unit is not started by systemd here:
`systemd-analyze verify` loads it as systemd would, `systemd-analyze security --offline` scores its
sandbox, and the command line with the unit's environment runs as a real server. What stays
untested is the sandbox's effect on the running process (and Restart=, which systemd does).
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

from deploy_support import DEPLOY, require

from support import BIN, RecordingClient, ServerProcess, free_port

UNIT = DEPLOY / "systemd" / "chatserver.service"
# Where the unit expects the venv (README, "Operating it"); the tests use the one they run in.
INSTALLED_BIN = "/opt/chatserver/bin/"
STATE_DIRECTORY = "/var/lib/chatserver"


def service_section(text: str) -> list[tuple[str, str]]:
    """The ``[Service]`` section's settings, in order, as (key, value) pairs (keys may repeat)."""
    settings, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            settings.append((key, value))
    return settings


def unit_here(directory: Path, text: str | None = None) -> Path:
    """The unit (or ``text``) written to ``directory``, its ExecStart on this venv's real `chatserver`."""
    text = UNIT.read_text() if text is None else text
    assert INSTALLED_BIN in text, "the unit no longer runs /opt/chatserver/bin/...: update unit_here()"
    path = directory / "chatserver.service"
    path.write_text(text.replace(INSTALLED_BIN, f"{BIN}/"))
    return path


def analyze(*arguments: str) -> subprocess.CompletedProcess:
    """Run systemd-analyze; its findings go to stdout or stderr."""
    command = [require("systemd-analyze", "systemd"), *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_systemd_analyze_verify_finds_nothing_wrong(tmp_path):
    result = analyze("verify", str(unit_here(tmp_path)))
    findings = [line for line in (result.stdout + result.stderr).splitlines() if "chatserver.service" in line]
    assert result.returncode == 0 and findings == [], result.stdout + result.stderr


def test_systemd_analyze_verify_would_catch_a_mistake(tmp_path):
    # That the check above can fail here: a misspelt key and a binary that is not there are reported.
    broken = UNIT.read_text().replace("Restart=on-failure", "Restrat=on-failure")
    result = analyze("verify", str(unit_here(tmp_path, broken)))
    assert "Unknown key 'Restrat'" in result.stdout + result.stderr
    missing = analyze("verify", str(UNIT))  # /opt/chatserver is not installed here
    assert missing.returncode != 0 and "/opt/chatserver/bin/chatserver" in missing.stdout + missing.stderr


def test_the_sandbox_scores_ok_in_systemd_analyze_security(tmp_path):
    # --threshold is on systemd's 0-100 scale: 20 is an exposure of 2.0, the top of its "OK" band.
    result = analyze("security", "--offline=yes", "--threshold=20", str(unit_here(tmp_path)))
    output = result.stdout + result.stderr
    level = re.search(r"Overall exposure level for chatserver\.service: (\d+\.\d+)", output)
    assert result.returncode == 0 and level is not None, output
    assert float(level[1]) <= 2.0


def test_the_units_command_and_environment_serve_the_chat(tmp_path):
    settings = service_section(UNIT.read_text())
    values = dict(settings)
    assert values["Restart"] == "on-failure"
    assert values["StateDirectory"] == "chatserver"
    environment = dict(value.split("=", 1) for key, value in settings if key == "Environment")
    # The SQLite file lives in the state directory systemd makes (and keeps) for the unit.
    assert environment["CHATSERVER_DATABASE_URL"] == f"sqlite:///{STATE_DIRECTORY}/chatserver.sqlite3"

    state = tmp_path / "state"
    state.mkdir()
    port = free_port()
    # systemd starts a service with a bare environment: nothing of ours leaks in from the test's.
    environment = {key: value.replace(STATE_DIRECTORY, str(state)) for key, value in environment.items()}
    environment.update(PATH="/usr/local/bin:/usr/bin:/bin", CHATSERVER_PORT=str(port))
    command = values["ExecStart"].replace(INSTALLED_BIN, f"{BIN}/").split()
    server = ServerProcess(command, port, log_dir=tmp_path, cwd=tmp_path)
    server.env = environment
    with server:
        client = RecordingClient(server.url)
        try:
            assert client.call("register", {"id": "alice", "password": "correct horse battery staple"})["code"] == "200"
            assert client.call("login", {"id": "alice", "password": "correct horse battery staple"})["code"] == "200"
        finally:
            client.close()
        server.process.send_signal(signal.SIGTERM)
        # SIGTERM is how systemd stops it; it must be done well within TimeoutStopSec.
        assert server.process.wait(int(values["TimeoutStopSec"])) == 0
    assert (state / "chatserver.sqlite3").is_file()
    assert f"accounts and history in sqlite:///{state}/chatserver.sqlite3" in server.log()


def test_the_tls_site_sends_clients_to_the_units_node():
    environment = dict(value.split("=", 1) for key, value in service_section(UNIT.read_text())
                       if key == "Environment")
    node = f"{environment['CHATSERVER_HOST']}:{environment['CHATSERVER_PORT']}"
    site = (DEPLOY / "nginx" / "chatserver-tls.conf").read_text()
    assert re.findall(r"(?m)^\s*server (\S+);", site) == [node]
    # Only nginx on this host reaches a node on loopback, so it is the one proxy to trust.
    assert environment["CHATSERVER_TRUSTED_PROXIES"] == "127.0.0.1,::1"
