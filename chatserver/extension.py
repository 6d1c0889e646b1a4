"""ChatServer: the Flask extension that wires Socket.IO, CORS, the namespace and the page."""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_cors import CORS
from flask_socketio import SocketIO
from sqlalchemy.engine import make_url

from . import control, transport
from .chat import ONLINE_ROOM, ChatService, MemoryPresence, UserList
from .chat.accounts import Accounts, call_here
from .chat.rooms import RoomLimits, RoomList
from .config import DEFAULTS
from .events import ChatNamespace
from .proxies import TrustedProxies
from .store import OS_THREADS, Store, Threads, default_url, open_store
from .transport import Admission, FanOutManager
from .views import blueprint

if TYPE_CHECKING:
    from .cluster import Cluster
    from .metrics import Metrics

logger = logging.getLogger(__name__)

PRUNE_INTERVAL = 3600.0
SHUTDOWN_FLUSH_TIMEOUT = 10.0


@dataclass(frozen=True)
class ChatState:
    """What init_app stores in ``app.extensions["chatserver"]``."""

    socketio: SocketIO
    service: ChatService
    namespace: ChatNamespace
    store: Store
    # Where accounts and history are, for the log (a password in the URL is masked).
    database: str
    # None when the host app brought its own SocketIO: its transport is its own business.
    admission: Admission | None = None
    # None for one process in memory (no CHATSERVER_MESSAGE_QUEUE).
    cluster: Cluster | None = None
    # What `chatserver admin` shows the control endpoint (control.py).
    admin_token: str = ""
    # None unless CHATSERVER_METRICS is on.
    metrics: Metrics | None = None


def detect_async_mode() -> str:
    """Follow how the process was started: eventlet or gevent if it monkey-patched, else threading.

    Looking in sys.modules, never importing, keeps ``import chatserver`` from pulling in eventlet.
    """
    eventlet_patcher = sys.modules.get("eventlet.patcher")
    if eventlet_patcher is not None and eventlet_patcher.is_monkey_patched("socket"):
        return "eventlet"
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("socket"):
        return "gevent"
    return "threading"


def _load_authenticator(value: Any) -> Callable[[str, str | None], Any] | None:
    """Accept a callable or a ``module:function`` import string; raise ValueError naming what is wrong."""
    if value is None or callable(value):
        return value
    module_name, _, attribute = str(value).partition(":")
    if not module_name or not attribute:
        raise ValueError(f"CHATSERVER_AUTHENTICATOR={value!r}: expected module:function")
    function = getattr(_import_here_or_on_path(module_name, value), attribute, None)
    if not callable(function):
        raise ValueError(f"CHATSERVER_AUTHENTICATOR={value!r}: module {module_name!r} has no function {attribute!r}")
    return function


def _import_here_or_on_path(module_name: str, setting: str) -> Any:
    """Import ``module_name`` from the import path, else from the working directory.

    ``python -m chatserver``, gunicorn and ``flask run`` put the working directory on the import
    path; the ``chatserver`` console script and ``python wsgi.py`` do not. Looking there too
    finds ``myauth.py`` next to where the server was started whichever way it was. The directory
    is appended, so it never hides an installed module, and stays, so the module can import its
    neighbours later.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if not _is_module_or_parent(exc.name, module_name):
            raise  # the module was found; something it imports was not
    working_directory = os.getcwd()
    if working_directory not in sys.path and "" not in sys.path:
        sys.path.append(working_directory)
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not _is_module_or_parent(exc.name, module_name):
                raise
            sys.path.remove(working_directory)
    raise ValueError(f"CHATSERVER_AUTHENTICATOR={setting!r}: no module {module_name!r} on the import path "
                     f"or in the working directory {working_directory}") from None


def _is_module_or_parent(missing: str | None, module_name: str) -> bool:
    return missing is not None and (module_name == missing or module_name.startswith(missing + "."))


def _cluster_for(config: Mapping[str, Any]) -> Cluster | None:
    """The Redis parts of a node when CHATSERVER_MESSAGE_QUEUE is set; None for one process in memory."""
    url = config["CHATSERVER_MESSAGE_QUEUE"]
    if not url:
        return None
    try:
        from .cluster import Cluster  # needs the redis package, which one process does without
    except ImportError as exc:
        raise RuntimeError("CHATSERVER_MESSAGE_QUEUE needs the redis package: pip install 'chatserver[redis]'") from exc
    return Cluster(url, prefix=config["CHATSERVER_REDIS_PREFIX"], node_timeout=config["CHATSERVER_NODE_TIMEOUT"],
                   recovery_window=config["CHATSERVER_RECOVERY_WINDOW"])


def _recovery_secret(cluster: Cluster | None) -> bytes | None:
    """The key the nodes of a cluster share for recovery's pids; None on one node (or Redis away: then per node)."""
    if cluster is None or cluster.recovery is None:
        return None
    try:
        return cluster.recovery.shared_secret()
    except Exception as exc:  # Redis away at startup: recovery still works on this node
        logger.warning("recovery: no shared key from Redis (%s): sessions recover on their own node only", exc)
        return None


