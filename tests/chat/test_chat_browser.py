"""The chat page in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Two pages, two nicknames: messages typed in one appear in the other, presence
updates on both, HTML in a message stays text, a dropped socket reconnects by
itself. With UPDATE_SCREENSHOT=1 it refreshes the README's screenshot (docs/chat.png).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from chattools import ROOT, ChatServer
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    async_playwright,
    expect,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The README's picture; refreshed only when asked, so a test run leaves the tree clean.
README_SCREENSHOT = ROOT / "docs" / "chat.png"
XSS = "<script>alert(1)</script><b>x</b>"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless; never a downloaded browser. Missing: the test fails."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed: run scripts/system-deps.sh (Debian chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


class Visitor:
    """One person: a browser context of its own, a page, and what went wrong in it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.problems: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    async def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":  # CSP violations and script errors land here
            self.problems.append(f"console error: {message.text}")

    @classmethod
    async def open(cls, browser: Browser, chat: ChatServer) -> Visitor:
        context = await browser.new_context(viewport={"width": 1024, "height": 640})
        visitor = cls(await context.new_page())
        await visitor.page.goto(chat.url)
        return visitor

    async def join(self, nick: str, room: str = "lobby") -> None:
        page = self.page
        await page.fill("#nick", nick)
        await page.fill("#room", room)
        await page.click("#join")
        await expect(page.locator("#chat-view")).to_be_visible()
        await expect(page.locator("#status")).to_have_attribute("data-state", "online")

    async def say(self, text: str) -> None:
        await self.page.fill("#text", text)
        await self.page.press("#text", "Enter")
        await expect(self.page.locator("#text")).to_have_value("")

    def messages(self) -> Locator:
        return self.page.locator("#log .msg .text")

    async def expect_members(self, *names: str) -> None:
        await expect(self.page.locator("#members li")).to_have_text(list(names))
        await expect(self.page.locator("#count")).to_have_text(str(len(names)))


async def test_two_people_chat_in_chromium(
    browser: Browser, chat: ChatServer, tmp_path: Path
) -> None:
    ada = await Visitor.open(browser, chat)
    await expect(ada.page).to_have_title("tidewire chat")
    await ada.join("ada")
    await ada.expect_members("ada")

    grace = await Visitor.open(browser, chat)
    await grace.join("grace")
    await grace.expect_members("ada", "grace")
    await ada.expect_members("ada", "grace")  # presence reached the first page
    await expect(ada.page.locator("#log .notice.join")).to_contain_text(["grace joined"])

    await grace.say("Hello Ada! Is the tide coming in?")
    await expect(ada.messages()).to_have_text(["Hello Ada! Is the tide coming in?"])
    await ada.say("Yes, and one frame serves everyone.")
    await expect(grace.messages()).to_have_text(
        ["Hello Ada! Is the tide coming in?", "Yes, and one frame serves everyone."]
    )

    # HTML is shown as text: no element is created, no script runs.
    await ada.say(XSS)
    for visitor in (ada, grace):
        last = visitor.page.locator("#log .msg .text").last
        await expect(last).to_have_text(XSS)
        assert await visitor.page.locator("#log b").count() == 0
        assert await visitor.page.locator("#log script").count() == 0
        assert await last.inner_html() == XSS.replace("<", "&lt;").replace(">", "&gt;")
    await grace.say("Ha, nice try: it stays text.")
    await expect(ada.messages()).to_have_count(4)

    screenshot = README_SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / "chat.png"
    await ada.page.screenshot(path=str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    # A dropped connection comes back by itself (backoff), and the chat goes on.
    for connection in chat.running.server.connections:
        connection.abort()
    for visitor in (ada, grace):
        await expect(visitor.page.locator("#status")).to_have_attribute(
            "data-state", re.compile("offline|connecting")
        )
    for visitor in (ada, grace):
        await expect(visitor.page.locator("#status")).to_have_attribute(
            "data-state", "online", timeout=10_000
        )
    await grace.say("back again")
    await expect(ada.messages()).to_have_count(5)
    await expect(ada.messages().last).to_have_text("back again")

    # Leaving updates the other page's presence.
    await grace.page.click("#leave")
    await expect(grace.page.locator("#join-view")).to_be_visible()
    await ada.expect_members("ada")
    await expect(ada.page.locator("#log .notice.leave").last).to_contain_text("grace left")

    for visitor in (ada, grace):
        assert visitor.dialogs == []
        assert visitor.problems == [], visitor.problems
    assert screenshot.stat().st_size > 10_000


async def test_joining_twice_quickly_keeps_one_socket(browser: Browser, chat: ChatServer) -> None:
    hub = chat.app.hub
    ada = await Visitor.open(browser, chat)
    await ada.page.fill("#nick", "ada")
    await ada.page.fill("#room", "lobby")
    # Two submissions before the first socket opened (a double click, an impatient Enter).
    await ada.page.evaluate(
        "() => { const form = document.getElementById('join-form');"
        " form.requestSubmit(); form.requestSubmit(); }"
    )
    await expect(ada.page.locator("#status")).to_have_attribute("data-state", "online")
    await ada.expect_members("ada")
    await ada.page.wait_for_timeout(300)  # a second join would have arrived by now
    assert hub.subscriber_count("chat:lobby") == 1
    await ada.say("once")
    await expect(ada.messages()).to_have_text(["once"])
    await ada.page.click("#leave")
    await expect(ada.page.locator("#join-view")).to_be_visible()
    for _ in range(200):
        if hub.subscriber_count("chat:lobby") == 0:
            break
        await ada.page.wait_for_timeout(10)
    assert hub.subscriber_count("chat:lobby") == 0
    assert await hub.members("chat:lobby") == []
    assert ada.problems == [], ada.problems
