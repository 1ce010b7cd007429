"""Hostile, in headless Chromium: markup typed in a question stays text and fetches nothing.

A tiny HTTP server on 127.0.0.1 records every request; the question points an <img>, a Markdown
image and a CSS background at it. The app runs on the fake encoder and a scripted model, so no
weights are needed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.support import fake_assistant
from tests.test_ui import served
from tests.test_ui_browser import CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path("/usr/bin/chromium").exists(),
        reason="needs Debian's chromium at /usr/bin/chromium",
    ),
]


class Recorder(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def pixel_server() -> Iterator[tuple[int, list[str]]]:
    Recorder.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], Recorder.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_markup_in_a_question_is_text_and_fetches_nothing(
    tmp_path: Path, pixel_server: tuple[int, list[str]], browser: Browser
) -> None:
    port, requests = pixel_server
    base = f"http://127.0.0.1:{port}"
    question = (
        f'What about <img src="{base}/pixel.png"> and ![md]({base}/md.png) and '
        f"<div style=\"background:url('{base}/css.png')\">x</div>?"
    )
    assistant = fake_assistant(tmp_path, lambda _: {"claims": []})
    with served(assistant) as url:
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.goto(url, wait_until="load")
        box = page.get_by_placeholder("Ask about your documents…")
        box.fill(question)
        box.press("Enter")
        expect(page.locator("#chat .meta, #chat .note.error")).to_have_count(1, timeout=60_000)
        page.wait_for_timeout(1000)  # time for any fetch the page might still start
        assert requests == [], f"the page fetched {requests}"
        chat = page.locator("#chat")
        expect(chat).to_contain_text(f'<img src="{base}/pixel.png">')
        expect(chat).to_contain_text(f"![md]({base}/md.png)")
        expect(chat.locator("img[src*='127.0.0.1']")).to_have_count(0)
        page.close()
    assert requests == []


def test_enter_on_an_empty_box_does_nothing(tmp_path: Path, browser: Browser) -> None:
    assistant = fake_assistant(tmp_path, lambda _: {"claims": []})
    with served(assistant) as url:
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.goto(url, wait_until="load")
        box = page.get_by_placeholder("Ask about your documents…")
        bubbles = page.locator("#chat [data-testid=user], #chat [data-testid=bot]")
        for blank in ["", "   ", "\t"]:
            box.fill(blank)
            box.press("Enter")
            page.wait_for_timeout(1500)
            expect(bubbles).to_have_count(0)
        box.fill("  ")
        page.locator("#question button.submit-button").click()  # the send button, too
        page.wait_for_timeout(1500)
        expect(bubbles).to_have_count(0)
        box.fill("Who is Philip Luther?")  # a real question still goes through
        box.press("Enter")
        expect(page.locator("#chat .meta, #chat .note.error")).to_have_count(1, timeout=60_000)
        expect(bubbles).to_have_count(2)
        page.close()
