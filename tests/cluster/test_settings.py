"""The cluster settings, and one process staying free of Redis when they are unset."""

from __future__ import annotations

import subprocess

import pytest

from chatserver import create_app
from chatserver.config import DEFAULTS, from_environ

from support import PYTHON, ROOT


def test_cluster_settings_parse_from_the_environment():
    parsed = from_environ({"CHATSERVER_MESSAGE_QUEUE": "redis://10.0.0.5:6379/2", "CHATSERVER_REDIS_PREFIX": "chat2",
                           "CHATSERVER_NODE_TIMEOUT": "7.5"})
    assert parsed == {"CHATSERVER_MESSAGE_QUEUE": "redis://10.0.0.5:6379/2", "CHATSERVER_REDIS_PREFIX": "chat2",
                      "CHATSERVER_NODE_TIMEOUT": 7.5}
    assert from_environ({"CHATSERVER_MESSAGE_QUEUE": ""}) == {"CHATSERVER_MESSAGE_QUEUE": None}
    assert DEFAULTS["CHATSERVER_MESSAGE_QUEUE"] is None and DEFAULTS["CHATSERVER_NODE_TIMEOUT"] == 30.0


def test_without_a_message_queue_one_process_needs_no_redis(tmp_path):
    # A fresh interpreter: this one has imported the cluster modules for the other tests.
    # (python-socketio itself imports the redis package when it is installed; our modules must not load.)
    script = (
        "import sys\n"
        "from chatserver import create_app\n"
        "state = create_app().extensions['chatserver']\n"
        "print(type(state.service.presence).__name__, state.cluster, 'chatserver.cluster' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "CHATSERVER_MESSAGE_QUEUE": "", "CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path}/c.db"}
    result = subprocess.run([PYTHON, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["MemoryPresence", "None", "False"]


def test_a_cluster_refuses_to_start_on_sqlite(redis_server, tmp_path):
    """Nodes must share one database: an SQLite file belongs to one process, so a node says so and stops."""
    with pytest.raises(RuntimeError, match="CHATSERVER_DATABASE_URL.*PostgreSQL"):
        create_app({"CHATSERVER_MESSAGE_QUEUE": redis_server.url, "CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
