"""files -> Document: walk a folder safely and read each supported file as text.

Bad files never stop ingestion: each is reported as `Skipped` with a reason a person understands.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import logging
import os
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from assistant.errors import DocumentUnavailableError
from assistant.schema import Document, Section, Skipped

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}


@dataclass(frozen=True)
class Found:
    """A candidate file: its name relative to the root and its real path."""

    file: str
    path: Path


def walk(root: Path) -> tuple[list[Found], list[Skipped]]:
    """Every regular file below `root`, following only symlinks that stay inside it, once."""
    root = root.resolve()
    found: dict[Path, tuple[Found, bool]] = {}  # real path -> (file, reached through a link)
    skipped: list[Skipped] = []
    seen_dirs: set[Path] = {root}

    def visit(directory: Path, rel: str) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(file=rel or ".", reason=f"cannot read folder: {exc.strerror}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue  # hidden files and folders (.git, .DS_Store) are never documents
            name = f"{rel}/{entry.name}" if rel else entry.name
            path = Path(entry.path)
            # `directory` is already a real path, so only a link needs resolving; the scandir
            # entry knows a plain file's type without another system call (this walk runs
            # before every answer, to notice edits).
            real, is_dir, is_file = path, entry.is_dir(), entry.is_file()
            if entry.is_symlink():
                real = path.resolve()
                if not real.is_relative_to(root):
                    skipped.append(Skipped(file=name, reason="symlink points outside the folder"))
                    continue
                if not real.exists():
                    skipped.append(Skipped(file=name, reason="broken symlink"))
                    continue
                is_dir, is_file = real.is_dir(), real.is_file()
            if is_dir:
                if real in seen_dirs:
                    if entry.is_symlink():
                        skipped.append(
                            Skipped(file=name, reason="symlink loop (folder already read)")
                        )
                    continue
                seen_dirs.add(real)
                visit(real, name)
            elif is_file:
                linked = entry.is_symlink()
                if real in found and (linked or not found[real][1]):
                    continue  # one file reached twice is read once, under its own name
                found[real] = (Found(file=name, path=real), linked)

    visit(root, "")
    return sorted((f for f, _ in found.values()), key=lambda f: f.file), skipped


def read_bytes(found: Found, max_bytes: int) -> bytes | Skipped:
    suffix = found.path.suffix.lower()
    if suffix not in SUPPORTED:
        return Skipped(file=found.file, reason=f"unsupported file type '{suffix or '(none)'}'")
    try:
        size = found.path.stat().st_size
        if size > max_bytes:
            return Skipped(
                file=found.file,
                reason=f"too large ({size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:g} MB)",
            )
        return found.path.read_bytes()
    except OSError as exc:
        return Skipped(file=found.file, reason=f"cannot read: {exc.strerror}")


@dataclass
class Extracted:
    """A file's text with where its pages and sections start (offsets into `text`)."""

    text: str
    pages: list[int] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


def parse(found: Found, data: bytes) -> Document | Skipped:
    """Bytes -> Document. The text is what citations point into."""
    suffix = found.path.suffix.lower()
    try:
        if suffix == ".pdf":
            extracted = _pdf(data)
        elif suffix == ".docx":
            extracted = _docx(data)
        else:
            text = decode(data)
            if text is None:
                return Skipped(file=found.file, reason="binary content (not text in any encoding)")
            if suffix in {".html", ".htm"}:
                extracted = _html(text)
            elif suffix in {".md", ".markdown"}:
                extracted = _markdown(text)
            else:
                extracted = Extracted(text)
    except Exception as exc:  # a damaged PDF or Word file can raise almost anything
        return Skipped(file=found.file, reason=f"cannot parse: {type(exc).__name__}: {exc}"[:200])
    if not extracted.text.strip():
        return Skipped(file=found.file, reason="empty (no text)")
    return Document(
        file=found.file,
        text=extracted.text,
        sha256=hashlib.sha256(data).hexdigest(),
        pages=extracted.pages,
        sections=extracted.sections,
    )


def iter_files(root: Path, max_bytes: int) -> Iterator[tuple[Found, bytes] | Skipped]:
    found, skipped = walk(root)
    yield from skipped
    for item in found:
        data = read_bytes(item, max_bytes)
        yield data if isinstance(data, Skipped) else (item, data)


