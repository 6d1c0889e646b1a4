"""Who is who: registration, password and token logins, guests, and limits on failed logins.

Passwords are kept only as argon2id hashes (argon2-cffi) and session tokens only as SHA-256
digests: a token is 256 random bits, so a fast digest is as safe for it as a slow hash is for
a password, and looking one up stays an index search. Hashing and checking a password takes
a tenth of a second of CPU on purpose, so it runs through ``offload`` (a real thread under
eventlet), never on the event loop's thread.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import ChatError

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_TOKEN_LENGTH = 256
# OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): about 0.1 s here, memory-hard.
PASSWORD_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
FAILURE_WINDOW = 60.0
# Past this many keys with failures, expired ones are swept (ids and addresses an attacker tried).
SWEEP_AT = 10000
# Why a login was refused: a wrong password or token, or not let in as a guest or by the
# authenticator (401); a banned account (403); too many failures of its id or address (429).
REFUSAL_REASONS = ("credentials", "banned", "too_many_failures")


def token_digest(token: str) -> str:
    """Return what the store keeps of a session token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def call_here(function: Callable[..., Any], *args: Any) -> Any:
    """Call ``function(*args)`` on this thread: the ``offload`` where handlers are OS threads already."""
    return function(*args)


class FailureLimit:
    """Counts failed logins per key over the last ``FAILURE_WINDOW`` seconds; past ``limit`` a key is blocked."""

    def __init__(self, limit: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.monotonic = monotonic
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        """Return whether ``key`` failed ``limit`` times within the window."""
        if self.limit <= 0:
            return False
        with self._lock:
            return self._count(key) >= self.limit

    def record(self, key: str) -> None:
        """Count one failure of ``key``."""
        with self._lock:
            if len(self._failures) >= SWEEP_AT:
                for old_key in list(self._failures):
                    self._count(old_key)
            self._failures.setdefault(key, deque()).append(self.monotonic())

    def clear(self, key: str) -> None:
        """Forget the failures of ``key`` (after a successful login)."""
        with self._lock:
            self._failures.pop(key, None)

    def _count(self, key: str) -> int:
        """Return the failures of ``key`` within the window, forgetting older ones. Hold the lock."""
        failures = self._failures.get(key)
        if failures is None:
            return 0
        horizon = self.monotonic() - FAILURE_WINDOW
        while failures and failures[0] < horizon:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return len(failures)


@dataclass(frozen=True)
class Grant:
    """A successful login: whether the id is registered, and if so its session token and alias."""

    registered: bool
    token: str | None = None
    alias: str | None = None


class Accounts:
    """Registered users and how they prove who they are; unregistered ids are guests when allowed."""

    def __init__(
        self,
        store: Any,
        *,
        guests: bool = True,
        registration: bool = True,
        authenticator: Callable[[str, str | None], Any] | None = None,
        token_lifetime: float = 30 * 86400,
        failures_per_id: int = 5,
        failures_per_address: int = 10,
        offload: Callable[..., Any] = call_here,
        hasher: PasswordHasher = PASSWORD_HASHER,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.guests = guests
        self.registration = registration
        self.authenticator = authenticator
        self.token_lifetime = token_lifetime
        self.offload = offload
        self.hasher = hasher
        self.clock = clock
        self.failures_by_id = FailureLimit(failures_per_id, monotonic)
        self.failures_by_address = FailureLimit(failures_per_address, monotonic)
        # Refused logins by reason (REFUSAL_REASONS), read by the metrics. Counted here because the
        # response code alone cannot tell a 429 for failed logins from one for the event rate.
        self.refusals = dict.fromkeys(REFUSAL_REASONS, 0)
        self._refusals_lock = threading.Lock()

    def register(self, user: str, password: Any, alias: str) -> None:
        """Create an account for ``user``; ChatError 403 when registration is closed, 409 when taken."""
        if not self.registration:
            raise ChatError("403", "403-registration")
        password = checked_password(password)
        password_hash = self.offload(self.hasher.hash, password)
        if not self.store.create_account(user, password_hash, alias, self._now_ms()):
            raise ChatError("409", "409-registered")
        logger.info("registered %s", user)

    def login(self, user: str, password: Any, token: Any, address: str) -> Grant:
        """Check a login; return its Grant, or raise ChatError 401 (refused) or 429 (too many failures)."""
        if password is not None and (not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH):
            raise ChatError("400", detail=f"password must be a string of at most {MAX_PASSWORD_LENGTH} characters")
        if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH):
            raise ChatError("400", detail="token must be a string")
        if self.failures_by_id.blocked(user) or self.failures_by_address.blocked(address):
            logger.warning("refused login for %s from %s: too many failures", user, address)
            self._count_refusal("too_many_failures")
            raise ChatError("429", "429-login")
        account = self.store.account(user) if self.store is not None else None
        if account is not None and account.banned_ms is not None:
            logger.warning("refused login for %s from %s: banned", user, address)
            self._count_refusal("banned")
            raise ChatError("403", "403-banned")
        by_token = self._token_valid(user, account, token)
        if by_token or self._accepted(account, user, password):
            self.failures_by_id.clear(user)
            if account is None:
                return Grant(registered=False)
            # A registered login always holds a token: the valid one it used, or a new one.
            return Grant(True, token if by_token else self._new_token(user), account.alias)
        self.failures_by_id.record(user)
        self.failures_by_address.record(address)
        logger.warning("refused login for %s from %s", user, address)
        self._count_refusal("credentials")
        raise ChatError("401", "401-login")

    def revoke(self, token: str | None = None, user: str | None = None) -> None:
        """Revoke one session token, or, given ``user``, every token of that user."""
        if user is not None:
            self.store.revoke_tokens(user)
        elif token is not None:
            self.store.revoke_token(token_digest(token))

    def _count_refusal(self, reason: str) -> None:
        with self._refusals_lock:
            self.refusals[reason] += 1

    def _token_valid(self, user: str, account: Any, token: str | None) -> bool:
        """Whether ``token`` is an unexpired session token of the registered ``user``."""
        if account is None or not token:
            return False
        return self.store.token_owner(token_digest(token), self._now_ms()) == user

    def _accepted(self, account: Any, user: str, password: str | None) -> bool:
        """Whether a login without a valid token gets in: the authenticator, guests, or the password decide."""
        if self.authenticator is not None:
            return bool(self.authenticator(user, password))
        if account is None:
            return self.guests
        return bool(password) and self._password_matches(account.password_hash, password)

    def _password_matches(self, password_hash: str, password: str) -> bool:
        try:
            return self.offload(self.hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _new_token(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        self.store.add_token(token_digest(token), user, self._now_ms() + int(self.token_lifetime * 1000))
        return token

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


def checked_password(password: Any) -> str:
    """Return ``password`` if it is a string of 8-1024 code points, else raise ChatError 400."""
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ChatError("400", detail=f"password must be {MIN_PASSWORD_LENGTH}-{MAX_PASSWORD_LENGTH} characters")
    return password
