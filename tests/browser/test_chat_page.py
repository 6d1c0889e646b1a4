"""Two headless Chromium pages chat through a real server: presence, ALL, private, and no HTML injection."""

import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from support import ServerProcess, chatserver_command, free_port

CHROMIUM = Path(os.environ.get("CHATSERVER_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps dialling out of this closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
INJECTION = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    # Closing a page ends its WebSocket without a Socket.IO DISCONNECT: the server sees a drop and
    # keeps the user online for the presence grace (10 s by default), unless the page disconnects
    # when it goes away (pagehide). A short grace keeps the offline test below within its wait.
    env = {"CHATSERVER_PRESENCE_GRACE": "1"}
    with ServerProcess(chatserver_command(port), port, env=env, log_dir=tmp_path_factory.mktemp("logs")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: install Debian's chromium (make deps does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_chat(browser, server, user, alias):
    """Open the page, connect with the prefilled host and port, and log in."""
    page = browser.new_context().new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
    page.goto(server.url + "/")
    expect(page.locator("#portInput")).to_have_value(str(server.port))
    page.click("#connectButton")
    expect(page.locator("#status")).to_have_text("connected")
    page.fill("#idInput", user)
    page.fill("#aliasInput", alias)
    page.click("#loginButton")
    expect(page.locator("#whoami")).to_contain_text(user)
    return page


def test_two_pages_see_each_other_and_chat(browser, server):
    alice = open_chat(browser, server, "alice", "Alice")
    bob = open_chat(browser, server, "bob", "Bob")
    for page in (alice, bob):
        expect(page.locator("#users li[data-id=alice]")).to_have_count(1)
        expect(page.locator("#users li[data-id=bob]")).to_have_count(1)

    alice.fill("#messageInput", "hello everyone")
    alice.press("#messageInput", "Enter")
    for page in (alice, bob):
        expect(page.locator("#results .message:not(.private) .data")).to_have_text(["hello everyone"])
    expect(alice.locator("#messageInput")).to_have_value("")

    bob.select_option("#recipient", "alice")
    bob.fill("#messageInput", "just for you")
    bob.press("#messageInput", "Enter")
    private = alice.locator("#results .message.private")
    expect(private.locator(".data")).to_have_text(["just for you"])
    expect(private).to_have_attribute("data-sender", "bob")

    bob.close()
    expect(alice.locator("#users li[data-id=bob]")).to_have_count(0)
    alice.close()


def test_markup_in_a_message_shows_as_text(browser, server):
    alice = open_chat(browser, server, "mallory", INJECTION)
    alice.fill("#messageInput", INJECTION)
    alice.press("#messageInput", "Enter")
    expect(alice.locator("#results .message .data").last).to_have_text(INJECTION)
    expect(alice.locator("#results img, #users img")).to_have_count(0)
    expect(alice.locator("#users li[data-id=mallory]")).to_contain_text(INJECTION)
    alice.close()


def test_error_responses_are_shown(browser, server):
    page = open_chat(browser, server, "carol", "")
    page.select_option("#recipient", "ALL")
    page.fill("#messageInput", "x" * 2001)
    page.press("#messageInput", "Enter")
    expect(page.locator("#results .error").last).to_contain_text("413")
    page.close()


def test_screenshot_for_people(browser, server):
    """Leave a picture of the page for a person to look at: $TMPDIR/chatserver-page.png."""
    page = open_chat(browser, server, "dave", "Dave")
    page.fill("#messageInput", "a screenshot")
    page.press("#messageInput", "Enter")
    expect(page.locator("#results .message .data").last).to_have_text("a screenshot")
    path = Path(tempfile.gettempdir()) / "chatserver-page.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    page.close()