def read_document(root: Path, file: str | Path) -> Document:
    """Re-read one indexed document (for verification, the source viewer and the evals).

    The path is checked again at every read, because the folder may have changed since it was
    ingested: what is actually opened must be a regular file inside the corpus folder. A link
    swapped in that leads out of it, or a FIFO or device, raises `DocumentUnavailableError`.
    """
    file = str(file)
    root = root.resolve()
    path = (root / file).resolve()
    outside = DocumentUnavailableError(
        f"'{file}' now points outside the document folder; it is not shown."
    )
    if not path.is_relative_to(root):
        raise outside
    # O_NONBLOCK: opening a FIFO must not wait for a writer. O_NOFOLLOW: the last component is
    # already resolved, so a link appearing there now is a swap made after the check above.
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise outside from None
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DocumentUnavailableError(
                f"'{file}' is no longer a regular file; it is not shown."
            )
        opened = Path(f"/proc/self/fd/{fd}")
        if opened.exists() and not Path(os.readlink(opened)).is_relative_to(root):
            raise outside  # a folder on the way was swapped between the check and the open
        data = f.read()
    result = parse(Found(file=file, path=path), data)
    if isinstance(result, Skipped):
        raise DocumentUnavailableError(f"'{file}' can no longer be read: {result.reason}.")
    return result


# -- text in any encoding ----------------------------------------------------------------------
# UTF-32 first: its little-endian mark starts with UTF-16's.
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


def decode(data: bytes) -> str | None:
    """Bytes -> text: a byte-order mark decides, then UTF-8, then charset-normalizer's best guess
    (cp1252, latin-1, ...). None when the bytes are no text at all."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec)
    if b"\x00" in data[:8192]:
        return None  # without a mark, NUL bytes mean a binary file
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return None if best is None else str(best)


# -- HTML: the text a browser shows, with its headings as sections -----------------------------
_HIDDEN = {"head", "script", "style", "template", "noscript", "svg", "nav", "iframe", "object"}
_BLOCK = {
    *("p", "div", "br", "li", "tr", "section", "article", "header", "footer", "main", "aside"),
    *("blockquote", "pre", "table", "ul", "ol", "dl", "dt", "dd", "figure", "figcaption"),
    *("caption", "form", "fieldset", "address", "hr"),
}
_CELLS = {"td", "th"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Site chrome marked by class, id or ARIA role (the handbook's "docnav" Prev/Next bars, banners).
_CHROME = {"nav", "navbar", "navigation", "docnav", "breadcrumb", "breadcrumbs", "menu", "banner"}
_CHROME_ROLES = {"navigation", "banner", "search", "menu", "menubar"}


def _is_chrome(element: Any) -> bool:
    if element.get("role", "").lower() in _CHROME_ROLES:
        return True
    names = f"{element.get('class', '')} {element.get('id', '')}".lower()
    return any(token in _CHROME for token in names.replace("-", " ").replace("_", " ").split())


class _Blocks:
    """Paragraph-like blocks of visible text, each with the heading level it is (0: none)."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, int]] = []
        self.buffer: list[str] = []
        self.pre = 0  # inside <pre>, line breaks are the text's own

    def add(self, text: str) -> None:
        self.buffer.append(text)

    def flush(self, level: int = 0) -> None:
        raw = "".join(self.buffer)
        self.buffer = []
        if self.pre:
            lines = [line.rstrip() for line in raw.splitlines()]
            text = "\n".join(line for line in lines if line.strip())
        else:
            text = " ".join(raw.split())
        if text:
            self.blocks.append((text, level))

    def walk(self, element: Any) -> None:
        for child in element:
            tag = child.tag.lower() if isinstance(child.tag, str) else None
            # comments and processing instructions (tag not a string) show only their tail
            if tag is not None and tag not in _HIDDEN and not _is_chrome(child):
                self.element(child, tag)
            if child.tail:
                self.add(child.tail)

    def element(self, element: Any, tag: str) -> None:
        level = _HEADINGS.get(tag, 0)
        block = level or tag in _BLOCK or tag == "pre"
        if block:
            self.flush()
        if tag in _CELLS:
            self.add(" ")
        self.pre += tag == "pre"
        if element.text:
            self.add(element.text)
        self.walk(element)
        if block:
            self.flush(level)
        self.pre -= tag == "pre"
        if tag in _CELLS:
            self.add(" ")


