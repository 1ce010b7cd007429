"""The chat web UI: ask questions, open the passage behind each citation, add documents.

Every answer and source is HTML built here from escaped text; questions are shown as escaped
text too (`text_questions_chatbot`). A citation marker or source card
carries its file and character span as JSON in its `value` attribute; one document-level click
listener (installed by the source panel) sends those to Python, which reads the passage through
`Assistant.document_text` (indexed files only) and renders it with the span in a <mark>.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import gradio as gr

from assistant.api import Assistant
from assistant.errors import AssistantError
from assistant.ingest import ProgressLine
from assistant.schema import Answer, Citation, Document, IngestReport
from assistant.settings import Settings, load_settings

log = logging.getLogger(__name__)

# Example questions about the shipped seeds/, offered only when exactly those are indexed.
SEED_EXAMPLES = [
    "How many civilians were killed in the Ariha market attack?",
    "When did Russia start its air strikes in Syria?",
    "Who is Philip Luther?",
]
SHIPPED_SEEDS = Path(__file__).resolve().parent.parent / "seeds"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
CSS = (Path(__file__).with_name("ui.css")).read_text(encoding="utf-8")
THEME = gr.themes.Soft(primary_hue="teal", neutral_hue="slate")
SOURCE_WINDOW = 12_000  # characters shown either side of a passage in a very long document
EMPTY_SOURCE = (
    "<div class='source-empty'><b>Sources appear here.</b><br>Click a numbered marker such as "
    "<span class='cite'>[1]</span> in an answer, or a source card under it, to read the passage "
    "in its document, highlighted.</div>"
)

# Installed once per page by the source panel. Capture phase, so the chatbot's own click
# handling (message selection, copy) never swallows a click on a marker, and Gradio's own
# submit handling never sees Enter on an empty question box.
SOURCE_JS = """
window.__assistantOpenSource = trigger;
if (!window.__assistantCiteClicks) {
  window.__assistantCiteClicks = true;
  document.addEventListener("click", (event) => {
    const el = event.target instanceof Element ? event.target.closest("button.opens-source") : null;
    if (!el) return;
    event.preventDefault();
    event.stopPropagation();
    try { window.__assistantOpenSource("click", JSON.parse(el.value)); } catch (e) {}
  }, true);
}
// Enter (or the send button) on an empty question box does nothing: without this, Gradio adds
// an empty bubble and a reply to it.
if (!window.__assistantBlankGuard) {
  window.__assistantBlankGuard = true;
  const blank = (el) => {
    const box = el instanceof Element ? el.closest("#question") : null;
    const text = box ? box.querySelector("textarea") : null;
    return text !== null && text.value.trim() === "";
  };
  const onKey = (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && blank(event.target)) {
      event.preventDefault();
      event.stopPropagation();
    }
  };
  document.addEventListener("keydown", onKey, true);
  document.addEventListener("keypress", onKey, true);
  document.addEventListener("click", (event) => {
    const el = event.target instanceof Element ? event.target : null;
    const send = el ? el.closest("#question button.submit-button") : null;
    if (send && blank(send)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
}
watch("value", () => {
  const mark = element.querySelector("mark");
  if (mark) mark.scrollIntoView({block: "center"});
});
"""


# -- rendering (pure functions: text in, escaped HTML out) -------------------------------------
_CONTROL = str.maketrans({"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _e(text: object) -> str:
    """Text as HTML text. Line breaks become character references too: chat messages are one
    HTML block each, and a blank line would end the block and start Markdown again."""
    return html.escape(str(text), quote=True).translate(_CONTROL)


QUESTION_OPEN, QUESTION_CLOSE = '<div class="question">', "</div>"


def render_question(question: str) -> str:
    """A question as the page shows it: escaped text, never markup."""
    return QUESTION_OPEN + _e(question).replace("&#10;", "<br>") + QUESTION_CLOSE


def question_text(shown: str) -> str:
    """The inverse of `render_question`, for what the page sends back."""
    if shown.startswith(QUESTION_OPEN) and shown.endswith(QUESTION_CLOSE):
        inner = shown[len(QUESTION_OPEN) : -len(QUESTION_CLOSE)]
        return html.unescape(inner.replace("<br>", "\n"))
    return shown


def _cite_attrs(c: Citation, label: str) -> str:
    # The chatbot's sanitiser drops data-* attributes but keeps a button's `value`.
    where = json.dumps({"file": c.file, "start": c.start, "end": c.end, "label": label})
    return f'value="{_e(where)}"'


def _card(c: Citation, label: str) -> str:
    quote = " ".join(c.quote.split())  # one compact paragraph; the panel shows the layout
    quote = quote if len(quote) <= 220 else quote[:220].rstrip() + "…"
    num = f'<span class="num">{_e(label)}</span>' if label else ""
    return (
        f'<button type="button" class="card opens-source" {_cite_attrs(c, label)}>'
        f'<span class="card-head">{num}{_e(c.file)} · {_e(c.place())}</span>'
        f'<span class="card-quote">“{_e(quote)}”</span></button>'
    )


def render_answer(answer: Answer) -> str:
    """The verified answer: markers become buttons; abstentions and conflicts are plain notes."""
    cites = answer.citations

    def marker(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if not 1 <= n <= len(cites):
            return m.group(0)
        c = cites[n - 1]
        return (
            f'<button type="button" class="cite opens-source" {_cite_attrs(c, f"[{n}]")} '
            f'title="{_e(c.file)}, {_e(c.place())}">[{n}]</button>'
        )

    text = answer.text
    parts: list[str] = []
    if answer.notice:
        parts.append(f'<div class="note">{_e(answer.notice)}</div>')
    if answer.conflict:
        text = text.removeprefix("The sources differ.").strip()
        parts.append(
            '<div class="note conflict"><b>The sources differ.</b>'
            '<span class="hint">Compare the passages below before relying on '
            "one figure.</span></div>"
        )
    body = re.sub(r"\[(\d+)\]", marker, _e(text)).replace("&#10;", "<br>")
    if answer.abstained:
        parts.append(
            f'<div class="note"><div class="answer-text">{body}</div><span class="hint">'
            "Nothing in the indexed documents supports an answer.</span></div>"
        )
    else:
        parts.append(f'<div class="answer-text">{body}</div>')
    if cites:
        parts.append(
            '<div class="sources-title">Sources</div><div class="sources">'
            + "".join(_card(c, f"[{n}]") for n, c in enumerate(cites, 1))
            + "</div>"
        )
    if answer.leads:
        parts.append(
            '<div class="sources-title">Nearest passages (not evidence)</div>'
            '<div class="sources">' + "".join(_card(c, "") for c in answer.leads) + "</div>"
        )
    total = answer.timings.get("total_s")
    took = f" · {total:.1f} s" if total else ""
    read = ""
    if answer.evidence:
        files = len({e.file for e in answer.evidence})
        read = (
            f" · read {len(answer.evidence)} sentences in {files} file{'s' if files > 1 else ''},"
            f" cited {len(cites)}"
        )
    parts.append(
        f'<div class="meta">Answered by {_e(answer.backend)} · {_e(answer.model)}{took}{read}</div>'
    )
    return "".join(parts)


def render_error(message: str, hint: str = "") -> str:
    extra = f'<span class="hint">{_e(hint)}</span>' if hint else ""
    return f'<div class="note error"><b>Could not answer.</b> {_e(message)}{extra}</div>'


def render_draft(status: str, draft: str, reading: Sequence[Citation] = ()) -> str:
    """The answer in progress: the draft (or the status), then the evidence being read."""
    if not draft:
        head = f'<div class="pending">{_e(status)}…</div>'
    else:
        head = (
            f'<div class="draft"><span class="draft-label">Draft, checking it against the '
            f"sources…</span>{_e(draft)}</div>"
        )
    if not reading:
        return head
    return (
        head
        + f'<div class="sources-title">Reading {len(reading)} sentences</div>'
        + '<div class="sources reading">'
        + "".join(_card(c, "") for c in reading)
        + "</div>"
    )


def render_source(document: Document, start: int, end: int, label: str) -> str:
    """The cited page or section of the document (the whole text when it has neither), escaped,
    with [start:end] in a <mark>; very long stretches are windowed around the span."""
    text = document.text
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    page_lo, page_hi = document.bounds_at(start)
    lo = max(page_lo, start - SOURCE_WINDOW)
    hi = min(max(page_hi, end), end + SOURCE_WINDOW)
    line = text.count("\n", 0, start) + 1
    where = [f"line {line}"]
    if (page := document.page_at(start)) is not None:
        where.insert(0, f"page {page} of {len(document.pages)}")
    elif section := document.section_at(start):
        where.insert(0, " › ".join(section))
    what = f"cited passage {label}" if label.startswith("[") else "nearest passage"
    clip = ""
    if lo > 0 or hi < len(text):
        part = ""
        if (lo, hi) == (page_lo, max(page_hi, end)):  # not windowed: the whole page or section
            part = "the cited page, " if document.pages else "the cited section, "
        clip = (
            f'<div class="source-clip">Showing {part}characters {lo:,}–{hi:,} of '
            f"{len(text):,}.</div>"
        )
    return (
        f'<div class="source-head"><b>{_e(document.file)}</b> · {_e(" · ".join(where))} · '
        f'<span class="kind">{_e(what)}</span></div>'
        f'<div class="source-doc" id="source-doc">{"…" if lo else ""}{_e(text[lo:start])}'
        f'<mark id="source-mark">{_e(text[start:end])}</mark>{_e(text[end:hi])}'
        f"{'…' if hi < len(text) else ''}</div>{clip}"
    )


def render_status(assistant: Assistant, answer: Answer | None = None) -> str:
    try:
        stats = assistant.index_stats()
    except AssistantError as exc:
        return f'<div class="status"><span class="warn">Index unavailable: {_e(exc)}</span></div>'
    if stats.files:
        library = (
            f"<span><b>Library</b> {stats.files} documents · {stats.passages} passages"
            f" · indexed {_e(stats.last_ingest or 'never')}</span>"
        )
    else:
        library = '<span class="warn"><b>Library</b> empty: add documents below</span>'
    if answer is not None:
        model = f"<span><b>Model</b> {_e(answer.backend)} · {_e(answer.model)}</span>"
    elif not assistant.ready.is_set():
        model = '<span class="warn"><b>Model</b> loading in the background…</span>'
    else:
        model = (
            f"<span><b>Model</b> {_e(assistant.settings.backend)} backend (no answer yet)</span>"
        )
    return f'<div class="status">{library}{model}</div>'


def render_ingest(
    saved: dict[str, str], rejected: list[tuple[str, str]], report: IngestReport | None
) -> str:
    """What happened to each upload. `saved` maps a name in the corpus to the uploaded name."""

    def named(file: str) -> str:
        renamed = saved.get(file, file) != file
        return _e(file) + (f" <i>(uploaded as {_e(saved[file])})</i>" if renamed else "")

    skipped = [f"{_e(name)}: {_e(reason)}" for name, reason in rejected]
    groups: list[tuple[str, list[str]]] = []
    if report is not None:
        skipped += [f"{_e(s.file)}: {_e(s.reason)}" for s in report.skipped]
        groups += [
            ("Added", [named(f) for f in report.added]),
            ("Updated", [named(f) for f in report.updated]),
            ("Removed (no longer in the folder)", [named(f) for f in report.removed]),
            ("Already in the library", [named(f) for f in saved if f in report.unchanged]),
        ]
    groups.append(("Skipped", skipped))
    rows = [
        f"<b>{title}</b><ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"
        for title, items in groups
        if items
    ]
    if report is not None and report.notice:
        rows.insert(0, f'<div class="note">{_e(report.notice)}</div>')
    return '<div class="ingest">' + ("".join(rows) or "Nothing to add.") + "</div>"


def source_html(
    assistant: Assistant, file: object, start: object, end: object, label: object
) -> str:
    """The source panel for a clicked citation; the values come from the browser, so distrust."""
    try:
        span = int(str(start)), int(str(end))
        document = assistant.document(str(file))  # refuses anything the index does not name
    except AssistantError as exc:  # before ValueError: some are both (an unreadable document)
        return f'<div class="note error">{_e(exc)}</div>'
    except ValueError:
        return '<div class="note error">That citation could not be opened.</div>'
    except OSError:
        return f'<div class="note error">{_e(file)} can no longer be read.</div>'
    return render_source(document, *span, str(label))


# -- uploads --------------------------------------------------------------------------------------
class UploadRejected(AssistantError, ValueError):
    """One upload refused, with the reason; the others still go in."""


def safe_name(original: str) -> str:
    """A plain file name for the corpus folder: basename only, no hidden or odd characters."""
    name = unicodedata.normalize("NFKC", re.split(r"[\\/]", original)[-1])
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = re.sub(r"[^\w .()-]+", "_", stem)
    stem = re.sub(r"\s+", " ", stem).strip(" ._-")[:100] or "document"  # no ".hidden" files
    ext = re.sub(r"[^\w]+", "", ext).lower()[:10]
    return f"{stem}.{ext}" if ext else stem


def store_upload(src: Path, original: str, settings: Settings) -> str:
    """Copy one upload into the corpus folder and return its name there. An existing file is
    never replaced: the same bytes are reused, different bytes get a new name ("x-2.txt")."""
    name = safe_name(original)
    suffix = Path(name).suffix.lower()
    allowed = [t.lower() for t in settings.upload_types]
    if suffix not in allowed:
        raise UploadRejected(
            f"file type '{suffix or '(none)'}' is not accepted (allowed: {', '.join(allowed)})"
        )
    try:
        size = src.stat().st_size
        if size > settings.max_file_bytes:
            raise UploadRejected(
                f"too large ({size / 1e6:.1f} MB; the limit is {settings.max_file_mb:g} MB)"
            )
        return _store(src, name, suffix, settings)
    except OSError as exc:
        raise UploadRejected(
            f"cannot be saved in the document folder ({exc.strerror or type(exc).__name__})"
        ) from exc


def _store(src: Path, name: str, suffix: str, settings: Settings) -> str:
    data = src.read_bytes()
    corpus = settings.corpus_dir.resolve()
    corpus.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        candidate = name if n == 1 else f"{Path(name).stem}-{n}{suffix}"
        if Path(candidate).name != candidate or candidate in {".", ".."}:  # belt and braces
            raise UploadRejected("unsafe file name")
        target = corpus / candidate
        try:
            with open(target, "xb") as out:  # "x": fails rather than overwrite (or follow a link)
                out.write(data)
            return candidate
        except FileExistsError:
            if not target.is_symlink() and target.is_file() and target.read_bytes() == data:
                return candidate
    raise UploadRejected("too many files with this name already")


def _hint(assistant: Assistant) -> str:
    """The error sentences name CLI commands; in the UI an empty library has a nearer fix."""
    try:
        empty = assistant.index_stats().files == 0
    except AssistantError:
        empty = False
    return "Add documents with “Add documents” on the right." if empty else ""


# -- the chat history Gradio keeps -> (question, answer text) turns for follow-ups ---------------
def _plain(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return " ".join(_plain(part) for part in content)
    return ""


def history_turns(history: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Only verified answers count as turns; errors and drafts are left out."""
    turns: list[tuple[str, str]] = []
    question = ""
    for message in history:
        text = _plain(message.get("content"))
        if message.get("role") == "user":
            question = text
            continue
        m = re.search(r'<div class="answer-text">(.*?)</div>', text, re.S)
        if question and m:
            answer = html.unescape(re.sub(r"<[^>]+>", "", m.group(1).replace("<br>", "\n")))
            turns.append((question, answer))
        question = ""
    return turns


# -- the chat component ---------------------------------------------------------------------------
def text_questions_chatbot(**kwargs: Any) -> gr.Chatbot:
    """A Chatbot that shows what the user typed as text.

    Gradio renders every message as (sanitised) HTML, and its sanitiser keeps <img src>, so a
    question could make the browser fetch a URL. Here user messages are escaped on the way to
    the page (`render_question`) and unescaped on the way back, so the Python side (history,
    retry, undo) always holds the typed text. Answers are HTML built by this module from
    escaped text. Markdown and LaTeX rendering are off: nothing in a message is markup but the
    tags this module writes.

    The two conversions are bound to this one instance: a subclass of a Gradio component would
    make Gradio write a .pyi file beside this module at import time.
    """
    chat = gr.Chatbot(render_markdown=False, latex_delimiters=[], **kwargs)
    to_page, from_page = chat.postprocess, chat.preprocess

    def postprocess(value: Any) -> Any:
        if value is not None:
            value = [_map_user_text(m, render_question) for m in value]
        return to_page(value)

    def preprocess(payload: Any) -> Any:
        return [_map_user_text(m, question_text) for m in from_page(payload)]

    chat.postprocess = postprocess  # type: ignore[method-assign]
    chat.preprocess = preprocess  # type: ignore[method-assign]
    return chat


def _map_user_text(message: Any, fn: Callable[[str], str]) -> Any:
    if not isinstance(message, dict) or message.get("role") != "user":
        return message

    def part(content: Any) -> Any:
        if isinstance(content, str):
            return fn(content)
        if isinstance(content, dict) and content.get("type") == "text":
            return {**content, "text": fn(str(content.get("text", "")))}
        return content

    content = message.get("content")
    mapped = [part(c) for c in content] if isinstance(content, list) else part(content)
    return {**message, "content": mapped}


# -- the app --------------------------------------------------------------------------------------
def example_questions(assistant: Assistant) -> list[str]:
    """The seed examples when the index holds exactly the shipped seeds, else none: questions
    about Syria mean nothing over someone else's folder."""
    import hashlib

    try:
        indexed = {f: e.sha256 for f, e in assistant.manifest().files.items()}
        shipped = {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SHIPPED_SEEDS.glob("*.txt")
        }
    except (AssistantError, OSError):
        return []
    return SEED_EXAMPLES if shipped and indexed == shipped else []


def build_app(assistant: Assistant) -> gr.Blocks:
    settings = assistant.settings

    def respond(message: str, history: list[dict[str, Any]]) -> Iterator[tuple[str, Any]]:
        status, draft, reading = "Starting", "", []
        try:
            # refresh: files edited, added or removed since the last ingestion are re-read first
            for event in assistant.stream(message, history_turns(history), refresh=True):
                if event.kind in {"status", "notice"}:
                    status = event.text
                elif event.kind == "reading":
                    reading = event.reading
                elif event.kind == "token":
                    draft += event.text
                elif event.answer is not None:  # the verified answer replaces the draft
                    yield render_answer(event.answer), render_status(assistant, event.answer)
                    return
                yield render_draft(status, draft, reading), gr.skip()
        except AssistantError as exc:
            yield render_error(str(exc), _hint(assistant)), render_status(assistant)
        except Exception:  # a bug must not reach the page as a trace; the log keeps it
            log.exception("answering failed")
            yield (
                render_error(
                    "Something went wrong while answering; the server log has the details."
                ),
                gr.skip(),
            )

    def open_source(evt: gr.EventData) -> str:
        return source_html(
            assistant,
            getattr(evt, "file", ""),
            getattr(evt, "start", 0),
            getattr(evt, "end", 0),
            getattr(evt, "label", ""),
        )

    def add_documents(
        paths: list[str] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (how Gradio injects a progress bar)
    ) -> tuple[str, str, None]:
        saved: dict[str, str] = {}
        rejected: list[tuple[str, str]] = []
        for path in paths or []:
            original = Path(path).name  # Gradio keeps the uploaded name as the temp file's name
            try:
                saved[store_upload(Path(path), original, settings)] = original
            except UploadRejected as exc:
                rejected.append((original, str(exc)))
        report = None
        if saved:
            line = ProgressLine()

            def on_progress(stage: str, done: int, total: int) -> None:
                progress((done, max(total, 1)), desc=line(stage, done, total))

            try:
                report = assistant.ingest(progress=on_progress)  # incremental: changed files only
            except AssistantError as exc:
                return render_error(str(exc)), render_status(assistant), None
        return render_ingest(saved, rejected, report), render_status(assistant), None

    limit = f"{settings.max_file_mb:g} MB"
    with gr.Blocks(title="Ask your documents", analytics_enabled=False) as app:
        # Created first (unrendered) because the chat updates it, and placed in the side column.
        status = gr.HTML(render_status(assistant), render=False, elem_id="status")
        with gr.Row(elem_id="app-header"):
            gr.HTML(
                "<h1>Ask your documents</h1><p>Answers come only from your files, and every "
                "claim links to the passage it came from.</p>"
            )
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=420):
                chatbot = text_questions_chatbot(
                    elem_id="chat",
                    show_label=False,
                    height=620,
                    feedback_options=None,
                    placeholder="<b>Ask a question about your documents.</b><br>"
                    "Click a numbered marker in an answer to see its source.",
                )
                gr.ChatInterface(
                    respond,
                    chatbot=chatbot,
                    examples=example_questions(assistant) or None,
                    api_name="ask",
                    textbox=gr.Textbox(
                        elem_id="question",
                        placeholder="Ask about your documents…",
                        show_label=False,
                        submit_btn=True,
                        stop_btn=True,
                        lines=1,
                        max_lines=6,
                    ),
                    additional_outputs=[status],
                    fill_height=False,
                    flagging_mode="never",
                    save_history=False,
                )
            with gr.Column(scale=4, min_width=340):
                status.render()
                source = gr.HTML(
                    EMPTY_SOURCE,
                    js_on_load=SOURCE_JS,
                    elem_id="source-panel",
                    label="Source",
                    padding=True,
                    container=True,
                )
                with gr.Accordion("Add documents", open=False, elem_id="add-documents"):
                    files = gr.File(
                        label=f"{', '.join(settings.upload_types)} · up to {limit} each",
                        file_count="multiple",
                        file_types=list(settings.upload_types),
                        type="filepath",
                        elem_id="upload",
                        height=120,
                    )
                    ingest_result = gr.HTML(elem_id="ingest-result")
        source.click(
            open_source, None, source, show_progress="hidden", api_visibility="undocumented"
        )
        chatbot.clear(lambda: EMPTY_SOURCE, None, source, api_visibility="undocumented")
        files.upload(
            add_documents, files, [ingest_result, status, files], api_visibility="undocumented"
        )
        app.load(lambda: render_status(assistant), None, status, api_visibility="undocumented")
        # Until the model has loaded, the status line says so and is refreshed.
        loading = gr.Timer(1.0, active=not assistant.ready.is_set())
        loading.tick(
            lambda: (render_status(assistant), gr.Timer(active=not assistant.ready.is_set())),
            None,
            [status, loading],
            show_progress="hidden",
            api_visibility="undocumented",
        )
    return app


# -- serving --------------------------------------------------------------------------------------
MIN_PASSWORD = 12
Credentials = tuple[str, str]
PasswordCheck = Callable[[str, str], Awaitable[bool]]


def _refuse(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(2)


def check_exposure(host: str, credentials: Credentials | None) -> None:
    """Refuse (exit 2) to serve beyond this machine without a password."""
    if host not in LOCAL_HOSTS and credentials is None:
        _refuse(
            f"Refusing to serve on {host} without a password: add --auth-file FILE (a file "
            "only you can read holding USER:PASSWORD), or use --host 127.0.0.1 to keep the UI "
            "on this machine."
        )


def load_credentials(path: Path) -> Credentials:
    """USER:PASSWORD from a file only its owner can read; the password has at least
    MIN_PASSWORD characters. Anything else exits 2 with one sentence (never the password)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _refuse(f"The auth file {path} cannot be read ({getattr(exc, 'strerror', None) or exc}).")
    if mode & 0o077:
        _refuse(f"The auth file {path} can be read by other users; run `chmod 600 {path}`.")
    lines = text.splitlines()
    user, sep, password = (lines[0] if len(lines) == 1 else "").partition(":")
    user = user.strip()  # Gradio strips the name typed at the login form
    if not (sep and user and password):
        _refuse(f"The auth file {path} must hold one line USER:PASSWORD.")
    if len(password) < MIN_PASSWORD:
        _refuse(
            f"The password in {path} is too short ({len(password)} characters); use at least "
            f"{MIN_PASSWORD}."
        )
    return user, password


def password_check(
    credentials: Credentials, base_delay: float = 0.25, max_delay: float = 4.0
) -> PasswordCheck:
    """The login check Gradio awaits: constant-time comparison, and after each failure for a
    name the next attempt for it waits twice as long (base_delay, 2x, ... up to max_delay).
    Attempts for one name queue up, so a parallel burst is no faster; every wrong name shares
    one count, so the memory stays bounded and guessing names is throttled too. Waiting is
    asyncio.sleep: the server keeps serving everyone else meanwhile."""
    user, password = (c.encode() for c in credentials)
    failures: dict[bool, int] = {}  # True: the right name; False: any other
    locks: dict[bool, asyncio.Lock] = {}

    async def check(username: str, given: str) -> bool:
        right_name = hmac.compare_digest(username.encode(), user)
        async with locks.setdefault(right_name, asyncio.Lock()):
            failed = failures.get(right_name, 0)
            if failed:
                await asyncio.sleep(min(max_delay, base_delay * 2 ** (failed - 1)))
            ok = hmac.compare_digest(given.encode(), password) and right_name
            failures[right_name] = 0 if ok else failed + 1
            return ok

    return check


def serve(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int = 7860,
    credentials: Credentials | None = None,
    *,
    block: bool = True,
) -> gr.Blocks:
    """Build and start the app (tests use block=False and call .close() on the result)."""
    check_exposure(host, credentials)
    assistant.start_warm_up()  # so the first question costs what any question costs
    app = build_app(assistant)
    app.queue(default_concurrency_limit=1)  # one llama.cpp model: answer one question at a time
    app.launch(
        server_name=host,
        server_port=port,
        # Gradio awaits an async check (its type hint names only the sync kind)
        auth=password_check(credentials) if credentials else None,  # type: ignore[arg-type]
        share=False,
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        theme=THEME,
        css=CSS,
        max_file_size=assistant.settings.max_file_bytes,
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,
        run_history=False,
        footer_links=["api", "settings"],
    )
    shown = f"[{host}]" if ":" in host else host
    print(f"Assistant UI running at http://{shown}:{port}  (Ctrl-C to stop)", flush=True)
    if block:
        app.block_thread()
    return app


def launch(
    host: str = "127.0.0.1",
    port: int = 7860,
    auth_file: Path | None = None,
    *,
    auth: str | None = None,
) -> None:
    """`assistant ui`. `auth` is the old --auth USER:PASS, refused: argv is visible in `ps`."""
    if auth is not None:
        _refuse(
            "--auth USER:PASS puts the password where every user of this machine can see it "
            "(ps, shell history); write USER:PASSWORD to a file only you can read (chmod 600) "
            "and pass --auth-file FILE."
        )
    credentials = load_credentials(auth_file) if auth_file is not None else None
    check_exposure(host, credentials)  # before loading anything
    try:
        settings = load_settings()  # defaults, assistant.toml, ASSISTANT_*
    except AssistantError as exc:
        for line in str(exc).splitlines():
            print(f"Error: {line}", file=sys.stderr)
        sys.exit(1)
    serve(Assistant(settings), host, port, credentials)
