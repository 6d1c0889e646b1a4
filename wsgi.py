"""WSGI entry point: `gunicorn -k eventlet -w 1 wsgi:app`, or `python wsgi.py`."""

import warnings

with warnings.catch_warnings():
    # As in chatserver/__main__.py: eventlet's deprecation warning is advice for whoever chooses
    # eventlet, and we chose it for the user; only this import is covered.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated\.", category=Warning)
    import eventlet

eventlet.monkey_patch()  # first: before anything opens a socket or starts a thread

from chatserver import create_app  # noqa: E402

app = create_app()

if __name__ == "__main__":
    from chatserver.transport.eventlet.server import run

    run(app)
