"""chatserver: a real-time chat server on Flask-SocketIO, standalone or inside a Flask app."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

__version__ = "0.1.0"

from .config import DEFAULTS, from_environ  # noqa: E402
from .extension import ChatServer  # noqa: E402

__all__ = ["ChatServer", "create_app", "__version__"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the standalone chat app: defaults, then CHATSERVER_* environment, then ``test_config``."""
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(from_environ())
    if test_config is not None:
        app.config.from_mapping(test_config)
    ChatServer(app)
    return app
