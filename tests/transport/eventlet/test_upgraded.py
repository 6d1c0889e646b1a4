"""Once a connection carries a WebSocket, the server no longer holds the HTTP request that asked for it.

Each WebSocket lives inside the request that upgraded it, and python-socketio keeps each session's
handshake environ: before ``transport/eventlet/upgraded.py`` and ``transport/sessionenviron.py`` every
connected client kept its request's parsed headers, eventlet's input and a raw copy of every header
(about 9 KiB a client). A real server under eventlet, with real clients, in a process of its own.
"""

import json
import subprocess
import sys
from pathlib import Path

HELPER = Path(__file__).with_name("held_by_websockets.py")
CLIENTS = 40


def test_websockets_hold_no_http_request_and_still_work(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'chat.sqlite3'}"
    done = subprocess.run([sys.executable, str(HELPER), database_url, str(CLIENTS)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    before, during = report["before"], report["during"]
    # Each of CLIENTS requests held one of each before; a handful may be between requests.
    for kind in ("headers", "raw_header_copies"):
        assert during[kind] - before[kind] < CLIENTS // 4, report
    assert report["answers"] == ["200"] * CLIENTS, report
    # Letting go of the request's files must not close the connection early, nor leave it open after.
    # (The database opens its files on the first login.)
    assert report["descriptors_after"] - report["descriptors_before"] < CLIENTS // 4, report
