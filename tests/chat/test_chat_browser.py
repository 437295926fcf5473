"""The chat page in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Two pages, two nicknames: messages typed in one appear in the other, presence
updates on both, HTML in a message stays text, a dropped socket reconnects by
itself, and a page that was away gets the messages it missed, once and in order.
With UPDATE_SCREENSHOT=1 it refreshes the README's screenshot (docs/chat.png).
"""

from __future__ import annotations

import asyncio
import contextlib
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
    async def open(cls, browser: Browser, chat: ChatServer, url: str | None = None) -> Visitor:
        context = await browser.new_context(viewport={"width": 1024, "height": 640})
        visitor = cls(await context.new_page())
        await visitor.page.goto(url or chat.url)
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


class CuttableProxy:
    """A TCP proxy in front of the chat server: :meth:`cut` drops every connection
    through it, and while ``refusing`` new ones are closed at once (the page's
    network is gone), so the page stays away until ``refusing`` is cleared."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refusing = False
        self.port = 0
        self._links: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._links += [writer, up_writer]
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.transport.abort()

    def cut(self) -> None:
        for writer in self._links:
            writer.transport.abort()
        self._links.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def test_a_page_that_was_away_gets_what_it_missed_once_in_order(
    browser: Browser, chat: ChatServer
) -> None:
    proxy = CuttableProxy(chat.running.port)
    await proxy.start()
    try:
        ada = await Visitor.open(browser, chat, f"http://127.0.0.1:{proxy.port}/")
        await ada.join("ada", "harbour")
        grace = await Visitor.open(browser, chat)
        await grace.join("grace", "harbour")
        await grace.say("before")
        await expect(ada.messages()).to_have_text(["before"])

        proxy.refusing = True
        proxy.cut()  # ada's socket drops, and ada cannot come back yet
        await expect(ada.page.locator("#status")).to_have_attribute(
            "data-state", re.compile("offline|connecting")
        )
        missed = [f"missed {n}" for n in range(10)]
        for text in missed:  # published from another page while ada is away
            await grace.say(text)
        await expect(grace.messages()).to_have_count(11)
        recoveries = chat.app.hub.stats.recoveries

        proxy.refusing = False  # ada's page reconnects by itself, with its last position
        await expect(ada.page.locator("#status")).to_have_attribute(
            "data-state", "online", timeout=20_000
        )
        await expect(ada.messages()).to_have_text(["before", *missed])
        await expect(ada.page.locator("#log .notice.recovered")).to_have_count(1)
        assert chat.app.hub.stats.recoveries == recoveries + 1
        await grace.say("after")
        await expect(ada.messages()).to_have_text(["before", *missed, "after"])
        # Chromium logs each refused reconnect (the proxy's doing); nothing else went wrong.
        assert [p for p in ada.problems if "WebSocket connection to" not in p] == []
        assert grace.problems == []
    finally:
        await proxy.close()
