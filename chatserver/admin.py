"""`chatserver admin ...`: what an operator does to accounts, users online and rooms.

Account commands (create-user, set-password, delete-user) work on the database the server uses,
so the server may be running or not; with `CHATSERVER_REGISTRATION=closed` they are how accounts
come to be. A deleted user's tokens stop working at once; their open sockets stay until they log
out (kick them). Commands about what is happening now (online, rooms, kick, ban, unban,
close-room) ask a running node through its control endpoint (control.py); in a cluster that
node acts for every node.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from flask import Flask

from .chat.accounts import PASSWORD_HASHER, checked_password
from .chat.errors import ChatError
from .chat.service import valid_id
from .config import DEFAULTS, from_environ
from .control import token_path
from .extension import database_url
from .store import Store, open_store


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `admin` and its commands to the command line's subcommands."""
    admin = subparsers.add_parser("admin", help="manage accounts in the chat's database")
    commands = admin.add_subparsers(dest="admin_command", required=True)
    for name, help_text in (
        ("create-user", "register an account (works with registration closed)"),
        ("set-password", "give an account a new password; its session tokens are revoked"),
        ("delete-user", "delete an account, its tokens, messages waiting for it, room memberships and owned rooms"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("id", help="the login id")
        if name == "create-user":
            command.add_argument("--alias", help="display name (default: the id)")
        if name != "delete-user":
            command.add_argument("--password-stdin", action="store_true",
                                 help="read the password from the first line of standard input instead of asking")
    for name, help_text, target in (
        ("online", "list the users online (the whole cluster's)", None),
        ("rooms", "list every room, private ones included", None),
        ("kick", "disconnect every socket of a user, on every node", "the login id"),
        ("ban", "refuse an account's logins, revoke its tokens and kick it", "the login id"),
        ("unban", "lift a ban", "the login id"),
        ("close-room", "delete a room; its members are told", "the room id"),
    ):
        command = commands.add_parser(name, help=help_text + " (asks the running node)")
        if target:
            command.add_argument("id", help=target)
        command.add_argument("--url", help="the node (default: http://CHATSERVER_HOST:CHATSERVER_PORT)")


def run(args: argparse.Namespace) -> int:
    """Carry out one admin command; return the process's exit status."""
    app = Flask("chatserver")
    app.config.from_mapping({**DEFAULTS, **from_environ()})
    if args.admin_command in LIVE_COMMANDS:
        try:
            print(ask_node(app, args))
            return 0
        except AdminError as error:
            print(f"chatserver admin: {error}", file=sys.stderr)
            return 1
    store = open_store(database_url(app))
    try:
        user = valid_id(args.id, max_length=app.config["CHATSERVER_MAX_ID_LENGTH"])
        command: Callable[[Store, str, argparse.Namespace], str] = COMMANDS[args.admin_command]
        print(command(store, user, args))
        return 0
    except (ChatError, AdminError) as error:
        detail = error.details.get("detail") if isinstance(error, ChatError) else str(error)
        print(f"chatserver admin: {detail}", file=sys.stderr)
        return 1
    finally:
        store.close()


class AdminError(Exception):
    """An admin command that cannot be done (no such account, id taken)."""


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise AdminError("the two passwords differ")
    return checked_password(password)


def create_user(store: Store, user: str, args: argparse.Namespace) -> str:
    """Register ``user`` with a password."""
    password_hash = PASSWORD_HASHER.hash(_password(args))
    if not store.create_account(user, password_hash, args.alias or user, int(time.time() * 1000)):
        raise AdminError(f"{user} is registered already")
    return f"created {user}"


def set_password(store: Store, user: str, args: argparse.Namespace) -> str:
    """Give ``user`` a new password and revoke their session tokens."""
    if store.account(user) is None:
        raise AdminError(f"no account {user}")
    store.set_password(user, PASSWORD_HASHER.hash(_password(args)))
    store.revoke_tokens(user)
    return f"new password for {user}; their session tokens are revoked"


def delete_user(store: Store, user: str, args: argparse.Namespace) -> str:
    """Delete ``user``'s account, tokens, offline queue, memberships and rooms (their messages in history stay)."""
    if not store.delete_account(user):
        raise AdminError(f"no account {user}")
    return f"deleted {user}"


COMMANDS = {"create-user": create_user, "set-password": set_password, "delete-user": delete_user}
# What each live command asks of the control endpoint: method and path.
LIVE_COMMANDS = {"online": ("GET", "online"), "rooms": ("GET", "rooms"), "kick": ("POST", "kick"),
                 "ban": ("POST", "ban"), "unban": ("POST", "unban"), "close-room": ("POST", "close-room")}
REFUSALS = {403: "the node refused the admin token (set CHATSERVER_ADMIN_TOKEN as the node has it)",
            404: "no such account or room", 400: "give an id"}


def ask_node(app: Flask, args: argparse.Namespace) -> str:
    """Send a live command to the running node; return what to print."""
    config = app.config
    host = config["CHATSERVER_HOST"]
    host = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    base = args.url or f"http://{host}:{config['CHATSERVER_PORT']}{config['CHATSERVER_URL_PREFIX'].rstrip('/')}"
    token = config["CHATSERVER_ADMIN_TOKEN"]
    if not token:
        try:
            token = token_path(app).read_text().strip()
        except OSError:
            raise AdminError(f"no admin token: set CHATSERVER_ADMIN_TOKEN, or run this where the node wrote "
                             f"{token_path(app)}") from None
    method, path = LIVE_COMMANDS[args.admin_command]
    body = json.dumps({"id": args.id}).encode() if method == "POST" else None
    request = urllib.request.Request(f"{base}/admin/{path}", data=body, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as error:
        raise AdminError(REFUSALS.get(error.code, f"the node answered {error.code}")) from None
    except (urllib.error.URLError, OSError) as error:
        raise AdminError(f"no node at {base}: {getattr(error, 'reason', error)}") from None
    if "users" in answer:
        return "\n".join(f"{user['id']}\t{user['alias']}" for user in answer["users"]) or "(nobody online)"
    if "rooms" in answer:
        return "\n".join(f"{room['id']}\t{room['name']}\towner {room['owner']}\t{room['members']} members"
                         + ("\tprivate" if room["private"] else "") for room in answer["rooms"]) or "(no rooms)"
    (done, target), = answer.items()
    return f"{done} {target}"
