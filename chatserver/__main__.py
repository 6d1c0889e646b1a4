"""`chatserver` and `python -m chatserver`: the command line; serves the chat on eventlet green threads."""

import warnings

with warnings.catch_warnings():
    # eventlet warns on import that it is deprecated and that new projects should not use it (an
    # EventletDeprecationWarning: a Warning, matched by its message since the class cannot be named
    # before the import). That advice is for whoever chooses eventlet; running chatserver, we made
    # that choice for the user (eventlet stays the default, see README), so our entry points do not
    # show it. Only this import is covered: code that imports eventlet itself still sees it.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated\.", category=Warning)
    import eventlet

# Patch before the server opens a socket or starts a thread. The package itself was imported
# unpatched (python -m imports it first); eventlet greens the locks that already exist.
eventlet.monkey_patch()

import argparse  # noqa: E402

from chatserver import __version__, create_app  # noqa: E402
from chatserver.transport.eventlet.server import run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(prog="chatserver", description="Real-time chat server (Socket.IO).")
    parser.add_argument("--host", help="address to listen on (default: CHATSERVER_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: CHATSERVER_PORT or 3000)")
    parser.add_argument("--version", action="version", version=f"chatserver {__version__}")
    args = parser.parse_args(argv)
    run(create_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
