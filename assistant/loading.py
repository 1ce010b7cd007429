"""files -> Document: walk a folder safely and read each supported file as text.

Bad files never stop ingestion: each is reported as `Skipped` with a reason a person understands.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

from assistant.errors import DocumentUnavailableError
from assistant.schema import Document, Skipped

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}


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
            real = path.resolve()
            if entry.is_symlink():
                if not real.is_relative_to(root):
                    skipped.append(Skipped(file=name, reason="symlink points outside the folder"))
                    continue
                if not real.exists():
                    skipped.append(Skipped(file=name, reason="broken symlink"))
                    continue
            if real.is_dir():
                if real in seen_dirs:
                    if entry.is_symlink():
                        skipped.append(
                            Skipped(file=name, reason="symlink loop (folder already read)")
                        )
                    continue
                seen_dirs.add(real)
                visit(real, name)
            elif real.is_file():
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
                reason=f"too large ({size / 1e6:.1f} MB > limit {max_bytes / 1e6:.1f} MB)",
            )
        return found.path.read_bytes()
    except OSError as exc:
        return Skipped(file=found.file, reason=f"cannot read: {exc.strerror}")


def parse(found: Found, data: bytes) -> Document | Skipped:
    """Bytes -> Document. The text is what citations point into."""
    suffix = found.path.suffix.lower()
    try:
        if suffix == ".pdf":
            text = _pdf_text(data)
        else:
            if b"\x00" in data[:8192]:
                return Skipped(file=found.file, reason="binary content (NUL bytes)")
            decoded = data.decode("utf-8-sig")
            text = _html_text(decoded) if suffix in {".html", ".htm"} else decoded
    except UnicodeDecodeError:
        return Skipped(file=found.file, reason="not UTF-8 text (cannot decode)")
    except Exception as exc:  # a damaged PDF can raise almost anything from pypdf
        return Skipped(file=found.file, reason=f"cannot parse: {type(exc).__name__}: {exc}"[:200])
    if not text.strip():
        return Skipped(file=found.file, reason="empty (no text)")
    return Document(file=found.file, text=text, sha256=hashlib.sha256(data).hexdigest())


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


class _VisibleText(HTMLParser):
    """Collects the text a browser would show: no script, style, head or template content."""

    HIDDEN = {"script", "style", "head", "template", "noscript", "svg"}
    BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "title",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden_depth += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden_depth = max(0, self.hidden_depth - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden_depth:
            self.parts.append(re.sub(r"\s+", " ", data))  # keep the gaps between inline tags


def _html_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    paragraphs: list[str] = []
    for line in lines:
        if line:
            paragraphs.append(line)
    return "\n\n".join(paragraphs)


# pypdf reports damage through its logger ("EOF marker not found") as well as by raising. With
# no handler anywhere, Python would print those records to stderr; the skip reason already says
# what happened, in one line. An application that configures logging still receives them.
logging.getLogger("pypdf").addHandler(logging.NullHandler())


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pypdf's PdfReadWarning: same story, told twice
        reader = PdfReader(BytesIO(data))
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages).strip()
