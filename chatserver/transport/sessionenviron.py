"""The WSGI environ python-socketio keeps for each session, without the request's live objects.

python-socketio keeps the environ of each session's handshake request for as long as the session
lives (``Server.environ``, read by ``get_environ`` and by Flask-SocketIO for the request context
of the connect and disconnect handlers). Besides the CGI variables that environ holds objects
of the server's request: eventlet's input (with the connection's buffered reader), its
``set_idle`` closure (which holds the request's protocol object, with its parsed headers),
``headers_raw`` (a second copy of every header), Werkzeug's or gunicorn's socket. Kept per
session they cost every connected client memory for a request that ended long ago. The session
gets a copy without them; the request itself goes on with its own environ.
"""

from __future__ import annotations

import io
from typing import Any

# Keys of the server's request objects. A session's handlers read the CGI variables only.
REQUEST_OBJECTS = (
    "wsgi.input",
    "eventlet.input",
    "eventlet.set_idle",
    "eventlet.posthooks",
    "headers_raw",
    "chatserver.release_request",  # transport/eventlet/upgraded.py
    "werkzeug.socket",
    "gunicorn.socket",
)

# WSGI requires an input stream: a session's is empty (its body, if any, was read by its request).
EMPTY_INPUT = io.BytesIO(b"")


def session_environ(environ: dict) -> dict:
    """Return a copy of a handshake's ``environ`` without the request's live objects."""
    slim = {key: value for key, value in environ.items() if key not in REQUEST_OBJECTS}
    slim["wsgi.input"] = EMPTY_INPUT
    return slim


class SessionEnviron:
    """Wraps the Engine.IO ``connect`` handler of ``eio`` so that the session keeps ``session_environ``.

    Install it first: the handler it wraps must be python-socketio's, which stores the environ.
    """

    def __init__(self, eio: Any) -> None:
        self._connect = eio.handlers["connect"]
        eio.handlers["connect"] = self.on_connect

    def on_connect(self, sid: str, environ: dict, *args: Any) -> Any:
        """Engine.IO connect handler: connect with the slim copy of the handshake's environ."""
        return self._connect(sid, session_environ(environ), *args)
