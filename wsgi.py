"""WSGI entry point: `gunicorn -k eventlet -w 1 wsgi:app`, or `python wsgi.py`."""

import eventlet

eventlet.monkey_patch()  # first: before anything opens a socket or starts a thread

from chatserver import create_app  # noqa: E402

app = create_app()

if __name__ == "__main__":
    from chatserver.transport.eventlet.server import run

    run(app)
