"""Takes the UI screenshots in docs/ from the running UI with the real embedded model:

- `handbook`: ui-pdf-page.png and ui-html-section.png, a PDF answer (its page shown) and an HTML
  documentation answer (its section path shown); needs Debian's debian-handbook.
- `seeds`: ui-follow-up.png, a follow-up ("What did he say ...?") after the question it leans on,
  and ui-two-part.png, the same conversation going on with a question in two parts, over the
  shipped seeds (each part answered and cited; "it" read from the first part, not the chat).

Needs Debian's chromium; from the repository root:
`PYTHONPATH=. .venv/bin/python docs/screenshots.py [handbook|seeds]` (minutes on two cores)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fpdf import FPDF  # noqa: E402
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from assistant import Assistant  # noqa: E402
from assistant.loading import Found, parse  # noqa: E402
from assistant.schema import Document  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from tests.test_ui import served  # noqa: E402
from tests.test_ui_browser import CHROMIUM_ARGS  # noqa: E402

HANDBOOK = Path("/usr/share/doc/debian-handbook/html/en-US")
FONTS = Path("/usr/share/fonts/truetype/dejavu")
HTML_PAGES = [
    "sect.administration-interfaces.html",
    "sect.apt-get.html",
    "network-services.html",
    "sect.package-meta-information.html",
]
PDF_PAGES = ["sect.automated-installation.html", "sect.monitoring.html"]  # answer a few pages in
QUESTIONS = [
    ("Which TCP port does the munin-node daemon listen on?", "ui-pdf-page.png"),
    ("On which port does webmin's built-in web server listen by default?", "ui-html-section.png"),
]


def handbook_page(name: str) -> Document:
    path = HANDBOOK / name
    document = parse(Found(file=name, path=path), path.read_bytes())
    assert isinstance(document, Document)
    return document


def typeset(names: list[str], out: Path) -> None:
    """Handbook sections as one PDF, headings in bold."""
    pdf = FPDF()
    pdf.add_font("dejavu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    for name in names:
        document = handbook_page(name)
        headings = {s.start for s in document.sections}
        offset = 0
        for block in document.text.split("\n\n"):
            heading = offset in headings
            pdf.set_font("dejavu", "B" if heading else "", 13 if heading else 11)
            pdf.multi_cell(0, 6, block)
            pdf.ln(3)
            offset += len(block) + 2
    pdf.output(str(out))


CONVERSATIONS = [
    (["Who is Philip Luther?", "What did he say about the attacks?"], "ui-follow-up.png"),
    (
        [
            "Who is Philip Luther?",
            "What did he say about the attacks?",
            "Did Amnesty say that Russia used cluster bombs, and who else accused it?",
        ],
        "ui-two-part.png",
    ),
]


def ask_in_turn(page: Page, questions: list[str]) -> None:
    """Each question typed into the chat once the answer before it is complete."""
    box = page.locator("#question textarea")
    for n, question in enumerate(questions, start=1):
        expect(box).to_be_editable(timeout=120_000)  # the chat takes input again
        box.fill(question)
        box.press("Enter")
        done = page.locator("#chat .meta, #chat .note.error")
        expect(done).to_have_count(n, timeout=600_000)
        print(question, "->", page.locator("#chat .answer-text").last.inner_text())


def shoot(
    assistant: Assistant, conversations: list[tuple[list[str], str]], height: int, card: int
) -> None:
    """Each conversation in a new page of the served UI, its `card`-th cited source opened,
    then a screenshot into docs/ (serve() starts the model's warm-up)."""
    with served(assistant) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for questions, png in conversations:
            page = browser.new_page(viewport={"width": 1360, "height": height})
            page.goto(url, wait_until="load")
            expect(page.locator("#chat")).to_be_visible(timeout=30_000)
            ask_in_turn(page, questions)
            cards = page.locator("#chat .card")
            if cards.count():
                cards.nth(card).click()  # -1: the last
                expect(page.locator("#source-panel mark")).to_be_visible(timeout=30_000)
            page.screenshot(path=str(REPO / "docs" / png))
            page.close()
        browser.close()


def seeds() -> None:
    work = Path(tempfile.mkdtemp(prefix="screenshots-"))
    shutil.copytree(REPO / "seeds", work / "corpus")
    settings = Settings(corpus_dir=work / "corpus", index_dir=work / "index", backend="embedded")
    assistant = Assistant(settings)
    assistant.ingest()
    shoot(assistant, CONVERSATIONS, height=1000, card=-1)  # the follow-up's source
    shutil.rmtree(work, ignore_errors=True)


def handbook() -> None:
    work = Path(tempfile.mkdtemp(prefix="screenshots-"))
    corpus = work / "corpus"
    corpus.mkdir()
    typeset(PDF_PAGES, corpus / "advanced-administration.pdf")
    for name in HTML_PAGES:
        shutil.copy(HANDBOOK / name, corpus / name)
    assistant = Assistant(Settings(corpus_dir=corpus, index_dir=work / "index", backend="embedded"))
    assistant.ingest()
    shoot(assistant, [([q], png) for q, png in QUESTIONS], height=900, card=0)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    {"handbook": handbook, "seeds": seeds}[sys.argv[1] if len(sys.argv) > 1 else "handbook"]()