def _html(html: str) -> Extracted:
    import lxml.html
    from lxml.etree import ParserError

    if not html.strip():
        return Extracted("")
    # Parsed from UTF-8 bytes with the encoding given: lxml refuses a str that carries an XML
    # encoding declaration, and the file's own <meta charset> may be wrong (it was decoded above).
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        root = lxml.html.document_fromstring(html.encode("utf-8"), parser=parser)
    except ParserError:  # "Document is empty": only markup, no element
        return Extracted("")
    blocks = _Blocks()
    blocks.walk([root])
    blocks.flush()
    return _join(blocks.blocks)


def _join(blocks: list[tuple[str, int]]) -> Extracted:
    """Blocks -> one text (blank lines between blocks), with a section at each heading."""
    parts: list[str] = []
    sections: list[Section] = []
    open_headings: list[tuple[int, str]] = []  # (level, heading), outermost first
    offset = 0
    for text, level in blocks:
        if parts:
            offset += 2
        if level:
            open_headings = [(lv, h) for lv, h in open_headings if lv < level] + [(level, text)]
            sections.append(Section(start=offset, path=[h for _, h in open_headings]))
        parts.append(text)
        offset += len(text)
    return Extracted("\n\n".join(parts), sections=sections)


# -- Markdown: the text as written; markdown-it finds the headings (not those in code blocks) ---
def _markdown(text: str) -> Extracted:
    from markdown_it import MarkdownIt

    line_starts = [0]
    for n, char in enumerate(text):
        if char == "\n":
            line_starts.append(n + 1)
    tokens = MarkdownIt("commonmark").parse(text)
    sections: list[Section] = []
    open_headings: list[tuple[int, str]] = []
    for n, token in enumerate(tokens):
        if token.type != "heading_open" or token.map is None:
            continue
        level = int(token.tag[1:])
        heading = " ".join(tokens[n + 1].content.split())
        open_headings = [(lv, h) for lv, h in open_headings if lv < level] + [(level, heading)]
        start = line_starts[token.map[0]]
        sections.append(Section(start=start, path=[h for _, h in open_headings]))
    return Extracted(text, sections=sections)


# -- Word: paragraphs and tables in order; "Heading N" styles open sections ---------------------
def _docx(data: bytes) -> Extracted:
    import docx
    from docx.table import Table

    blocks: list[tuple[str, int]] = []
    for item in docx.Document(BytesIO(data)).iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if value and (not cells or cells[-1] != value):  # merged cells repeat
                        cells.append(value)
                if cells:
                    blocks.append((" | ".join(cells), 0))
            continue
        text = " ".join(item.text.split())
        if text:
            blocks.append((text, _docx_level(item.style.name if item.style else "")))
    return _join(blocks)


def _docx_level(style: str) -> int:
    """Heading level of a Word paragraph style: "Title" 1, "Heading 1" 2, ... else 0."""
    if style == "Title":
        return 1
    name, _, number = style.partition(" ")
    return int(number) + 1 if name == "Heading" and number.isdigit() else 0


# pypdf reports damage through its logger ("EOF marker not found") as well as by raising. With
# no handler anywhere, Python would print those records to stderr; the skip reason already says
# what happened, in one line. An application that configures logging still receives them.
logging.getLogger("pypdf").addHandler(logging.NullHandler())


def _pdf(data: bytes) -> Extracted:
    """Each page's text, pages apart by a blank line; `pages` says where each starts."""
    from pypdf import PdfReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pypdf's PdfReadWarning: same story, told twice
        reader = PdfReader(BytesIO(data))
        texts = [(page.extract_text() or "").strip() for page in reader.pages]
    pages: list[int] = []
    offset = 0
    for text in texts:
        pages.append(offset)
        offset += len(text) + 2
    return Extracted("\n\n".join(texts), pages=pages)
