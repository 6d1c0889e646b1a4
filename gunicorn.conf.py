"""gunicorn settings read from the working directory: `gunicorn -k eventlet -w 1 wsgi:app`."""

import os

from chatserver.config import DEFAULTS

# Where CHATSERVER_HOST/PORT say, unless gunicorn's own --bind is given.
bind = f"{os.environ.get('CHATSERVER_HOST', DEFAULTS['CHATSERVER_HOST'])}:{os.environ.get('CHATSERVER_PORT', DEFAULTS['CHATSERVER_PORT'])}"
# gunicorn's eventlet worker sizes its green-thread pool from worker_connections (default 1,000).
worker_connections = int(os.environ.get("CHATSERVER_MAX_CONNECTIONS", DEFAULTS["CHATSERVER_MAX_CONNECTIONS"]))
# Socket.IO sessions live in one process: more workers need the message queue and sticky sessions.
workers = 1
