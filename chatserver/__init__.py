"""chatserver: a real-time chat server on Flask-SocketIO, standalone or inside a Flask app.

Importing the package loads nothing else: Flask and Socket.IO come in with ``create_app`` or
``ChatServer``, so an entry point can monkey-patch with eventlet before they are imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from .extension import ChatServer

__version__ = "0.1.0"
__all__ = ["ChatServer", "create_app", "__version__"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the standalone chat app: defaults, then CHATSERVER_* environment, then ``test_config``."""
    from flask import Flask

    from .config import DEFAULTS, from_environ
    from .extension import ChatServer

    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(from_environ())
    if test_config is not None:
        app.config.from_mapping(test_config)
    ChatServer(app)
    return app


def __getattr__(name: str) -> Any:
    if name == "ChatServer":
        from .extension import ChatServer

        return ChatServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
