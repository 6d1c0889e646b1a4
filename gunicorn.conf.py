"""gunicorn settings, read from the working directory: `gunicorn -k eventlet -w 1 wsgi:app`."""

from chatserver.config import DEFAULTS, from_environ

_settings = {**DEFAULTS, **from_environ()}

# Where CHATSERVER_HOST and CHATSERVER_PORT say, unless gunicorn's own --bind is given.
bind = f"{_settings['CHATSERVER_HOST']}:{_settings['CHATSERVER_PORT']}"
# gunicorn's eventlet worker sizes its green-thread pool from worker_connections (default 1,000).
worker_connections = _settings["CHATSERVER_MAX_CONNECTIONS"]
# Socket.IO sessions live in one process: more workers need the message queue and sticky sessions.
workers = 1


def post_worker_init(worker) -> None:
    """The worker serves from here on: set its garbage collector for a server (chatserver/collector.py)."""
    from chatserver import collector

    collector.tune()


def worker_int(worker) -> None:
    """SIGINT or SIGQUIT: the worker exits now, as gunicorn would 0.1 s later.

    gunicorn's eventlet worker quits from a green thread that sleeps 0.1 s before its
    ``sys.exit``; when the worker's own loop ends first, that thread is still asleep at
    interpreter exit, wakes inside eventlet's exit handler and prints a SystemExit traceback.
    """
    raise SystemExit(0)
