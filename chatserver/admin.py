"""`chatserver admin ...`: accounts made and changed by an operator, in the database the server uses.

With `CHATSERVER_REGISTRATION=closed` this is how accounts come to be. The commands work on the
database directly, so the server may be running (or not) meanwhile; a deleted user's tokens
stop working at once, their open sockets stay until they log out.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable

from flask import Flask

from .chat.accounts import PASSWORD_HASHER, checked_password
from .chat.errors import ChatError
from .chat.service import valid_id
from .config import DEFAULTS, from_environ
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


def run(args: argparse.Namespace) -> int:
    """Carry out one admin command; return the process's exit status."""
    app = Flask("chatserver")
    app.config.from_mapping({**DEFAULTS, **from_environ()})
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
