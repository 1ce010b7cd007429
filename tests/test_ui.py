"""The web UI without a browser: exposure rules, upload names, the source viewer, the chat API."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.schema import Answer, Citation, Document, IngestReport, Skipped
from assistant.settings import Settings
from assistant.ui import (
    UploadRejected,
    check_exposure,
    history_turns,
    launch,
    render_answer,
    render_ingest,
    render_source,
    safe_name,
    serve,
    source_html,
    store_upload,
)
from tests.support import FakeEncoder, seeded_assistant

ARIHA = "How many civilians were killed in the Ariha market attack?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(assistant: Assistant) -> Iterator[str]:
    """The app on 127.0.0.1 at a free port, closed on exit; yields its URL."""
    port = free_port()
    app = serve(assistant, "127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def reply_text(result: object) -> str:
    """The /ask endpoint returns the chat reply, then the status panel (an extra output)."""
    return str(result[0] if isinstance(result, (list, tuple)) else result)


# -- exposure (the password itself: tests/test_hostile_auth.py) ------------------------------
def test_other_host_without_auth_refuses_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        launch(host="0.0.0.0", port=free_port())
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "0.0.0.0" in err and "--auth-file FILE" in err
    assert err.count("\n") == 1  # one clear sentence, no trace


def test_local_host_needs_no_auth() -> None:
    assert check_exposure("127.0.0.1", None) is None
    assert check_exposure("localhost", None) is None


# -- uploads -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\Windows\\win.ini.TXT", "win.ini.txt"),
        ("/abs/path/report.md", "report.md"),
        (".hidden.md", "hidden.md"),
        ("..", "document"),
        ("notes<script>.html", "notes_script.html"),
        ("a\x00b.txt", "a_b.txt"),
        ("Rapport  été (v2).pdf", "Rapport été (v2).pdf"),
    ],
)
def test_safe_name_keeps_a_plain_basename(original: str, expected: str) -> None:
    assert safe_name(original) == expected


def test_upload_with_traversal_name_stays_in_the_corpus(tmp_path: Path, settings: Settings) -> None:
    src = tmp_path / "upload.txt"
    src.write_text("A harmless note.")
    assert store_upload(src, "../../etc/passwd.txt", settings) == "passwd.txt"
    target = settings.corpus_dir / "passwd.txt"
    assert target.read_text() == "A harmless note."
    assert target.resolve().parent == settings.corpus_dir.resolve()
    assert not (tmp_path / "etc").exists()


def test_upload_never_replaces_a_different_file(tmp_path: Path, settings: Settings) -> None:
    existing = settings.corpus_dir / "000_6e9e46d24ddb9ba8.txt"
    before = existing.read_bytes()
    src = tmp_path / "new.txt"
    src.write_text("Different content.")
    assert store_upload(src, existing.name, settings) == "000_6e9e46d24ddb9ba8-2.txt"
    assert existing.read_bytes() == before
    files = sorted(settings.corpus_dir.iterdir())
    # The same bytes again: the copy already there is reused, nothing new is written.
    assert store_upload(src, existing.name, settings) == "000_6e9e46d24ddb9ba8-2.txt"
    assert sorted(settings.corpus_dir.iterdir()) == files


def test_upload_does_not_write_through_a_symlink(tmp_path: Path, settings: Settings) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (settings.corpus_dir / "link.txt").symlink_to(outside)
    src = tmp_path / "up.txt"
    src.write_text("new text")
    assert store_upload(src, "link.txt", settings) == "link-2.txt"
    assert outside.read_text() == "keep me"


@pytest.mark.parametrize("name", ["tool.exe", "script.sh", "archive.tar.gz", "README"])
def test_disallowed_types_are_rejected(name: str, tmp_path: Path, settings: Settings) -> None:
    src = tmp_path / "x"
    src.write_bytes(b"data")
    with pytest.raises(UploadRejected, match="not accepted"):
        store_upload(src, name, settings)
    assert not any(p.name.startswith(Path(name).stem) for p in settings.corpus_dir.iterdir())


def test_too_large_upload_is_rejected(tmp_path: Path, corpus: Path) -> None:
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", max_file_mb=0.001)
    src = tmp_path / "big.txt"
    src.write_text("x" * 5000)
    with pytest.raises(UploadRejected, match="too large"):
        store_upload(src, "big.txt", settings)


def test_ingest_result_says_what_happened_to_each_upload() -> None:
    report = IngestReport(
        added=["a-2.txt"],
        unchanged=["b.txt", "seed.txt"],
        skipped=[Skipped(file="bad<x>.pdf", reason="cannot parse: damaged")],
    )
    out = render_ingest(
        {"a-2.txt": "a.txt", "b.txt": "b.txt"},
        [("x.exe", "file type '.exe' is not accepted")],
        report,
    )
    assert "<b>Added</b><ul><li>a-2.txt <i>(uploaded as a.txt)</i></li></ul>" in out
    assert "<b>Already in the library</b><ul><li>b.txt</li></ul>" in out
    assert "seed.txt" not in out  # untouched documents are not listed
    assert "x.exe: file type" in out and "bad&lt;x&gt;.pdf: cannot parse: damaged" in out


# -- rendering ---------------------------------------------------------------------------------
def test_answer_markers_become_buttons_and_text_is_escaped() -> None:
    cite = Citation(file="a<b>.txt", start=3, end=9, quote="<i>49</i> killed", line=2)
    answer = Answer(
        question="q",
        text="<b>49</b> people died. [1] [7]",
        citations=[cite],
        backend="embedded",
        model="m.gguf",
    )
    out = render_answer(answer)
    assert "&lt;b&gt;49&lt;/b&gt;" in out and "<b>49</b>" not in out
    assert out.count('class="cite opens-source"') == 1 and "[7]" in out  # no citation 7
    assert "a&lt;b&gt;.txt" in out and "&lt;i&gt;49&lt;/i&gt;" in out
    assert "embedded" in out and "m.gguf" in out
    assert history_turns(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": out}]
    ) == [("q", "<b>49</b> people died. [1] [7]")]


def test_abstention_and_conflict_are_notes_not_errors() -> None:
    lead = Citation(file="f.txt", start=0, end=4, quote="near", line=1)
    abstained = render_answer(
        Answer(question="q", text="The documents do not say.", abstained=True, leads=[lead])
    )
    assert 'class="note"' in abstained and "error" not in abstained
    assert "Nearest passages" in abstained
    conflict = render_answer(
        Answer(
            question="q",
            text="The sources differ. A [1]. B [2].",
            conflict=True,
            citations=[lead, lead],
        )
    )
    assert "note conflict" in conflict and "The sources differ." in conflict


def test_source_is_escaped_and_marked() -> None:
    text = "line one\n<script>alert(1)</script> 49 civilians & more"
    start = text.index("49")
    out = render_source(Document(file="x.txt", text=text, sha256=""), start, start + 12, "[1]")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert '<mark id="source-mark">49 civilians</mark>' in out and "line 2" in out


# -- against a real index ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return seeded_assistant(tmp_path_factory.mktemp("ui"), encoder=FakeEncoder())


def test_source_viewer_refuses_files_that_are_not_indexed(indexed: Assistant) -> None:
    corpus = indexed.settings.corpus_dir
    (corpus / "secret.txt").write_text("not indexed yet")
    for file in ["../../etc/passwd", "/etc/passwd", "secret.txt", ""]:
        out = source_html(indexed, file, 0, 10, "[1]")
        assert "not an indexed document" in out and "<mark" not in out
    assert "root:" not in source_html(indexed, "../../../../../../etc/passwd", 0, 50, "")
    ok = source_html(indexed, "003_52a8f228d6ea1ced.txt", 2092, 2262, "[1]")
    assert "<mark" in ok and "49 civilians" in ok
    forged = source_html(indexed, "003_52a8f228d6ea1ced.txt", "x", 5, "")
    assert "could not be opened" in forged


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(seeded_assistant(tmp_path_factory.mktemp("ui-real"))) as url:
        yield url


@pytest.mark.integration
def test_chat_api_answers_through_gradio_client(app_url: str) -> None:
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    reply = reply_text(client.predict(ARIHA, api_name="/ask"))
    assert "49" in reply and "opens-source" in reply  # a cited answer, markers included
    assert "Traceback" not in reply


@pytest.fixture
def broken_backend(indexed: Assistant) -> Iterator[str]:
    """The same index, with the Ollama backend pointed at a port where nothing listens."""
    settings = indexed.settings.model_copy(
        update={"backend": "ollama", "ollama_host": "http://127.0.0.1:9"}
    )
    port = free_port()
    app = serve(Assistant(settings, encoder=FakeEncoder()), "127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def test_backend_errors_are_a_sentence_in_the_chat(broken_backend: str) -> None:
    from gradio_client import Client

    reply = reply_text(Client(broken_backend, verbose=False).predict(ARIHA, api_name="/ask"))
    assert "Could not answer." in reply and "note error" in reply
    assert "Traceback" not in reply and "Error(" not in reply
