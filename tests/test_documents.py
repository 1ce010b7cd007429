"""The user's own documents, made here as real files: PDF pages, HTML and Markdown sections,
Word headings, text in old encodings, and an index that follows edits. Each cited span is
checked against the extracted text at its exact offsets, and its page or section."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from assistant import Answer, Assistant
from assistant.ingest import ProgressLine
from assistant.loading import Found, decode, parse, read_document
from assistant.schema import Document, Skipped
from tests.support import cite_sentence_with, fake_assistant


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def load(path: Path) -> Document:
    document = parse(Found(file=path.name, path=path), path.read_bytes())
    assert not isinstance(document, Skipped), document
    return document


def pdf_with_pages(pages: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def word_file(paragraphs: list[tuple[str, str]]) -> bytes:
    document = docx.Document()
    for style, text in paragraphs:
        document.add_paragraph(text, style=style)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def cited(folder: Path, tmp_path: Path, needle: str, question: str) -> tuple[Assistant, Answer]:
    """Ask the fake assistant over `folder`; its model cites the sentence holding `needle`."""
    assistant = fake_assistant(tmp_path, cite_sentence_with(needle), corpus=folder)
    answer = assistant.ask(question)
    assert not answer.abstained, answer.dropped
    return assistant, answer


def assert_exact(assistant: Assistant, answer: Answer) -> None:
    for c in answer.citations:
        text = read_document(assistant.settings.corpus_dir, c.file).text
        assert text[c.start : c.end] == c.quote


# -- PDF: the page of each span ------------------------------------------------------------------
def test_pdf_citation_names_the_page(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write(
        folder / "manual.pdf",
        pdf_with_pages(
            [
                "Chapter one introduces the Quillby pump.",
                "The pump needs no oil.",
                "The Quillby pump runs at 3200 revolutions per minute.",
            ]
        ),
    )
    document = load(folder / "manual.pdf")
    assert len(document.pages) == 3
    third = document.text.index("3200")
    assert document.page_at(third) == 3 and document.page_at(0) == 1

    assistant, answer = cited(folder, tmp_path, "3200", "How fast does the Quillby pump run?")
    citation = answer.citations[0]
    assert citation.page == 3 and "3200" in citation.quote and citation.place() == "page 3"
    assert_exact(assistant, answer)


# -- HTML: browser text, sections from headings ---------------------------------------------------
def test_html5_without_closing_head_keeps_its_text(tmp_path: Path) -> None:
    path = write(tmp_path / "t.html", "<html><head><title>T</title><body><p>Body text here.</p>")
    assert load(path).text == "Body text here."


def test_html_drops_navigation_script_and_style(tmp_path: Path) -> None:
    path = write(
        tmp_path / "page.html",
        "<!DOCTYPE html><html><head><style>p{color:red}</style></head><body>"
        '<div id="banner">Download the ebook</div>'
        '<ul class="docnav top"><li>Prev</li><li>Next</li></ul><nav>Home | About</nav>'
        "<p>Visible <b>bold</b> text.</p><script>var hidden = 1;</script>"
        '<div role="navigation">Skip to content</div><p>Caf&eacute; &amp; more</p></body></html>',
    )
    assert load(path).text == "Visible bold text.\n\nCafé & more"


def test_html_nested_headings_give_the_section_path(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write(
        folder / "guide.html",
        "<!DOCTYPE html><html><head><title>Guide</title></head><body>"
        "<h1>Network services</h1><p>Servers answer requests.</p>"
        "<h2>Mail</h2><p>Postfix delivers mail.</p>"
        "<h3>Greylisting</h3><p>The postgrey daemon listens on port 10023.</p>"
        "<h2>Web</h2><p>Apache serves pages.</p>"
        "<pre>$ apachectl configtest\nSyntax OK</pre></body></html>",
    )
    document = load(folder / "guide.html")
    assert document.section_at(document.text.index("Apache")) == ["Network services", "Web"]
    assert "$ apachectl configtest\nSyntax OK" in document.text  # code keeps its lines

    assistant, answer = cited(folder, tmp_path, "10023", "Which port does postgrey listen on?")
    citation = answer.citations[0]
    assert citation.section == ["Network services", "Mail", "Greylisting"]
    assert citation.place() == "Network services › Mail › Greylisting"
    assert citation.page is None
    assert_exact(assistant, answer)


# -- Markdown: the text as written, headings from the Markdown structure --------------------------
def test_markdown_nested_headings_give_the_section_path(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write(
        folder / "notes.md",
        "# Setup\n\nInstall the tools first.\n\n## Database\n\n"
        "```\n# not a heading: a comment in code\n```\n\n"
        "### Backups\n\nThe backup job runs nightly at 02:15.\n\n## Cache\n\nRedis holds it.\n",
    )
    document = load(folder / "notes.md")
    assert document.text == (folder / "notes.md").read_text()  # offsets are the file's own
    code = document.text.index("# not a heading")
    assert document.section_at(code) == ["Setup", "Database"]
    assert document.section_at(document.text.index("Redis")) == ["Setup", "Cache"]

    assistant, answer = cited(folder, tmp_path, "02:15", "When does the backup job run?")
    assert answer.citations[0].section == ["Setup", "Database", "Backups"]
    assert_exact(assistant, answer)


# -- Word: paragraphs and headings ---------------------------------------------------------------
def test_word_headings_give_the_section_path(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write(
        folder / "report.docx",
        word_file(
            [
                ("Title", "Annual report"),
                ("Heading 1", "Finances"),
                ("Normal", "Revenue grew in the year."),
                ("Heading 2", "Costs"),
                ("Normal", "The Quillby office spent 4,200 euros on heating."),
                ("Heading 1", "Staff"),
                ("Normal", "Nine people joined."),
            ]
        ),
    )
    document = load(folder / "report.docx")
    assert document.section_at(document.text.index("Nine")) == ["Annual report", "Staff"]

    assistant, answer = cited(
        folder, tmp_path, "4,200", "How much did the Quillby office spend on heating?"
    )
    assert answer.citations[0].section == ["Annual report", "Finances", "Costs"]
    assert_exact(assistant, answer)


def test_a_damaged_word_file_is_skipped_with_a_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.docx", b"PK\x03\x04 not really a zip")
    result = parse(Found(file="bad.docx", path=path), path.read_bytes())
    assert isinstance(result, Skipped) and result.reason.startswith("cannot parse")


# -- text in other encodings ----------------------------------------------------------------------
ENCODED = [
    ("utf16.txt", "\ufeffThe café in Zürich opens at 7:30.".encode("utf-16"), "café in Zürich"),
    (
        "cp1252.txt",
        "The “Quillby” café charges 5 € for coffee – cheap.".encode("cp1252"),
        "“Quillby” café charges 5 €",
    ),
    (
        "latin1.txt",
        "Le musée de Quillby ouvre à 9 h, près de la rivière.".encode("latin-1"),
        "musée de Quillby ouvre à 9 h",
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), ENCODED, ids=[e[0] for e in ENCODED])
def test_text_in_other_encodings_is_read(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    folder = tmp_path / "docs"
    write(folder / name, data)
    assert expected in load(folder / name).text
    needle = expected.split()[-1]
    assistant, answer = cited(folder, tmp_path, needle, f"What about {expected}?")
    assert expected in answer.citations[0].quote
    assert_exact(assistant, answer)


def test_bytes_that_are_no_text_are_still_binary() -> None:
    assert decode(b"\x00\x01\x02binary\x00") is None
    assert decode("plain ascii".encode("utf-16-le")) is None  # NULs and no byte-order mark


# -- an index that keeps itself current -----------------------------------------------------------
def _edit(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 5_000_000_000, before + 5_000_000_000))  # surely a new mtime


def test_an_edited_file_answers_from_its_new_text_without_an_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    notes = write(folder / "notes.md", "# Opening\n\nThe Quillby library opens at 9:00.\n")
    write(folder / "other.txt", "The river parade is held in May.")
    assistant = fake_assistant(tmp_path, cite_sentence_with("opens at"), corpus=folder)
    question = "When does the Quillby library open?"
    assert "9:00" in assistant.ask(question, refresh=True).text

    _edit(notes, "# Opening\n\nThe Quillby library opens at 10:30 since June.\n")
    write(folder / "new.txt", "A new file about the Quillby bridge.")
    events = list(assistant.stream(question, refresh=True))
    notices = [e.text for e in events if e.kind == "notice"]
    assert len(notices) == 1 and notices[0].startswith("Re-indexed 2 files (new.txt, notes.md)")
    answer = events[-1].answer
    assert answer is not None and "10:30" in answer.text and "9:00" not in answer.text
    assert answer.notice == notices[0]
    assert_exact(assistant, answer)

    (folder / "other.txt").unlink()
    answer = assistant.ask(question, refresh=True)
    assert answer.notice is not None and "(other.txt)" in answer.notice
    assert "other.txt" not in assistant.manifest().files


def test_ask_without_refresh_only_says_the_index_is_out_of_date(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    notes = write(folder / "notes.txt", "The Quillby library opens at 9:00.")
    assistant = fake_assistant(tmp_path, cite_sentence_with("opens at"), corpus=folder)
    _edit(notes, "The Quillby library opens at 10:30.")
    answer = assistant.ask("When does the Quillby library open?")
    assert answer.notice is not None and answer.notice.startswith("The index is out of date: 1 ")
    assert "notes.txt" in answer.notice and "assistant ingest" in answer.notice


def test_a_touched_file_is_hashed_once_and_not_re_embedded(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    notes = write(folder / "notes.txt", "The Quillby library opens at 9:00.")
    write(folder / "empty.txt", "")
    assistant = fake_assistant(tmp_path, cite_sentence_with("opens at"), corpus=folder)
    old = time.time_ns() - 60_000_000_000  # settle the stamps outside the racy window
    for path in folder.iterdir():
        os.utime(path, ns=(old, old))
    assistant.ingest()
    assert assistant.pending_changes() == []  # the empty file is remembered as skipped
    os.utime(notes, ns=(old + 1_000, old + 1_000))  # touched, same bytes
    assert assistant.pending_changes() == ["notes.txt"]
    report = assistant.ingest()
    assert report.unchanged == ["notes.txt"] and report.passages_embedded == 0
    assert assistant.pending_changes() == []
    assert assistant.index_stats().last_ingest is not None  # kept when only stamps change


def test_progress_lines_say_how_far_and_how_long() -> None:
    line = ProgressLine()
    assert line("files", 3, 60) == "Reading files: 3 of 60"
    line("embedding", 0, 300)
    line.since -= 10  # ten seconds into the stage
    assert line("embedding", 100, 300) == "Embedding passages: 100 of 300, about 20 s left"
    assert line("keyword index", 0, 1) == "Building the keyword index"


def test_size_limit_is_given_in_one_unit(tmp_path: Path) -> None:
    from assistant.loading import read_bytes

    path = write(tmp_path / "big.txt", b"x" * 2_500_000)
    result = read_bytes(Found(file="big.txt", path=path), 2_000_000)
    assert isinstance(result, Skipped)
    assert result.reason == "too large (2.5 MB; the limit is 2 MB)"


def test_editing_a_file_while_the_ui_runs_answers_from_the_new_text(tmp_path: Path) -> None:
    from gradio_client import Client

    from tests.test_ui import reply_text, served

    folder = tmp_path / "docs"
    page = "# Library\n\n## Opening\n\nThe Quillby library opens at {}."
    notes = write(folder / "hours.md", page.format("9:00"))
    assistant = fake_assistant(tmp_path, cite_sentence_with("opens at"), corpus=folder)
    question = "When does the Quillby library open?"
    with served(assistant) as url:
        client = Client(url, verbose=False)
        first = reply_text(client.predict(question, api_name="/ask"))
        assert "9:00" in first and "hours.md · Library › Opening" in first  # the card's section
        _edit(notes, page.format("10:30 now"))
        second = reply_text(client.predict(question, api_name="/ask"))
    assert "10:30" in second and "9:00" not in second
    assert "Re-indexed 1 file (hours.md)" in second


def test_a_heading_is_text_in_the_page_never_markup(tmp_path: Path) -> None:
    from assistant.ui import render_answer

    folder = tmp_path / "docs"
    write(folder / "x.md", "# <img src=x onerror=alert(1)>\n\nThe Quillby gate opens at 8:00.\n")
    _, answer = cited(folder, tmp_path, "8:00", "When does the Quillby gate open?")
    assert answer.citations[0].section == ["<img src=x onerror=alert(1)>"]
    page = render_answer(answer)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
