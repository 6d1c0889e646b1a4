"""Settings: one table of defaults, overridable by CHATSERVER_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .proxies import networks

ENV_PREFIX = "CHATSERVER_"


def _text(value: str) -> str:
    return value


def _optional_text(value: str) -> str | None:
    return value or None


def _switch(on: str, off: str) -> Callable[[str], bool]:
    """Parse a two-word setting such as ``on``/``off`` into True/False."""

    def parse(value: str) -> bool:
        word = value.strip().lower()
        if word not in (on, off):
            raise ValueError(f"expected {on} or {off}")
        return word == on

    parse.__name__ = f"{on}_or_{off}"
    return parse


def _origins(value: str) -> str | list[str]:
    """Parse ``*`` or a comma-separated allowlist of origins."""
    value = value.strip()
    if value == "*":
        return "*"
    return [origin.strip() for origin in value.split(",") if origin.strip()]


@dataclass(frozen=True)
class Setting:
    """One configuration key: its default, how to parse it from the environment, its meaning."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str

    @property
    def key(self) -> str:
        """The Flask config key, which is also the environment variable name."""
        return ENV_PREFIX + self.name


SETTINGS = (
    Setting("HOST", "127.0.0.1", _text, "Address to listen on (`0.0.0.0` for every interface)."),
    Setting("PORT", 3000, int, "TCP port for the page and Socket.IO (the seed's 3000)."),
    Setting(
        "CORS_ORIGINS",
        "*",
        _origins,
        "`*` or comma-separated origins allowed by both the HTTP routes and the Socket.IO handshake.",
    ),
    Setting("LOCALE", "en", _text, "Language of `response` texts: `en` or `ko` (the seed's sentences)."),
    Setting("MAX_MESSAGE_LENGTH", 2000, int, "Longest `data` in code points; longer gets `413`."),
    Setting("NAMESPACE", "/", _text, "Socket.IO namespace of the chat events."),
    Setting("URL_PREFIX", "", _text, "URL prefix of the page and `/healthz` (e.g. `/chat`)."),
    Setting("LOG_LEVEL", "INFO", _text, "Log level set by the entry points (library code never configures logging)."),
    Setting("LOG_FORMAT", "text", _text, "`text`: one plain line per record; `json`: one JSON object per line."),
    Setting(
        "ASYNC_MODE",
        None,
        _optional_text,
        "Force `eventlet`, `gevent` or `threading`; unset follows how the process was started.",
    ),
    Setting("MAX_CONNECTIONS", 20000, int, "Connections one eventlet server holds (eventlet's default pool: 1024)."),
    Setting("RATE_LIMIT_PER_SECOND", 20.0, float, "Sustained events per second per socket; `0` turns the limit off."),
    Setting("RATE_LIMIT_BURST", 40, int, "Events a socket may send at once before the rate limit applies."),
    Setting("MAX_PACKET_SIZE", 65536, int, "Largest Engine.IO packet or long-polling body in bytes."),
    Setting("MAX_ID_LENGTH", 64, int, "Longest login id (and `recepient`) in code points; longer gets `400`."),
    Setting(
        "MAX_CLIENTS_PER_ADDRESS",
        0,
        int,
        "Socket.IO connections one client address may hold at once; `0` is no limit (behind a proxy all share its "
        "address unless `TRUSTED_PROXIES` names it).",
    ),
    Setting(
        "SEND_QUEUE_BYTES",
        262144,
        int,
        "Bytes waiting to be sent to one client, besides its largest packet, before it is dropped as a slow "
        "consumer; `0` is no limit.",
    ),
    Setting("PING_INTERVAL", 25.0, float, "Seconds between Engine.IO pings (fractions too: `0.5`)."),
    Setting("PING_TIMEOUT", 20.0, float, "Seconds to wait for a pong before dropping the connection (fractions too)."),
    Setting(
        "REQUEST_HEAD_TIMEOUT",
        20.0,
        float,
        "Seconds a connection may take to send a request's line and headers (slowloris); `0` is no limit.",
    ),
    Setting(
        "RECOVERY_WINDOW",
        120.0,
        float,
        "Seconds a dropped Socket.IO session is kept for socket.io-client's connection state recovery (its sid, "
        "login, rooms and missed events); `0` turns recovery off (and with it the offsets appended to events).",
    ),
    Setting(
        "RECOVERY_BUFFER_BYTES",
        16777216,
        int,
        "Bytes of recent events one node keeps for recovery (shared by every dropped session); a session whose "
        "missed events are no longer all kept reconnects as new.",
    ),
    Setting(
        "PRESENCE_GRACE",
        10.0,
        float,
        "Seconds a user whose socket dropped (no Socket.IO DISCONNECT) stays online, its messages kept for its "
        "recovery; then `offline` goes out. At most the recovery window; `0`: offline at once.",
    ),
    Setting("SHUTDOWN_TIMEOUT", 10.0, float, "Seconds SIGTERM waits for clients to be disconnected and flushed."),
    Setting(
        "MESSAGE_QUEUE",
        None,
        _optional_text,
        "`redis://host:port/db`: run as one node of several sharing events and presence through Redis. "
        "Unset: one process, all in memory, no services needed.",
    ),
    Setting("REDIS_PREFIX", "chatserver", _text,
            "Prefix of the Redis keys and channel; all nodes of one chat share it."),
    Setting(
        "NODE_TIMEOUT",
        30.0,
        float,
        "Seconds after which a node that stopped heartbeating (crashed, `kill -9`) counts as dead and its users "
        "go offline everywhere. With `MESSAGE_QUEUE` only.",
    ),
    Setting(
        "AUTHENTICATOR",
        None,
        _optional_text,
        "`module:function` (on the import path or in the working directory) called as `function(id, password)`; "
        "falsy refuses the login with `401`. When set it decides every password login instead of the stored "
        "passwords.",
    ),
    Setting(
        "DATABASE_URL",
        None,
        _optional_text,
        "SQLAlchemy URL of the accounts and history (`postgresql://user@host/db` for a cluster). Unset: the SQLite "
        "file `chatserver.sqlite3` in the app's instance folder.",
    ),
    Setting("STORE_PROCESS", True, _switch("on", "off"),
            "`on`: under eventlet, each server process hands its database work to a child process of its own, so "
            "that the work never stalls the sockets; `off`: a thread of the server process does it."),
    Setting("GUESTS", True, _switch("on", "off"),
            "`on`: an unregistered id logs in as a guest (the seed's login); `off`: registered users only."),
    Setting("REGISTRATION", True, _switch("open", "closed"),
            "`open`: anyone may `register`; `closed`: `403`, accounts come from `chatserver admin create-user`."),
    Setting("HISTORY", True, _switch("on", "off"),
            "`off` stores no delivered messages (the offline queue still works)."),
    Setting("HISTORY_RETENTION_DAYS", 0.0, float,
            "Messages older than this many days are deleted (hourly); `0` keeps them for good."),
    Setting("TOKEN_LIFETIME_DAYS", 30.0, float, "How long a session token from a password login stays valid."),
    Setting("MAX_ROOMS", 1000, int, "Rooms the server holds at once; one more `create` gets `403`."),
    Setting("MAX_ROOMS_PER_USER", 100, int, "Rooms one user may be a member of (owned ones included); more get `403`."),
    Setting("MAX_ROOM_MEMBERS", 10000, int, "Members one room may have; one more `join` gets `403`."),
    Setting("ADMIN_TOKEN", None, _optional_text,
            "Token `chatserver admin` must show to a running node (online, rooms, kick, ban, close-room). Unset: a "
            "random one per start, written to `admin-token` in the instance folder for the command on this machine."),
    Setting("LOGIN_FAILURES_PER_ID", 5, int,
            "Failed logins an id may have within a minute before further tries get `429`; `0` is no limit."),
    Setting("LOGIN_FAILURES_PER_ADDRESS", 10, int,
            "Failed logins a client address may have within a minute before further tries get `429`; `0` is no limit."),
    Setting(
        "TRUSTED_PROXIES",
        (),
        networks,
        "Comma-separated IP addresses and CIDR blocks of reverse proxies whose `X-Forwarded-For` names the client "
        "(the right-most entry that is not one of them). Empty: trust no one, the peer's address is the client's.",
    ),
    # Off by default, and loopback only when on: the numbers tell how many are online and how the
    # server is built (a leak if public), and each scrape costs the node a database ping.
    Setting("METRICS", False, _switch("on", "off"),
            "`on`: Prometheus metrics of this node at `<URL_PREFIX>/metrics` (see [Metrics](#metrics)); `off`: 404."),
    Setting("METRICS_ALLOW", "127.0.0.1,::1", _text,
            "Comma-separated client addresses or networks (CIDR, e.g. `10.0.0.0/8`) allowed to scrape `/metrics`; "
            "others get `403`."),
)

DEFAULTS = {setting.key: setting.default for setting in SETTINGS}


def from_environ(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the settings given by CHATSERVER_* environment variables, parsed."""
    environ = os.environ if environ is None else environ
    values = {}
    for setting in SETTINGS:
        raw = environ.get(setting.key)
        if raw is not None:
            try:
                values[setting.key] = setting.parse(raw)
            except ValueError as exc:
                raise ValueError(f"{setting.key}={raw!r}: {exc}") from None
    return values
