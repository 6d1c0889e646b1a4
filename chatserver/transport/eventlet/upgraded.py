"""An HTTP request that became a WebSocket lets go of what only its head needed.

eventlet.wsgi serves a WebSocket inside the request that asked for the upgrade, so that green
thread's frames keep the request alive for as long as the WebSocket lives: the protocol object
with the parsed headers (``http.client.HTTPMessage``, an email message), the connection's buffered
reader and writer (``makefile``), and the WSGI environ with ``headers_raw``, a second copy of every
header. The WebSocket never uses any of them after the handshake: it reads and writes the socket
itself. ``UpgradableProtocol`` puts a way to release them into each environ, and the lean WebSocket
calls ``release_request`` once its handshake is answered.

Imported by the entry points and the lean WebSocket only: it imports eventlet.
"""

from __future__ import annotations

from eventlet import wsgi

RELEASE_REQUEST = "chatserver.release_request"


class UpgradableProtocol(wsgi.HttpProtocol):
    """eventlet's HTTP protocol whose request can drop its head once the connection carries a WebSocket."""

    def get_environ(self) -> dict:
        """Build the WSGI environ, with the release under ``RELEASE_REQUEST``."""
        environ = super().get_environ()
        environ[RELEASE_REQUEST] = self.release_request
        return environ

    def release_request(self) -> None:
        """Drop the request's head, environ and buffered files; the connection now carries WebSocket frames only."""
        # The buffered files count as users of the socket, and a close() of the socket waits for
        # the last of them: eventlet's WebSocket closes it on the client's close frame and again
        # on its way out, and only eventlet's own close, when the request ends, may free the
        # descriptor. An unbuffered file keeps that count; closing the buffered ones frees their buffers.
        self._socket_user = self.connection.makefile("rb", buffering=0)
        self.rfile.close()
        self.wfile.close()
        self.headers = None
        # When the request ends eventlet reads its post-request hooks from the environ, nothing else.
        environ = self.environ
        posthooks = environ.get("eventlet.posthooks", [])
        environ.clear()
        environ["eventlet.posthooks"] = posthooks

    def finish(self) -> None:
        """End the request: the socket is closed here, not before."""
        socket_user = getattr(self, "_socket_user", None)
        if socket_user is not None:
            socket_user.close()
        super().finish()


def release_request(environ: dict) -> None:
    """Have the server drop the request behind ``environ``, an upgraded WebSocket's, when it can."""
    # engine.io reads a few headers of this environ when the WebSocket ends (CORS), never these.
    environ.pop("headers_raw", None)
    release = environ.pop(RELEASE_REQUEST, None)
    if release is not None:
        release()