def _threads_for(async_mode: str) -> tuple[Threads, Callable[..., Any]]:
    """Real OS threads for the store and password hashing, and how a handler waits for them."""
    if async_mode == "eventlet":
        from .transport.eventlet import threads

        return Threads(threads.start_thread, threads.lock, threads.event, threads.wait), threads.offload
    # threading: handlers run in OS threads already. gevent: its monkey-patched threading makes
    # greenlets, so there the store still runs on the loop (docs/architecture.md).
    return OS_THREADS, call_here


def _socket_rooms(socketio: SocketIO, namespace: str) -> Callable[[str], Any]:
    """The Socket.IO rooms a socket of this node is in (a set, from our own client manager)."""
    manager = socketio.server.manager
    if isinstance(manager, FanOutManager):
        return lambda sid: manager.rooms_of(sid, namespace)
    return lambda sid: manager.get_rooms(sid, namespace)


def database_url(app: Flask) -> str:
    """The accounts and history database: CHATSERVER_DATABASE_URL, else SQLite in the instance folder."""
    config = app.config
    url = config["CHATSERVER_DATABASE_URL"]
    if not url:
        os.makedirs(app.instance_path, exist_ok=True)
        url = default_url(app.instance_path)
    if config["CHATSERVER_MESSAGE_QUEUE"] and make_url(url).get_backend_name() == "sqlite":
        raise RuntimeError(
            "CHATSERVER_MESSAGE_QUEUE needs a database every node shares: set CHATSERVER_DATABASE_URL to a "
            "PostgreSQL URL (postgresql://user@host/db); an SQLite file belongs to one process"
        )
    return url


def _open_store(url: str, threads: Threads, process: bool,
                observe_save: Callable[[float], None] | None = None) -> Store:
    """Open (and migrate) the accounts and history database at ``url``, in a child process if ``process``."""
    store = open_store(url, threads=threads, process=process, observe_save=observe_save)
    # Live messages are written behind their replies: whatever stops the process (gunicorn's
    # worker exit, Ctrl-C under flask run) writes what is still queued first.
    atexit.register(store.close, SHUTDOWN_FLUSH_TIMEOUT)
    logger.info("accounts and history in %s", shown_url(url))
    return store


def shown_url(url: str) -> str:
    """A database URL as it may be logged: any password masked."""
    return make_url(url).render_as_string(hide_password=True)


def _prune_forever(store: Store, days: float, sleep: Callable[[float], None]) -> None:
    """Delete messages older than ``days``, once an hour."""
    while True:
        try:
            removed = store.prune(int((time.time() - days * 86400) * 1000))
            if removed:
                logger.info("retention: deleted %d messages older than %s days", removed, days)
        except Exception:
            logger.exception("retention: pruning history failed; trying again in an hour")
        sleep(PRUNE_INTERVAL)


