"""The chat domain: who is online on which socket, and what each client event means.

No Flask and no sockets here: the service takes plain values and returns an ``Outbox`` that
says what to emit, so the rules are tested without a server. It reads and writes accounts and
history through the store's interface; under eventlet that store waits for a worker thread
without holding up the event loop, so the calls here look blocking but never block the loop.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

from ..store.interface import StoreUnavailable, UnknownMessage
from .accounts import Accounts
from .errors import ChatError
from .history import BROADCAST, GROUP_CHAT, MAX_CURSOR_LENGTH, conversation_of, history_page
from .outbox import EVERY_CHAT_ROOM, ONLINE_ROOM, Delivery, Outbox, is_chat_room, room_key, user_room
from .presence import Departure, MemoryPresence, Presence, PresenceChange, PresenceUnavailable
from .ratelimit import TokenBucket
from .rooms import Room, RoomLimits, Rooms, parse_request
from .texts import TEXTS

logger = logging.getLogger(__name__)

MAX_ID_LENGTH = 64
MAX_LABEL_LENGTH = 64  # alias, command and type
# Events answered by the acknowledgement alone, never a `response` event: they come many a second.
QUIET_EVENTS = frozenset({"typing"})
# A message delivered a moment ago may still be on its way into the database: another node writes
# it behind its reply, batched. A read mark for an id not found yet is tried again after these.
READ_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4)

class Reply(dict):
    """A `response` object that remembers its text's key, so it can be said in another language."""

    def __init__(self, fields: dict, text_key: Any, details: dict) -> None:
        super().__init__(fields)
        self.text_key = text_key
        self.details = details

    def text(self, texts: dict) -> str:
        """The reply's sentence from one locale's table."""
        code = self.get("code")
        return (texts.get(self.text_key) or texts[code]).format(**self.details)

    def in_language(self, texts: dict) -> Reply:
        """A copy whose `message` comes from ``texts``."""
        copy = Reply(self, self.text_key, self.details)
        copy["message"] = self.text(texts)
        return copy


def message_ids() -> Callable[[], str]:
    """Return a function that makes unique message ids: a random per-process prefix and a counter.

    Unique across processes and restarts like uuid4, without reading the OS's random source for
    every message (uuid4 was 2.6% of the server's CPU in the one-to-one benchmark).
    """
    prefix = secrets.token_hex(8)
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):08x}"


# Unicode's control characters (category Cc) are exactly these 65 code points. One regular
# expression search instead of a category look-up per character: ids and labels are checked on
# every message.
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")


def _has_control_character(text: str) -> bool:
    return _CONTROL_CHARACTER.search(text) is not None


def valid_id(value: Any, field_name: str = "id", max_length: int = MAX_ID_LENGTH) -> str:
    """Return ``value`` trimmed if it is a valid user id, else raise ChatError 400."""
    if not isinstance(value, str):
        raise ChatError("400", detail=f"{field_name} must be a string")
    value = value.strip()
    if not 1 <= len(value) <= max_length:
        raise ChatError("400", detail=f"{field_name} must be 1-{max_length} characters")
    if _has_control_character(value):
        raise ChatError("400", detail=f"{field_name} must not contain control characters")
    return value


def _label(payload: dict, name: str, default: str) -> str:
    """Return an optional short text field (alias, command, type), or its default."""
    value = payload.get(name)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise ChatError("400", detail=f"{name} must be a string")
    value = value.strip()
    if len(value) > MAX_LABEL_LENGTH or _has_control_character(value):
        raise ChatError("400", detail=f"{name} must be at most {MAX_LABEL_LENGTH} characters, no control characters")
    return value or default


def _presence_event(change: PresenceChange) -> Delivery:
    """The `presence` online/offline event for every logged-in socket."""
    entry = {"command": change.command, "id": change.user, "alias": change.alias}
    return Delivery("presence", entry, ONLINE_ROOM)


