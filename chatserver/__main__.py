"""`chatserver` and `python -m chatserver`: serve the chat on eventlet green threads."""

import eventlet

# Patch before the server opens a socket or starts a thread. The package itself was imported
# unpatched (python -m imports it first); eventlet greens the locks that already exist.
eventlet.monkey_patch()

import argparse  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402

import eventlet.wsgi  # noqa: E402
from flask import Flask  # noqa: E402

from chatserver import __version__, create_app  # noqa: E402

logger = logging.getLogger("chatserver")


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit: each connection is a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def run(app: Flask, host: str | None = None, port: int | None = None) -> None:
    """Serve ``app`` on eventlet until interrupted."""
    config = app.config
    logging.basicConfig(level=config["CHATSERVER_LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = host or config["CHATSERVER_HOST"]
    port = config["CHATSERVER_PORT"] if port is None else port
    open_files = raise_open_file_limit()
    listener = eventlet.listen((host, port), backlog=1024)
    logger.info(
        "chatserver %s listening on http://%s:%s (pool %s, open-file limit %s)",
        __version__,
        host,
        listener.getsockname()[1],
        config["CHATSERVER_MAX_CONNECTIONS"],
        open_files,
    )
    # eventlet's default pool of 1,024 green threads would cap concurrent connections.
    eventlet.wsgi.server(listener, app, max_size=config["CHATSERVER_MAX_CONNECTIONS"], log_output=False)


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
