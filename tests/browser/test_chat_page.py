"""The chat page in real headless Chromium against a real server: two and three people chatting.

Screenshots go to tests/browser/artifacts/ (ignored by git) for a person to look at.
"""

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from chatserver.chat.texts import TEXTS

from support import RecordingClient, ServerProcess, chatserver_command, free_port

CHROMIUM = Path(os.environ.get("CHATSERVER_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps dialling out of this closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
INJECTION = "<img src=x onerror=alert(1)>"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    # History scroll seeds many messages quickly; the rate limit is not what these tests are about.
    env = {"CHATSERVER_RATE_LIMIT_PER_SECOND": "0"}
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path_factory.mktemp("logs")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: install Debian's chromium (make deps does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def pages(browser):
    """Open pages in fresh browser contexts (one person each); page errors fail the test."""
    opened, errors = [], []

    def open_page(server, **context_options):
        context = browser.new_context(locale=context_options.pop("locale", "en-US"), **context_options)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", lambda dialog: errors.append(f"a dialog opened: {dialog.message}"))
        page.goto(server.url + "/")
        opened.append(context)
        return page

    yield open_page
    for context in opened:
        context.close()
    assert errors == []


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 5_000
    return path


def no_wider_than(page, width):
    """Nothing on the page reaches past ``width``: no horizontal scroll, nothing cut off."""
    widest = page.evaluate("""() => Math.max(document.documentElement.scrollWidth,
        ...[...document.querySelectorAll('body *')].map((node) => node.getBoundingClientRect().right))""")
    return widest <= width


def sign_in(page, user, password=None, alias=None, register=False):
    """Fill the one small form: create an account, sign in with a password, or go on as a guest."""
    page.fill("#idInput", user)
    page.fill("#passwordInput", password or "")
    if alias:
        page.fill("#aliasInput", alias)
    if register:
        page.click("#registerButton")
    elif password:
        page.click("#signinButton")
    else:
        page.click("#guestButton")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#whoami")).to_contain_text(user)


def send(page, text):
    page.fill("#messageInput", text)
    page.press("#messageInput", "Enter")


def open_direct(page, user):
    page.click(f"#users li[data-id='{user}'] button")
    expect(page.locator("#conversationTitle")).not_to_have_text("Everyone")


def register_with_client(server, user):
    client = RecordingClient(server.url)
    assert client.call("register", {"id": user, "password": PASSWORD})["code"] == "200"
    client.close()


def test_two_people_register_sign_in_and_chat_in_everyone(server, pages):
    alice = pages(server)
    expect(alice.locator("#hostInput")).to_be_hidden()  # host and port only under "connect elsewhere"
    sign_in(alice, "alice", PASSWORD, alias="Alice", register=True)
    expect(alice.locator("#guestBadge")).to_be_hidden()
    bob = pages(server)
    sign_in(bob, "bob", alias="Bob")
    expect(bob.locator("#guestBadge")).to_be_visible()

    expect(alice.locator("#users li[data-id=bob] .dot.online")).to_have_count(1)
    expect(bob.locator("#users li[data-id=alice] button")).to_have_attribute("aria-label", "Alice, online")

    send(alice, "hello everyone")
    for page in (alice, bob):
        expect(page.locator("#results .message .data")).to_have_text(["hello everyone"])
    expect(alice.locator("#results .message.mine")).to_have_count(1)
    expect(bob.locator("#announcer")).to_have_text("Alice: hello everyone")  # read out by screen readers
    expect(bob.locator("#results .message.mine")).to_have_count(0)
    expect(alice.locator("#messageInput")).to_have_value("")
    expect(alice.locator("#results .day")).to_have_text(["Today"])

    # Shift+Enter is a new line, Enter sends; two messages in a row share one sender header.
    bob.fill("#messageInput", "two")
    bob.press("#messageInput", "Shift+Enter")
    bob.type("#messageInput", "lines")
    bob.press("#messageInput", "Enter")
    send(bob, "and one more")
    expect(alice.locator("#results .message .data").nth(1)).to_have_text("two\nlines")
    expect(alice.locator("#results .message.grouped .data")).to_have_text(["and one more"])

    screenshot(alice, "everyone-desktop")
    # Closing the tab (its pagehide runs) ends the session at once: no presence grace to wait out.
    bob.close(run_before_unload=True)
    expect(alice.locator("#users li[data-id=bob]")).to_have_count(0)
    expect(alice.locator("#notices")).to_contain_text("Bob went offline")


def test_markup_shows_as_text_and_links_are_safe(server, pages):
    page = pages(server)
    sign_in(page, "mallory", alias=INJECTION)
    send(page, INJECTION + " see https://example.org/a?b=1.")
    message = page.locator("#results .message .data").last
    expect(message).to_have_text(INJECTION + " see https://example.org/a?b=1.")
    expect(page.locator("#results img, #users img, #app img")).to_have_count(0)
    link = message.locator("a")
    expect(link).to_have_attribute("href", "https://example.org/a?b=1")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    expect(page.locator("#whoami")).to_contain_text(INJECTION)


def test_direct_messages_unread_badges_typing_and_read_marks(server, pages):
    for user in ("dm-ann", "dm-ben", "dm-cat"):
        register_with_client(server, user)
    ann, ben, cat = pages(server), pages(server), pages(server)
    for page, user in ((ann, "dm-ann"), (ben, "dm-ben"), (cat, "dm-cat")):
        sign_in(page, user, PASSWORD)
    open_direct(ann, "dm-ben")
    open_direct(ben, "dm-ann")

    ben.type("#messageInput", "typing")
    expect(ann.locator("#typing")).to_have_text("dm-ben is typing")
    ben.fill("#messageInput", "")
    send(ben, "hi ann, only you")
    expect(ann.locator("#results .message.private .data")).to_have_text(["hi ann, only you"])
    expect(ann.locator("#typing")).to_have_text("")
    # Ann has the conversation open, so it is read: Ben sees the mark under his message.
    expect(ben.locator("#results .message.mine .state")).to_have_text(["Read"])
    expect(cat.locator("#results")).not_to_contain_text("only you")

    # A message in a conversation that is not open shows as an unread badge.
    open_direct(cat, "dm-ann")
    send(cat, "ann? it's cat")
    badge = ann.locator("#users li[data-id=dm-cat] .badge")
    expect(badge).to_have_text("1")
    expect(ann.locator("#users li[data-id=dm-cat] button")).to_have_attribute("aria-label", "dm-cat, online, 1 unread")
    open_direct(ann, "dm-cat")
    expect(badge).to_have_count(0)
    expect(ann.locator("#results .message .data")).to_have_text(["ann? it's cat"])
    screenshot(ben, "direct-message")


def test_rooms_create_join_invite_members_and_leave(server, pages):
    for user in ("room-owner", "room-guest"):
        register_with_client(server, user)
    owner, member, other = pages(server), pages(server), pages(server)
    sign_in(owner, "room-owner", PASSWORD)
    sign_in(member, "room-guest", PASSWORD)
    sign_in(other, "room-walker")

    owner.click("#newRoomButton")
    owner.fill("#roomIdInput", "lobby")
    owner.fill("#roomNameInput", "The Lobby")
    owner.click("#roomForm button[type=submit]")
    expect(owner.locator("#conversationTitle")).to_have_text("The Lobby")
    send(owner, "welcome to the lobby")

    # Public rooms are listed to everyone, with a Join button.
    other.click("#otherRoomList li[data-id=lobby] button")
    expect(other.locator("#conversationTitle")).to_have_text("The Lobby")
    expect(other.locator("#results .message .data")).to_have_text(["welcome to the lobby"])

    # A private room: invitation only.
    owner.click("#newRoomButton")
    owner.fill("#roomIdInput", "secret")
    owner.check("#roomPrivateInput")
    owner.click("#roomForm button[type=submit]")
    expect(owner.locator("#conversationTitle")).to_have_text("secret")
    expect(member.locator("#otherRoomList li[data-id=secret]")).to_have_count(0)
    owner.click("#membersButton")
    owner.fill("#inviteInput", "room-guest")
    owner.press("#inviteInput", "Enter")
    invitation = member.locator("#notices .notice.invite")
    expect(invitation).to_contain_text("room-owner invited you to secret")
    invitation.locator("button").click()
    expect(member.locator("#conversationTitle")).to_have_text("secret")
    send(member, "thanks for the invite")
    expect(owner.locator("#results .message .data")).to_have_text(["thanks for the invite"])
    owner.click("#membersButton")
    owner.click("#membersButton")
    expect(owner.locator("#membersList li")).to_have_count(2)
    expect(owner.locator("#membersList li[data-id=room-guest]")).to_contain_text("online")
    expect(owner.locator("#conversationSub")).to_have_text("2 members")

    expect(owner.locator("#leaveButton")).to_be_hidden()  # the owner deletes instead
    member.click("#leaveButton")
    expect(member.locator("#conversationTitle")).to_have_text("Everyone")
    expect(member.locator("#roomList li[data-id=secret]")).to_have_count(0)
    screenshot(owner, "rooms")

    owner.click("#deleteRoomButton")
    expect(owner.locator("#deleteRoomButton")).to_have_text("Delete secret for everyone? Press again")
    owner.click("#deleteRoomButton")
    expect(owner.locator("#conversationTitle")).to_have_text("Everyone")
    expect(owner.locator("#roomList li")).to_have_count(1)  # the lobby


def test_history_loads_as_you_scroll_up(server, pages):
    register_with_client(server, "historian")
    seeder = RecordingClient(server.url)
    assert seeder.call("login", {"id": "historian", "password": PASSWORD})["code"] == "200"
    register_with_client(server, "reader")
    reader = RecordingClient(server.url)  # online, so the messages are history, not waiting for a login
    assert reader.call("login", {"id": "reader", "password": PASSWORD})["code"] == "200"
    for n in range(120):
        assert seeder.call("message", {"recepient": "reader", "data": f"old {n:03d}"})["code"] == "200"
    seeder.close()
    reader.close()

    page = pages(server)
    sign_in(page, "reader", PASSWORD)
    open_direct(page, "historian")
    messages = page.locator("#results .message .data")
    expect(messages.last).to_have_text("old 119")
    expect(messages).to_have_count(50)
    for count in (100, 120):
        page.locator("#results").evaluate("box => { box.scrollTop = 0; }")
        expect(messages).to_have_count(count)
    expect(messages.first).to_have_text("old 000")
    expect(page.locator("#results .system").first).to_have_text("This is the beginning of the conversation.")


def test_reload_signs_you_back_in_and_sign_out_forgets(server, pages):
    register_with_client(server, "reloader")
    page = pages(server)
    sign_in(page, "reloader", PASSWORD)
    send(page, "before reload")
    # Come back "tomorrow": today's messages now sit under a "Yesterday" separator.
    page.clock.install(time=time.time() + 24 * 3600)
    page.reload()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#whoami")).to_contain_text("reloader")
    expect(page.locator("#results .message .data").last).to_have_text("before reload")
    expect(page.locator("#results .day")).to_have_text(["Yesterday"])
    expect(page.locator("#guestBadge")).to_be_hidden()

    token = page.evaluate("() => JSON.parse(localStorage.getItem('chatserver.session')).token")
    page.click("#signoutButton")
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("() => localStorage.getItem('chatserver.session')") is None
    client = RecordingClient(server.url)  # signing out revoked the kept token
    assert client.call("login", {"id": "reloader", "token": token})["code"] == "401"
    client.close()
    expect(page.locator("#signinError")).to_have_text("You signed out.")
    page.reload()
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()


def test_offline_recipient_is_shown_as_will_be_delivered(server, pages):
    register_with_client(server, "sleeper")
    register_with_client(server, "writer")
    writer = pages(server)
    sign_in(writer, "writer", PASSWORD)
    # Sleeper is offline: the conversation is opened from an old one-to-one history entry.
    client = RecordingClient(server.url)
    assert client.call("login", {"id": "sleeper", "password": PASSWORD})["code"] == "200"
    expect(writer.locator("#users li[data-id=sleeper]")).to_have_count(1)
    open_direct(writer, "sleeper")
    client.close()
    expect(writer.locator("#users li[data-id=sleeper] .dot.online")).to_have_count(0)
    send(writer, "read this when you are back")
    expect(writer.locator("#results .message.mine .state")).to_have_text(["Will be delivered when sleeper signs in"])
    expect(writer.locator("#messageInput")).to_have_value("")

    sleeper = pages(server)
    sign_in(sleeper, "sleeper", PASSWORD)
    expect(sleeper.locator("#users li[data-id=writer] .badge")).to_have_text("1")


def test_refusals_are_shown_and_nothing_typed_is_lost(server, pages):
    register_with_client(server, "careful")
    page = pages(server)
    page.fill("#idInput", "careful")
    page.fill("#passwordInput", "wrong password")
    page.click("#signinButton")
    expect(page.locator("#signinError")).to_have_text(TEXTS["en"]["401-login"])
    screenshot(page, "signin-refused")
    page.click("#registerButton")
    expect(page.locator("#signinError")).to_have_text(TEXTS["en"]["409-registered"])
    page.click("#guestButton")  # a guest cannot take a registered id
    expect(page.locator("#signinError")).to_have_text(TEXTS["en"]["401-login"])
    sign_in(page, "careful", PASSWORD)

    too_long = "x" * 2001
    send(page, too_long)
    failed = page.locator("#results .message.mine .state.failed")
    expect(failed).to_contain_text("Not sent: " + TEXTS["en"]["413"].format(limit=2000))
    expect(page.locator("#messageInput")).to_have_value(too_long)  # the text is still there to fix

    page.fill("#messageInput", "short enough")
    page.press("#messageInput", "Enter")
    expect(page.locator("#results .message .data").last).to_have_text("short enough")
    failed.locator("button", has_text="Discard").click()
    expect(failed).to_have_count(0)
    screenshot(page, "refusals")


def test_korean_page_and_server_words_and_switching_language(server, pages):
    register_with_client(server, "hangul")
    page = pages(server, locale="ko-KR")
    expect(page.locator("#signinTitle")).to_have_text("채팅에 로그인")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    page.fill("#idInput", "hangul")
    page.fill("#passwordInput", "wrong password")
    page.click("#signinButton")
    expect(page.locator("#signinError")).to_have_text(TEXTS["ko"]["401-login"])  # the server's words, in Korean
    page.locator("#signin .languageSelect").select_option("en")
    expect(page.locator("#signinTitle")).to_have_text("Sign in to chat")
    page.click("#signinButton")
    expect(page.locator("#signinError")).to_have_text(TEXTS["en"]["401-login"])
    page.locator("#signin .languageSelect").select_option("ko")
    sign_in(page, "hangul", PASSWORD)
    expect(page.locator("#conversationTitle")).to_have_text("모두")
    send(page, "x" * 2001)
    expect(page.locator("#results .state.failed")).to_contain_text(TEXTS["ko"]["413"].format(limit=2000))
    screenshot(page, "korean")
    # Switched while signed in: the page's words at once, the server's from the next answer on.
    page.locator("#app .languageSelect").select_option("en")
    expect(page.locator("#conversationTitle")).to_have_text("Everyone")
    expect(page.locator("#signoutButton")).to_have_text("Sign out")
    page.locator("#results .state.failed button", has_text="Retry").click()
    expect(page.locator("#results .state.failed")).to_contain_text(TEXTS["en"]["413"].format(limit=2000))


def test_phone_size_dark_theme_and_keyboard_only(server, pages):
    page = pages(server, viewport={"width": 375, "height": 740}, color_scheme="dark", has_touch=True)
    # Keyboard only: the id field, the form's buttons, all reached and pressed with keys.
    page.locator("#idInput").focus()
    page.keyboard.type("phone-user")
    page.keyboard.press("Tab")  # password
    page.keyboard.press("Tab")  # display name
    page.keyboard.press("Tab")  # sign in
    page.keyboard.press("Tab")  # create account
    page.keyboard.press("Tab")  # continue as guest
    expect(page.locator("#guestButton")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#messageInput")).to_be_visible()
    page.locator("#messageInput").focus()
    page.keyboard.type("from my phone https://example.org")
    page.keyboard.press("Enter")
    expect(page.locator("#results .message .data").last).to_have_text("from my phone https://example.org")

    assert no_wider_than(page, 375)
    background = page.evaluate("() => getComputedStyle(document.querySelector('.conversation')).backgroundColor")
    red, green, blue = (int(n) for n in re.findall(r"\d+", background)[:3])
    assert max(red, green, blue) < 80, background  # dark
    # The composer sits at the bottom of the screen.
    box = page.locator("#messageForm").bounding_box()
    assert box["y"] + box["height"] <= 740 and box["y"] > 600
    screenshot(page, "phone-dark")

    # Accessible names are words: the arrow on the back button is not part of it.
    page.get_by_role("button", name="Back to conversations", exact=True).click()
    expect(page.locator("#allList")).to_be_visible()
    expect(page.locator("#results")).to_be_hidden()
    assert no_wider_than(page, 375)
    screenshot(page, "phone-dark-sidebar")


def test_title_badge_and_notification_while_the_tab_is_hidden(server, pages):
    watcher, talker = pages(server), pages(server)
    # Headless Chromium shows no notifications: a stand-in records what the page asks for.
    watcher.add_init_script("""
        window.shown = [];
        window.Notification = class { constructor(title, options) { window.shown.push([title, options.body]); } };
        window.Notification.permission = 'granted';
    """)
    watcher.reload()
    sign_in(watcher, "watcher")
    sign_in(talker, "talker")
    watcher.evaluate("""() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    send(talker, "are you there?")
    expect(watcher).to_have_title("(1) chatserver")
    assert watcher.evaluate("() => window.shown") == [["New message from talker", "are you there?"]]
    watcher.evaluate("""() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    expect(watcher).to_have_title("chatserver")


def test_server_restart_reconnects_signs_back_in_and_catches_up(pages, tmp_path):
    port = free_port()
    server = ServerProcess(chatserver_command(port), port, log_dir=tmp_path).start()
    try:
        register_with_client(server, "steady")
        page = pages(server)
        sign_in(page, "steady", PASSWORD)
        send(page, "before the restart")
        # Sent, not just shown: the restart must not land between the message and its answer.
        expect(page.locator("#results .message.mine[data-state=sent] .data")).to_have_text(["before the restart"])

        server.stop()
        expect(page.locator("#status")).to_have_text(re.compile("Reconnecting|Cannot reach"))
        page.fill("#messageInput", "typed while away")
        page.press("#messageInput", "Enter")
        expect(page.locator("#results .state.failed")).to_have_count(1)
        expect(page.locator("#messageInput")).to_have_value("typed while away")

        server.start()
        expect(page.locator("#status")).to_be_hidden(timeout=20_000)
        expect(page.locator("#whoami")).to_contain_text("steady")
        expect(page.locator("#app")).to_be_visible()
        page.locator("#results .state.failed button", has_text="Retry").click()
        expect(page.locator("#results .message.mine:not([data-state=failed]) .data")).to_have_text(
            ["before the restart", "typed while away"])
        expect(page.locator("#messageInput")).to_have_value("")
    finally:
        server.stop()


def test_connect_elsewhere_says_what_is_wrong_in_plain_words(server, pages):
    page = pages(server)
    page.click("#elsewhere summary")
    page.fill("#portInput", str(free_port()))  # nothing listens there
    page.click("#connectButton")
    expect(page.locator("#status")).to_contain_text("Cannot reach the chat server at 127.0.0.1:")
    expect(page.locator("#status")).not_to_contain_text("xhr")
    page.fill("#portInput", str(server.port))
    page.click("#connectButton")
    expect(page.locator("#status")).to_be_hidden()
    sign_in(page, "wanderer")


def test_screenshot_for_the_readme(server, pages):
    """Three people, a room and a direct message: the picture in the README (artifacts/readme.png)."""
    for user in ("mina", "joon"):
        register_with_client(server, user)
    mina, joon, sam = pages(server), pages(server), pages(server)
    sign_in(mina, "mina", PASSWORD, alias="Mina")
    sign_in(joon, "joon", PASSWORD, alias="Joon")
    sign_in(sam, "sam", alias="Sam")
    mina.click("#newRoomButton")
    mina.fill("#roomIdInput", "release")
    mina.fill("#roomNameInput", "Release planning")
    mina.click("#roomForm button[type=submit]")
    for page in (joon, sam):
        page.click("#otherRoomList li[data-id=release] button")
        expect(page.locator("#conversationTitle")).to_have_text("Release planning")
    send(mina, "Morning! The release notes draft is up: https://example.org/notes")
    send(mina, "Could you both read it before lunch?")
    send(joon, "On it. The Korean page texts are in too.")
    send(sam, "Looks good to me, one typo in the second section.")
    open_direct(joon, "mina")
    send(joon, "Got a minute after the call?")
    expect(mina.locator("#users li[data-id=joon] .badge")).to_have_text("1")
    sam.type("#messageInput", "Fixed")
    expect(mina.locator("#typing")).to_have_text("Sam is typing")
    expect(mina.locator("#results .message .data")).to_have_count(4)
    screenshot(mina, "readme")


def test_a_dropped_connection_catches_up_with_history(server, pages):
    """The network goes away (not the server): what was said meanwhile comes in through `history` `after`."""
    register_with_client(server, "roamer")
    page = pages(server)
    network = {"up": True, "sockets": []}

    def http(route):
        route.continue_() if network["up"] else route.abort()

    def websocket(ws):
        if not network["up"]:
            ws.close()
            return
        network["sockets"].append((ws, ws.connect_to_server()))

    page.route(re.compile(r"/socket\.io/"), http)
    page.route_web_socket(re.compile(r"/socket\.io/"), websocket)
    page.reload()  # so the page's own connection goes through the routes above
    sign_in(page, "roamer", PASSWORD)
    send(page, "about to go through a tunnel")
    expect(page.locator("#results .message.mine .data")).to_have_text(["about to go through a tunnel"])

    network["up"] = False
    for to_page, to_server in network["sockets"]:
        to_page.close()
        to_server.close()
    expect(page.locator("#status")).to_have_text(re.compile("Reconnecting|Cannot reach"))
    talker = RecordingClient(server.url)
    assert talker.call("login", {"id": "stay-at-home"})["code"] == "200"
    assert talker.call("message", {"recepient": "ALL", "data": "said while roamer was away"})["code"] == "200"
    talker.close()

    network["up"] = True
    expect(page.locator("#status")).to_be_hidden(timeout=20_000)
    expect(page.locator("#results .message .data").last).to_have_text("said while roamer was away")
    expect(page.locator("#results .message", has_text="about to go through a tunnel")).to_have_count(1)


def test_a_server_without_guests_or_registration_offers_neither(pages, tmp_path):
    port = free_port()
    env = {"CHATSERVER_GUESTS": "off", "CHATSERVER_REGISTRATION": "closed"}
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path) as closed:
        page = pages(closed)
        expect(page.locator("#signinButton")).to_be_visible()
        expect(page.locator("#guestButton")).to_be_hidden()
        expect(page.locator("#registerButton")).to_be_hidden()
        page.fill("#idInput", "nobody")
        page.click("#signinButton")  # no password: would be a guest, and there are none
        expect(page.locator("#signinError")).to_have_text(TEXTS["en"]["401-login"])
