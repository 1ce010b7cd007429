"""The web UI in headless Chromium: a cited answer, its highlighted source, an upload.

One app and one Assistant (over a private copy of the seeds) serve every test here, so the
model loads once. Answers take a while on a busy 2-core machine: the timeouts are generous.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support import REPO, seeded_assistant
from tests.test_ui import ARIHA, served

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path("/usr/bin/chromium").exists(),
        reason="needs Debian's chromium at /usr/bin/chromium",
    ),
]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSWER_MS = 240_000  # model load + an answer, while other work shares the 2 cores
ARTIFACTS = REPO / "artifacts"
FACT = "The Zorbland river festival was first held in 1873 in the town of Quillby."


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(seeded_assistant(tmp_path_factory.mktemp("ui-browser"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_app(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.goto(url, wait_until="load")  # never "networkidle": Gradio keeps a connection open
    expect(page.locator("#chat")).to_be_visible(timeout=30_000)
    return page


def ask(page: Page, question: str, answers_before: int = 0) -> None:
    box = page.get_by_placeholder("Ask about your documents…")
    box.fill(question)
    box.press("Enter")
    # Each verified answer ends with a ".meta" line; errors end as ".note.error".
    done = page.locator("#chat .meta, #chat .note.error")
    expect(done).to_have_count(answers_before + 1, timeout=ANSWER_MS)


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


@pytest.fixture(scope="module")
def answered(browser: Browser, app_url: str) -> Iterator[Page]:
    """One page that has asked the Ariha question (shared: an answer costs a minute)."""
    page = open_app(browser, app_url)
    ask(page, ARIHA)
    yield page
    page.close()


def test_answer_shows_49_with_citation_markers(answered: Page) -> None:
    expect(answered.locator("#chat .note.error")).to_have_count(0)
    text = answered.locator("#chat .answer-text").last
    expect(text).to_contain_text("49")
    marker = text.locator("button.cite").first
    expect(marker).to_be_visible()
    expect(marker).to_have_text("[1]")
    expect(answered.locator("#chat .card").first).to_contain_text("line")
    expect(answered.locator("#status")).to_contain_text("embedded")
    shoot(answered, "ui-answer.png")


def test_clicking_a_citation_shows_the_marked_passage(answered: Page) -> None:
    markers = answered.locator("#chat .answer-text").last.locator("button.cite")
    for i in range(markers.count()):  # the passage with 49 (every verified citation has it)
        markers.nth(i).click()
        mark = answered.locator("#source-panel mark")
        expect(mark).to_be_visible(timeout=30_000)
        expect(mark).to_contain_text("49")
        expect(mark).to_be_in_viewport()
        file = (markers.nth(i).get_attribute("title") or "").split(",")[0]
        expect(answered.locator("#source-panel .source-head")).to_contain_text(file)
    shoot(answered, "ui-source.png")


def test_uploaded_document_is_indexed_and_cited(
    browser: Browser, app_url: str, tmp_path: Path
) -> None:
    doc = tmp_path / "zorbland festival.txt"
    doc.write_text(FACT + "\n\nThe festival takes place every August on the river banks.\n")
    page = open_app(browser, app_url)
    page.get_by_text("Add documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    result = page.locator("#ingest-result")
    expect(result).to_contain_text("Added", timeout=120_000)
    expect(result).to_contain_text("zorbland festival.txt")
    expect(page.locator("#status")).to_contain_text("6 documents")
    ask(page, "When was the Zorbland river festival first held?")
    answer = page.locator("#chat .answer-text").last
    expect(answer).to_contain_text("1873")
    expect(page.locator("#chat .card").first).to_contain_text("zorbland festival.txt")
    page.locator("#chat .card").first.click()
    expect(page.locator("#source-panel mark")).to_contain_text("1873", timeout=30_000)
    shoot(page, "ui-upload.png")
    page.close()
