"""The blueprint: the chat page, its static files and a health check."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template

from . import __version__

_PACKAGE = Path(__file__).resolve().parent


def _folder(name: str) -> str:
    """Find ``templates`` or ``static``: inside the installed package first, else the checkout."""
    installed = _PACKAGE / name
    return str(installed if installed.is_dir() else _PACKAGE.parent / name)


blueprint = Blueprint(
    "chatserver",
    __name__,
    template_folder=_folder("templates"),
    static_folder=_folder("static"),
    # Specific enough not to collide with a host app's own /static.
    static_url_path="/static/chatserver",
)

# The page inserts user text only as text; this header makes any slip fail closed: no inline
# script runs, and scripts load only from this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' http: https: ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@blueprint.get("/")
def index():
    """The chat client page."""
    config = current_app.config
    # The sign-in form offers only what this server allows: guests, registration.
    page = render_template("chatserver/index.html", socketio_namespace=config["CHATSERVER_NAMESPACE"],
                           guests=config["CHATSERVER_GUESTS"], registration=config["CHATSERVER_REGISTRATION"])
    return page, {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"}


@blueprint.get("/healthz")
def healthz():
    """Liveness probe for load balancers."""
    return {"status": "ok", "version": __version__}