def _object(payload: Any, command: str) -> dict:
    if not isinstance(payload, dict):
        raise ChatError("400", detail=f"{command} expects an object")
    return payload


class ChatService:
    """Decides what every client event does; holds presence and per-socket rate limits.

    ``store`` keeps accounts, history, the offline queue and rooms; without one nothing is kept,
    every id is a guest and there are no rooms, as in the seed. ``history`` off stores no
    delivered messages (the offline queue still works). ``socket_rooms(sid)`` returns the
    Socket.IO rooms a socket of this node is in: given, room membership is checked there
    instead of in the store (every socket of a member is in its room).
    """

    def __init__(
        self,
        presence: Presence | None = None,
        *,
        store: Any = None,
        accounts: Accounts | None = None,
        history: bool = True,
        locale: str = "en",
        max_message_length: int = 2000,
        max_id_length: int = MAX_ID_LENGTH,
        rate_per_second: float = 20.0,
        burst: int = 40,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        new_id: Callable[[], str] | None = None,
        room_limits: RoomLimits | None = None,
        socket_rooms: Callable[[str], Collection[str]] | None = None,
    ) -> None:
        if locale not in TEXTS:
            raise ValueError(f"unknown locale {locale!r}; known: {', '.join(TEXTS)}")
        self.presence = presence if presence is not None else MemoryPresence()
        self.store = store
        self.accounts = accounts if accounts is not None else Accounts(store, clock=clock, monotonic=monotonic)
        self.history_on = history and store is not None
        self.locale = locale
        self.texts = TEXTS[locale]
        self.max_message_length = max_message_length
        self.max_id_length = max_id_length
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep  # time.sleep: green under eventlet and gevent, which patch it
        self.new_id = new_id or message_ids()
        self.socket_rooms = socket_rooms
        self.rooms = None if store is None else Rooms(
            store, self.presence, self.reply, self._registered, room_limits or RoomLimits(), clock)
        self._buckets: dict[str, TokenBucket] = {}
        self.rate_limited = 0  # events refused by the rate limit, read by the metrics
        self._addresses: dict[str, str] = {}
        # sid -> the language its client asked for (connect auth or login `lang`), when not the default.
        self._languages: dict[str, str] = {}
        # sid -> the session token its login gave or used; only registered users have one.
        self._tokens: dict[str, str] = {}
        # sid -> the alias it logged in with, for a recovery after the presence grace.
        self._aliases: dict[str, str] = {}
        # sid -> which drop: sockets that dropped and whose user stays online for the presence grace.
        self._dropped: dict[str, int] = {}
        self._drops = itertools.count(1)
        # Presence changes are read-modify-write; under the threading async mode two sockets'
        # events run in parallel (eventlet makes this lock green).
        self._lock = threading.Lock()
        self._actions = {
            "login": self.login,
            "logout": self.logout,
            "message": self.send,
            "register": self.register,
            "history": self.history,
            "room": self.room,
            "typing": self.typing,
            "read": self.read,
            "conversations": self.conversations,
        }

    # -- entry point -----------------------------------------------------------------------

    def handle(self, sid: str, event: Any, payload: Any = None) -> Outbox:
        """Run one client event and return what to emit, the reply in the socket's language; never raises."""
        outbox = self._decide(sid, event, payload)
        language = self._languages.get(sid)
        if language is not None and isinstance(outbox.reply, Reply):
            outbox.reply = outbox.reply.in_language(TEXTS[language])
        return outbox

    def _decide(self, sid: str, event: Any, payload: Any) -> Outbox:
        # A client may name an event with any JSON value; only strings name actions.
        name = event if isinstance(event, str) else ""
        command = name[:MAX_LABEL_LENGTH]
        if name == "login" and isinstance(payload, dict):
            self.choose_language(sid, payload.get("lang"))  # its own answer, refusals too, follows it
        try:
            self._admit(sid)
            action = self._actions.get(name)
            if action is None:
                raise ChatError("400", "400-unknown")
            return action(sid, payload)
        except ChatError as error:
            reply = self.reply(command, error.code, error.text_key, **error.details)
        except StoreUnavailable as error:
            # Expected when the database is down: one line, not a traceback per event.
            logger.warning("database unavailable: %s (%r from socket %s answered 500)", error, command, sid)
            reply = self.reply(command, "500", "500-database")
        except Exception:
            logger.exception("unexpected fault in %r from socket %s", command, sid)
            reply = self.reply(command, "500")
        return Outbox(reply=reply, respond=name not in QUIET_EVENTS)

    def connect(self, sid: str, address: str, language: Any = None) -> None:
        """Remember a new socket's client address (failed logins are limited per address) and language."""
        self._addresses[sid] = address
        self.choose_language(sid, language)

    def choose_language(self, sid: str, language: Any) -> None:
        """Answer this socket in ``language`` (``en``, ``ko``); anything else leaves it as it was."""
        if language == self.locale:
            self._languages.pop(sid, None)
        elif isinstance(language, str) and language in TEXTS:
            self._languages[sid] = language

    def disconnect(self, sid: str, gone: bool = False) -> Outbox:
        """Forget a socket that went away; its user goes offline if this was the last socket.

        ``gone``: the socket left the transport's rooms already (at the end of a presence grace).
        """
        self._buckets.pop(sid, None)
        self._addresses.pop(sid, None)
        self._dropped.pop(sid, None)
        self._languages.pop(sid, None)
        guest = self._tokens.pop(sid, None) is None
        outbox = Outbox()
        with self._lock:
            departure = self._leave(sid, outbox, "the grace after its drop ended" if gone else "disconnected")
        if gone:
            outbox.leaves = []
        self._end_guest(sid, departure, guest, outbox, gone)
        return outbox

    # -- reconnect without loss (the transport keeps the socket's session and missed events) --

    def session_of(self, sid: str) -> dict | None:
        """What a recovery of ``sid`` needs to log it in again: ``{user, alias, token}``, None when not logged in."""
        user = self.presence.user_of(sid)
        if user is None:
            return None
        return {"user": user, "alias": self._aliases.get(sid, user), "token": self._tokens.get(sid)}

    def drop(self, sid: str) -> int:
        """``sid`` dropped without a DISCONNECT: its user stays online for the grace; return which drop this is."""
        self._buckets.pop(sid, None)
        number = next(self._drops)
        self._dropped[sid] = number
        return number

    def dropped_of(self, user: str) -> list[str]:
        """The sockets of ``user`` within their presence grace."""
        return [sid for sid in self._dropped if self.presence.user_of(sid) == user]

    def end_grace(self, sid: str, drop: int | None = None) -> Outbox:
        """The grace of drop ``drop`` (None: any) of ``sid`` is over and it did not come back: log it out."""
        if sid not in self._dropped or (drop is not None and self._dropped[sid] != drop):
            return Outbox()  # it came back (and maybe dropped again: that drop has its own grace)
        return self.disconnect(sid, gone=True)

    def in_grace(self, sid: str) -> bool:
        """Whether ``sid`` dropped and its user is still online for the grace."""
        return sid in self._dropped

    def hand_over(self, sid: str) -> None:
        """The dropped ``sid`` is logged in on another node now: log it out here without ``offline``."""
        if self._dropped.pop(sid, None) is not None:
            self._buckets.pop(sid, None)
            self._addresses.pop(sid, None)
            self._tokens.pop(sid, None)
            with self._lock:
                self.presence.remove(sid)
                self._aliases.pop(sid, None)

    def resume(self, sid: str, address: str, session: dict | None) -> Outbox:
        """``sid`` was recovered with its rooms and missed events: log it in again as ``session`` says.

        Within the grace its user never went offline: nothing to do. After it, the user comes
        online again and the messages stored for it meanwhile follow the missed events.
        """
        self._addresses[sid] = address
        if session is None:
            self._dropped.pop(sid, None)
            return Outbox()
        user, alias, token = session["user"], session["alias"], session["token"]
        if self._dropped.pop(sid, None) is not None:
            # Never went offline; only rooms joined or left on another device meanwhile are not here.
            return self._rejoin_rooms(sid, user, Outbox())
        try:
            # The same check as a login with the session's token (a guest: its id): revoked, banned, taken.
            grant = self.accounts.login(user, None, token, address)
        except ChatError as error:
            logger.info("recovered socket %s not logged in again as %s: %s", sid, user, error.code)
            return Outbox(leaves=[user_room(user), ONLINE_ROOM, EVERY_CHAT_ROOM])
        if grant.token is not None:
            self._tokens[sid] = grant.token
        outbox = Outbox(joins=[user_room(user), ONLINE_ROOM])
        with self._lock:
            # From another node within the grace: its user never went offline for anyone.
            if self.presence.add(sid, user, alias) and not session.get("in_grace"):
                outbox.deliveries.append(_presence_event(PresenceChange("online", user, alias)))
            self._aliases[sid] = alias
        logger.info("login %s on socket %s again after its recovery", user, sid)
        # A guest's rooms ended with the grace; anyone's may have changed on another device.
        self._rejoin_rooms(sid, user, outbox)
        if grant.registered and self.store is not None:
            outbox.deliveries += [Delivery("message", message, sid) for message in self.store.take_offline(user)]
        return outbox

    # -- client events ---------------------------------------------------------------------

    def register(self, sid: str, payload: Any) -> Outbox:
        """Create an account {id, password, alias?}; it does not log in."""
        payload = _object(payload, "register")
        user = self._login_id(payload)
        alias = _label(payload, "alias", user)
        if self.store is None:
            raise ChatError("403", "403-registration")
        # A guest using the id right now would become someone else's account under their feet.
        if self.presence.is_online(user):
            raise ChatError("409", "409-registered")
        self.accounts.register(user, payload.get("password"), alias)
        return Outbox(reply=self.reply("register", "200"))

    def login(self, sid: str, payload: Any) -> Outbox:
        """Log the socket in as ``payload['id']`` (switching from its previous id, if any)."""
        payload = _object(payload, "login")
        user = self._login_id(payload)
        alias = _label(payload, "alias", "")
        grant = self.accounts.login(user, payload.get("password"), payload.get("token"), self._addresses.get(sid, ""))
        # The alias given now, else the one registered, else the id.
        alias = alias or grant.alias or user

        reply = self.reply("login", "200", extra={"registered": grant.registered})
        was_guest = sid not in self._tokens
        if grant.token is not None:
            reply["token"] = grant.token
            self._tokens[sid] = grant.token
        else:
            self._tokens.pop(sid, None)
        outbox = Outbox(reply=reply)
        departure, first, switched = None, False, False
        with self._lock:
            if self.presence.user_of(sid) != user:
                switched = True
                departure = self._leave(sid, outbox, f"logged in as {user}")
                first = self.presence.add(sid, user, alias)
                self._aliases[sid] = alias
                outbox.joins += [user_room(user), ONLINE_ROOM]
                if first:
                    outbox.deliveries.append(_presence_event(PresenceChange("online", user, alias)))
            users = self.presence.users()
        self._end_guest(sid, departure, was_guest, outbox)
        if switched:
            logger.info("login %s on socket %s from %s (%s)", user, sid, self._addresses.get(sid, "?"),
                        "registered" if grant.registered else "guest")
        # The lists go before the online event so a client can apply them all in arrival order; the
        # room list first, so the presence list stays what comes right before the offline messages.
        lists = [Delivery("presence", {"command": "list", "users": users}, sid)]
        if self.rooms is not None:
            # No rooms at all (the list is cached between changes): no memberships to look up.
            member_of = self.store.rooms_of(user) if self.rooms.all() else []
            if member_of and first and not grant.registered:
                # Left by an earlier guest of this id whose last socket went where no node saw it.
                self._forget(user, outbox)
                member_of = []
            if switched:
                outbox.joins += [room_key(room) for room in member_of]
            lists.insert(0, self.rooms.list_event(self.rooms.visible_to(member_of), sid))
        outbox.deliveries[:0] = lists
        # Taken once the socket is online: what is sent from now on is delivered live instead.
        if grant.registered and self.store is not None:
            waiting = self.store.take_offline(user)
            outbox.deliveries += [Delivery("message", message, sid) for message in waiting]
        return outbox

    def logout(self, sid: str, payload: Any = None) -> Outbox:
        """Log the socket out; {everywhere: true} also revokes every session token of the user."""
        everywhere = isinstance(payload, dict) and payload.get("everywhere") is True
        user = self.presence.user_of(sid)
        token = self._tokens.pop(sid, None)
        if user is not None and token is not None:
            self.accounts.revoke(token=token, user=user if everywhere else None)
        outbox = Outbox()
        with self._lock:
            departure = self._leave(sid, outbox, "everywhere" if everywhere else "logout")
        self._end_guest(sid, departure, token is None, outbox)
        outbox.reply = self.reply("logout", "200" if departure else "404")
        return outbox

    def send(self, sid: str, payload: Any) -> Outbox:
        """Deliver a chat message to everyone (``ALL``) or to every socket of one user."""
        sender, payload, recipient, broadcast = self._addressed(sid, payload, "message")
        command = _label(payload, "command", "chat")
        kind = _label(payload, "type", "text")
        data = payload.get("data")
        if not isinstance(data, str):
            raise ChatError("400", detail="data must be a string")
        if "\x00" in data:
            # PostgreSQL cannot store NUL in text; no chat client means to send it.
            raise ChatError("400", detail="data must not contain NUL characters")
        if len(data) > self.max_message_length:
            raise ChatError("413", limit=self.max_message_length)

        message = {
            "id": self.new_id(),
            "sender": sender,
            "recepient": recipient,
            "command": command,
            "type": kind,
            "data": data,
            "timestamp": int(self.clock() * 1000),
        }
        conversation = conversation_of(sender, recipient, command)
        if command == GROUP_CHAT and not broadcast:
            self._require_member(sid, sender, recipient)
            self._keep(conversation, message)
            return Outbox(reply=self.reply("message", "200", "message-groupchat", roomId=recipient),
                          deliveries=[Delivery("message", message, room_key(recipient))])
        if broadcast:
            audience = None if self.accounts.guests else ONLINE_ROOM
            everywhere = [Delivery("message", message, audience)]
            self._keep(conversation, message)
            if not self.presence.reachable():
                # This node's sockets still get it; the sender is told the rest did not.
                return Outbox(reply=self.reply("message", "500", "500-partial"), deliveries=everywhere)
            return Outbox(reply=self.reply("message", "200"), respond=False, deliveries=everywhere)
        # The sender's other devices see the conversation too (writing to oneself: every socket once).
        copies = [] if recipient == sender else [Delivery("message", message, user_room(sender), skip=sid)]
        try:
            online = self.presence.is_online(recipient)
        except PresenceUnavailable:
            raise ChatError("500", "500-unreachable") from None
        if online:
            self._keep(conversation, message)
            # One emit to both users' rooms: in a cluster, one publish and one decode per node.
            to = [user_room(recipient), user_room(sender)] if copies else user_room(recipient)
            deliveries = [Delivery("message", message, to, skip=sid if copies else None)]
            return Outbox(reply=self.reply("message", "200"), deliveries=deliveries)
        if self.store is None or self.store.account(recipient) is None:
            return Outbox(reply=self.reply("message", "404"))
        # Written before the answer: a 202 is a promise to deliver.
        self.store.save_offline(recipient, conversation, message)
        return Outbox(reply=self.reply("message", "202"), deliveries=copies)

    def history(self, sid: str, payload: Any) -> Outbox:
        """One conversation's stored messages, a page at a time: {recepient, command?, before?, after?, limit?}."""
        user, payload, peer, everyone = self._addressed(sid, payload, "history")
        command = _label(payload, "command", "chat")
        page = history_page(payload)
        if not self.history_on:
            raise ChatError("404", "404-history-off")
        if command == GROUP_CHAT and not everyone:
            self._require_member(sid, user, peer)
        elif not everyone and sid not in self._tokens:
            raise ChatError("403", "403-guest-history")
        since = 0
        if not everyone and command != GROUP_CHAT:
            # An id can change hands (a guest's before it was registered, a deleted account's):
            # a one-to-one conversation shows only what was said since both its accounts exist.
            accounts = (self.store.account(user), self.store.account(peer))
            since = max((account.created_ms for account in accounts if account is not None), default=0)
        try:
            messages, more = self.store.history(
                conversation_of(user, peer, command), before=page.before, after=page.after, limit=page.limit,
                since_ms=since,
            )
        except UnknownMessage:
            raise ChatError("404", "404-cursor") from None
        return Outbox(reply=self.reply("history", "200", extra={"messages": messages, "more": more}))

    def room(self, sid: str, payload: Any) -> Outbox:
        """`room` {command, roomId, roomName?, private?, userId?}: create, change, join or list rooms."""
        user = self._user(sid)
        if self.rooms is None:
            raise ChatError("403", "403-rooms")
        return self.rooms.handle(user, parse_request(payload, self._valid_id))

    def typing(self, sid: str, payload: Any) -> Outbox:
        """`typing` {recepient, command?, typing}: tell the others in the conversation; nothing is kept."""
        user, payload, peer, everyone = self._addressed(sid, payload, "typing")
        command = _label(payload, "command", "chat")
        state = payload.get("typing")
        if not isinstance(state, bool):
            raise ChatError("400", detail="typing must be true or false")
        if everyone:
            audience = ONLINE_ROOM
        elif command == GROUP_CHAT:
            self._require_member(sid, user, peer)
            audience = room_key(peer)
        else:
            try:
                if not self.presence.is_online(peer):
                    raise ChatError("404", "404-offline")
            except PresenceUnavailable:
                raise ChatError("500", "500-unreachable") from None
            audience = user_room(peer)
        event = {"sender": user, "recepient": peer, "command": command, "typing": state}
        return Outbox(reply=self.reply("typing", "200"), respond=False,
                      deliveries=[Delivery("typing", event, audience, skip=sid)])

    def read(self, sid: str, payload: Any) -> Outbox:
        """`read` {recepient, command?, id}: keep the caller's read mark; tell the peer or the room."""
        user, payload, peer, everyone = self._addressed(sid, payload, "read")
        command = _label(payload, "command", "chat")
        message_id = payload.get("id")
        if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_CURSOR_LENGTH:
            raise ChatError("400", detail="id must be a message id")
        if everyone:
            raise ChatError("400", detail=f"read marks are kept for one-to-one and room conversations, not {BROADCAST}")
        if not self.history_on:
            raise ChatError("404", "404-history-off")
        if command == GROUP_CHAT:
            self._require_member(sid, user, peer)
            audience = [room_key(peer)]
        elif sid not in self._tokens:
            raise ChatError("403", "403-guest-read")
        else:
            audience = [user_room(peer), user_room(user)]
        self._mark_read(user, conversation_of(user, peer, command), message_id)
        event = {"reader": user, "recepient": peer, "command": command, "id": message_id,
                 "timestamp": int(self.clock() * 1000)}
        return Outbox(reply=self.reply("read", "200"),
                      deliveries=[Delivery("read", event, to, skip=sid) for to in audience])

    def conversations(self, sid: str, payload: Any = None) -> Outbox:
        """`conversations` {}: the caller's one-to-one and room conversations, most recent first."""
        user = self._user(sid)
        if payload is not None:
            _object(payload, "conversations")
        if sid not in self._tokens:
            raise ChatError("403", "403-guest-conversations")
        if not self.history_on:
            raise ChatError("404", "404-history-off")
        rooms = [conversation_of(user, room, GROUP_CHAT) for room in self.store.rooms_of(user)]
        entries = []
        for conversation in self.store.conversations(user, rooms):
            if conversation.key.startswith("dm:"):
                first, second = conversation.key[3:].split("\n")
                recipient, command = (second if first == user else first), "chat"
            else:
                recipient, command = conversation.key[len("room:"):], GROUP_CHAT
            entries.append({"recepient": recipient, "command": command, "last": conversation.last,
                            "unread": conversation.unread})
        return Outbox(reply=self.reply("conversations", "200", extra={"conversations": entries}))

    # -- presence found by a shared store --------------------------------------------------

    def announce(self, changes: Iterable[PresenceChange]) -> Outbox:
        """Return the online/offline events for changes that no client event of this node made."""
        outbox = Outbox(deliveries=[_presence_event(change) for change in changes])
        if self.rooms is not None:
            # A dead node's guests: what they had in rooms goes with them.
            for change in changes:
                if change.command == "offline" and not self._registered(change.user) \
                        and self.store.rooms_of(change.user):
                    self._forget(change.user, outbox)
        return outbox

    def close_room(self, room_id: str) -> Outbox | None:
        """Delete a room for the operator: its members are told and leave it; None when there is none."""
        return None if self.rooms is None else self.rooms.close(room_id)

    def forget_room_list(self) -> None:
        """Read the room list afresh next time: a room or a member count changed, maybe on another node."""
        if self.rooms is not None:
            self.rooms.changed()

    def room_lists(self, participants: Callable[[str], Iterable[str]]) -> Outbox:
        """Send this node's logged-in sockets their room list again (a room or a member count changed)."""
        return Outbox() if self.rooms is None else self.rooms.push_lists(participants)

    def refresh_lists(self) -> Outbox:
        """Send this node's logged-in sockets the whole online list again (after missing events)."""
        users = self.presence.users()
        return Outbox(deliveries=[Delivery("presence", {"command": "list", "users": users}, ONLINE_ROOM, local=True)])

    # -- helpers ---------------------------------------------------------------------------

    def _admit(self, sid: str) -> None:
        """Spend one token of the socket's bucket, or raise ChatError 429."""
        if self.rate_per_second <= 0:
            return
        bucket = self._buckets.get(sid)
        if bucket is None:
            bucket = self._buckets[sid] = TokenBucket(self.rate_per_second, self.burst, self.monotonic)
        if not bucket.take():
            self.rate_limited += 1
            raise ChatError("429")

    def _leave(self, sid: str, outbox: Outbox, why: str) -> Departure | None:
        """Log the socket out into ``outbox``; return what left, None if it was not logged in. Hold the lock."""
        departure = self.presence.remove(sid)
        self._aliases.pop(sid, None)
        if departure is None:
            return None
        logger.info("logout %s on socket %s (%s)", departure.user, sid, why)
        outbox.leaves += [user_room(departure.user), ONLINE_ROOM, EVERY_CHAT_ROOM]
        if departure.last:
            outbox.deliveries.append(_presence_event(PresenceChange("offline", departure.user, departure.alias)))
        return departure

    def _rejoin_rooms(self, sid: str, user: str, outbox: Outbox) -> Outbox:
        """Bring a recovered socket's chat rooms to those ``user`` is a member of now.

        Only the difference: leaving a room to join it again would, in a cluster, stop its emits
        reaching this node for a moment (the node's route for the room goes and comes back).
        """
        if self.rooms is not None:
            member_of = {room_key(room) for room in self.store.rooms_of(user)}
            if self.socket_rooms is None:
                outbox.leaves.append(EVERY_CHAT_ROOM)
                outbox.joins += sorted(member_of)
            else:
                in_rooms = {room for room in self.socket_rooms(sid) if is_chat_room(room)}
                outbox.leaves += sorted(in_rooms - member_of)
                outbox.joins += sorted(member_of - in_rooms)
        return outbox

    def _end_guest(self, sid: str, departure: Departure | None, guest: bool, outbox: Outbox,
                   gone: bool = False) -> None:
        """A guest's rooms and memberships end with the guest's last socket (``gone``: not in its Socket.IO rooms)."""
        if departure is None or not departure.last or not guest or self.rooms is None:
            return
        if self.socket_rooms is not None and not gone:
            in_rooms = any(is_chat_room(room) for room in self.socket_rooms(sid))
        else:
            in_rooms = bool(self.store.rooms_of(departure.user))
        if in_rooms:
            self._forget(departure.user, outbox)

    def _forget(self, user: str, outbox: Outbox) -> None:
        """Drop a guest's memberships and rooms into ``outbox``: the deleted rooms' members are told."""
        # The rooms' names come from the list as it was (deleted rooms have none now); it is read
        # only when rooms go: a room of thousands of guests all leaving reads it once, not once each.
        deleted = self.store.forget_user(user)
        known = {room.id: room for room in self.rooms.all()} if deleted else {}
        self.rooms.tell_deleted([known.get(room_id) or Room(room_id, room_id, user, False, 0) for room_id in deleted],
                                outbox)
        self.rooms.changed()

    def _mark_read(self, user: str, conversation: str, message_id: str) -> None:
        for delay in (*READ_RETRY_DELAYS, None):
            try:
                self.store.mark_read(user, conversation, message_id)
                return
            except UnknownMessage:
                if delay is None:
                    raise ChatError("404", "404-cursor") from None
                self.sleep(delay)

    def _registered(self, user: str) -> bool:
        return self.store is not None and self.store.account(user) is not None

    def _in_room(self, sid: str, user: str, room_id: str) -> bool:
        if self.socket_rooms is not None:
            return room_key(room_id) in self.socket_rooms(sid)
        return self.store is not None and self.store.is_member(room_id, user)

    def _require_member(self, sid: str, user: str, room_id: str) -> None:
        """Raise ChatError 404 for an unknown room, 403 when ``user`` is not a member."""
        if self._in_room(sid, user, room_id):
            return
        if self.store is None or self.store.room(room_id) is None:
            raise ChatError("404", "404-room")
        raise ChatError("403", "403-room-member")

    def _user(self, sid: str) -> str:
        user = self.presence.user_of(sid)
        if user is None:
            raise ChatError("401")
        return user

    def _valid_id(self, value: Any, field_name: str) -> str:
        return valid_id(value, field_name, self.max_id_length)

    def _addressed(self, sid: str, payload: Any, event: str) -> tuple[str, dict, str, bool]:
        """Return the caller's id, the payload, its ``recepient`` and whether that is exactly ``ALL``.

        Not logged in is 401 whatever else is wrong with the event; a recipient other than
        ``ALL`` must be a valid id (trimmed).
        """
        user = self._user(sid)
        payload = _object(payload, event)
        recipient = payload.get("recepient")
        # Decided before trimming: only exactly "ALL" means everyone; " ALL" is an id no one can have.
        everyone = recipient == BROADCAST
        if not everyone:
            recipient = valid_id(recipient, "recepient", self.max_id_length)
        return user, payload, recipient, everyone

    def _login_id(self, payload: dict) -> str:
        user = valid_id(payload.get("id"), max_length=self.max_id_length)
        if user.upper() == BROADCAST:
            raise ChatError("400", detail=f"{BROADCAST} is reserved")
        return user

    def _keep(self, conversation: str, message: dict) -> None:
        """Put a delivered message into history; written behind the reply, in order."""
        if self.history_on:
            self.store.save_messages([(conversation, message)])

    def reply(self, command: str, code: str, text_key: Any = None, extra: dict | None = None, **details: Any) -> dict:
        """The `response` object: ``details`` fill in the text, ``extra`` fields are added to it."""
        fields = {"command": command, "code": code, "message": "", **(extra or {})}
        reply = Reply(fields, text_key or (command, code), details)
        reply["message"] = reply.text(self.texts)
        return reply
