"""The operator's control endpoint on a running node: who is online, rooms, kick, ban, close a room.

``chatserver admin online|rooms|kick|ban|unban|close-room`` calls it over HTTP. Only a request
with the node's admin token gets in: ``CHATSERVER_ADMIN_TOKEN``, or when that is unset a random
one the node writes at start to ``admin-token`` in its instance folder (readable by its user
only), where the command line on the same machine finds it. In a cluster the node that is asked
acts for all: the online list is the cluster's, and a kick reaches every node through Redis.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import time
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, request

logger = logging.getLogger(__name__)

TOKEN_FILE = "admin-token"

blueprint = Blueprint("chatserver_control", __name__)


def token_path(app: Flask) -> Path:
    """Where a node without CHATSERVER_ADMIN_TOKEN writes its token, and the command line reads it."""
    return Path(app.instance_path) / TOKEN_FILE


def admin_token(app: Flask) -> str:
    """The token the control endpoint asks for: the setting, else a new one written to the instance folder."""
    configured = app.config["CHATSERVER_ADMIN_TOKEN"]
    if configured:
        return configured
    token = secrets.token_urlsafe(32)
    path = token_path(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created readable by this user only, then renamed into place: never a moment world-readable.
    temporary = path.with_name(f".{TOKEN_FILE}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    os.replace(temporary, path)
    return token


@blueprint.before_request
def _check_token() -> None:
    expected = current_app.extensions["chatserver"].admin_token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(403)


def _target() -> str:
    """The id in the request's JSON body, or 400."""
    body = request.get_json(silent=True)
    user = body.get("id") if isinstance(body, dict) else None
    if not isinstance(user, str) or not user:
        abort(400)
    return user


@blueprint.get("/online")
def online():
    """Every online user (of the whole cluster)."""
    return {"users": current_app.extensions["chatserver"].service.presence.users()}


@blueprint.get("/rooms")
def rooms():
    """Every room, private ones included, with its owner and member count."""
    return {"rooms": current_app.extensions["chatserver"].service.rooms.entries()}


@blueprint.post("/kick")
def kick():
    """Disconnect every socket of a user, on every node."""
    user = _target()
    current_app.extensions["chatserver"].namespace.kick(user)
    logger.info("operator kicked %s", user)
    return {"kicked": user}


@blueprint.post("/ban")
def ban():
    """Ban an account: its logins are refused, its tokens revoked and its sockets kicked."""
    user = _target()
    state = current_app.extensions["chatserver"]
    if not state.store.set_banned(user, int(time.time() * 1000)):
        abort(404)
    state.store.revoke_tokens(user)
    state.namespace.kick(user)
    logger.warning("operator banned %s", user)
    return {"banned": user}


@blueprint.post("/unban")
def unban():
    """Lift a ban."""
    user = _target()
    if not current_app.extensions["chatserver"].store.set_banned(user, None):
        abort(404)
    logger.warning("operator lifted the ban on %s", user)
    return {"unbanned": user}


@blueprint.post("/close-room")
def close_room():
    """Delete a room as its owner would: its members are told and leave it."""
    room_id = _target()
    state = current_app.extensions["chatserver"]
    outbox = state.service.close_room(room_id)
    if outbox is None:
        abort(404)
    state.namespace.deliver(outbox)
    logger.info("operator closed room %s", room_id)
    return {"closed": room_id}