class ChatServer:
    """Adds the chat to a Flask app: ``ChatServer(app)`` or ``ChatServer().init_app(app)``.

    Pass ``socketio`` to reuse a host app's own SocketIO; otherwise one is made for the app.
    """

    def __init__(self, app: Flask | None = None, socketio: SocketIO | None = None) -> None:
        if app is not None:
            self.init_app(app, socketio)

    def init_app(self, app: Flask, socketio: SocketIO | None = None) -> ChatState:
        """Register the chat on ``app``; raise RuntimeError if it already is."""
        if "chatserver" in app.extensions:
            raise RuntimeError("chatserver is already registered on this app")
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        config = app.config
        origins = config["CHATSERVER_CORS_ORIGINS"]
        url = database_url(app)

        admission = None
        cluster = _cluster_for(config)
        if socketio is None:
            manager = cluster.queue if cluster else FanOutManager()
            # Presence events may wait up to 20 ms to share a write with others (transport/eventlet/websocket.py).
            manager.later_rooms = frozenset({ONLINE_ROOM})
            # One SocketIO per app: a module-level one shared by two apps mixes their handlers.
            socketio = SocketIO(
                app,
                async_mode=config["CHATSERVER_ASYNC_MODE"] or detect_async_mode(),
                cors_allowed_origins=origins,
                # Handlers run in order per socket (login before the message that follows it)
                # and without a green thread per event. A handler that waits for the store
                # parks only its own socket's reader: the store's thread does the waiting.
                async_handlers=False,
                max_http_buffer_size=config["CHATSERVER_MAX_PACKET_SIZE"],
                ping_interval=config["CHATSERVER_PING_INTERVAL"],
                ping_timeout=config["CHATSERVER_PING_TIMEOUT"],
                client_manager=manager,
            )
            admission = transport.install(app, socketio, transport.TransportSettings(
                send_queue_bytes=config["CHATSERVER_SEND_QUEUE_BYTES"],
                max_clients_per_address=config["CHATSERVER_MAX_CLIENTS_PER_ADDRESS"],
                # The presence and room lists hold only strings, numbers and booleans: not looked into for bytes.
                never_binary=(UserList, RoomList),
                recovery_window=config["CHATSERVER_RECOVERY_WINDOW"],
                recovery_bytes=config["CHATSERVER_RECOVERY_BUFFER_BYTES"],
                recovery_secret=_recovery_secret(cluster),
            ))
        elif cluster:
            logger.warning("CHATSERVER_MESSAGE_QUEUE is set but the SocketIO given brings its own client manager: "
                           "emits cross nodes only if that manager shares a queue with the other nodes")

        trusted_proxies = config["CHATSERVER_TRUSTED_PROXIES"]
        if trusted_proxies:
            # Outermost, so that admission, Engine.IO's saved environ and the chat all see the client.
            app.wsgi_app = TrustedProxies(app.wsgi_app, trusted_proxies)

        metrics = None
        if config["CHATSERVER_METRICS"]:
            from .metrics import Metrics  # prometheus_client is imported only when asked for

            metrics = Metrics(config["CHATSERVER_METRICS_ALLOW"])
        threads, offload = _threads_for(socketio.async_mode)
        # Only eventlet runs every socket on one OS thread, which a store thread's GIL would stall.
        in_child = config["CHATSERVER_STORE_PROCESS"] and socketio.async_mode == "eventlet"
        store = _open_store(url, threads, in_child, metrics.store_writes.observe if metrics else None)
        accounts = Accounts(
            store,
            guests=config["CHATSERVER_GUESTS"],
            registration=config["CHATSERVER_REGISTRATION"],
            authenticator=_load_authenticator(config["CHATSERVER_AUTHENTICATOR"]),
            token_lifetime=config["CHATSERVER_TOKEN_LIFETIME_DAYS"] * 86400,
            failures_per_id=config["CHATSERVER_LOGIN_FAILURES_PER_ID"],
            failures_per_address=config["CHATSERVER_LOGIN_FAILURES_PER_ADDRESS"],
            offload=offload,
        )
        service = ChatService(
            cluster.presence if cluster else MemoryPresence(),
            store=store,
            accounts=accounts,
            history=config["CHATSERVER_HISTORY"],
            locale=config["CHATSERVER_LOCALE"],
            max_message_length=config["CHATSERVER_MAX_MESSAGE_LENGTH"],
            max_id_length=config["CHATSERVER_MAX_ID_LENGTH"],
            rate_per_second=config["CHATSERVER_RATE_LIMIT_PER_SECOND"],
            burst=config["CHATSERVER_RATE_LIMIT_BURST"],
            room_limits=RoomLimits(
                rooms=config["CHATSERVER_MAX_ROOMS"],
                rooms_per_user=config["CHATSERVER_MAX_ROOMS_PER_USER"],
                members=config["CHATSERVER_MAX_ROOM_MEMBERS"],
            ),
        )
        recovery = getattr(socketio.server.manager, "recovery", None)
        namespace = ChatNamespace(
            config["CHATSERVER_NAMESPACE"], service, recovery,
            # The grace keeps the session's messages for its recovery: it cannot outlast the session.
            presence_grace=min(config["CHATSERVER_PRESENCE_GRACE"], config["CHATSERVER_RECOVERY_WINDOW"]),
        )
        socketio.on_namespace(namespace)
        if recovery is not None:
            recovery.in_grace = namespace.in_grace
            recovery.on_handed_over = namespace.handed_over
            if cluster and cluster.recovery and recovery.remote is None:
                cluster.recovery.attach(recovery)
        # Every socket of a room's member is in the room's Socket.IO room: membership is checked there.
        service.socket_rooms = _socket_rooms(socketio, namespace.namespace)
        if cluster:
            cluster.queue.node_handlers.update(namespace.node_handlers())
        if metrics:
            namespace.observe_event = metrics.events.observe

        prefix = config["CHATSERVER_URL_PREFIX"].rstrip("/")
        app.register_blueprint(blueprint, url_prefix=prefix or None)
        app.register_blueprint(control.blueprint, url_prefix=f"{prefix}/admin")
        if metrics:
            from .metrics import blueprint as metrics_blueprint

            app.register_blueprint(metrics_blueprint, url_prefix=prefix or None)
        # Only the chat's own routes get CORS headers, so a host app's routes keep their policy.
        # The Socket.IO handshake is not a Flask route: cors_allowed_origins above covers it.
        CORS(app, resources={rf"{prefix}/(healthz|static/chatserver/.*)?$": {"origins": origins}})

        if cluster:
            cluster.start(
                socketio.start_background_task,
                socketio.sleep,
                announce=lambda changes: namespace.deliver(service.announce(changes)),
                rejoin=lambda: namespace.deliver(service.refresh_lists()),
            )

        retention_days = config["CHATSERVER_HISTORY_RETENTION_DAYS"]
        if retention_days > 0:
            socketio.start_background_task(_prune_forever, store, retention_days, socketio.sleep)

        state = ChatState(socketio, service, namespace, store, shown_url(url), admission, cluster,
                          control.admin_token(app), metrics)
        if metrics:
            metrics.state = state
        app.extensions["chatserver"] = state
        logger.debug("chatserver registered on %s (namespace %s)", app.name, namespace.namespace)
        return state
