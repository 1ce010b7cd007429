"""The typed records passed between the stages of the data path (the contract between modules)."""

from __future__ import annotations

from bisect import bisect_right
from typing import Literal

from pydantic import BaseModel, Field


class Section(BaseModel):
    start: int = Field(description="Offset in the text where the heading starts.")
    path: list[str] = Field(description="The headings above it, outermost first, its own last.")


class Document(BaseModel):
    file: str = Field(description="Path relative to the corpus folder, with '/' separators.")
    text: str
    sha256: str = Field(description="sha256 of the file's bytes.")
    pages: list[int] = Field([], description="Offset where each page starts (PDF), in order.")
    sections: list[Section] = Field([], description="Each heading's section, in text order.")

    def page_at(self, offset: int) -> int | None:
        """1-based page holding `offset`, for paged files."""
        return bisect_right(self.pages, offset) if self.pages else None

    def section_at(self, offset: int) -> list[str]:
        """The heading path above `offset` ([] before the first heading or without headings)."""
        n = bisect_right([s.start for s in self.sections], offset)
        return self.sections[n - 1].path if n else []

    def bounds_at(self, offset: int) -> tuple[int, int]:
        """Where the page or section holding `offset` starts and ends (the whole text if none)."""
        starts = self.pages or [s.start for s in self.sections]
        n = bisect_right(starts, offset)
        lo = starts[n - 1] if n else 0
        hi = starts[n] if n < len(starts) else len(self.text)
        return lo, hi


class Passage(BaseModel):
    id: str
    file: str
    start: int
    end: int
    text: str = Field(description="Always equal to document.text[start:end].")


class Skipped(BaseModel):
    file: str
    reason: str


class IngestReport(BaseModel):
    added: list[str] = []
    updated: list[str] = []
    removed: list[str] = []
    unchanged: list[str] = []
    skipped: list[Skipped] = []
    passages_embedded: int = 0
    rebuilt: bool = False
    notice: str | None = None
    seconds: float = 0.0


class IndexStats(BaseModel):
    index_dir: str
    corpus_dir: str | None
    files: int
    passages: int
    encoder: str
    size_bytes: int
    last_ingest: str | None


class Evidence(BaseModel):
    """A sentence span shown to the model; `id` is what the model cites."""

    id: int
    passage_id: str
    file: str
    start: int
    end: int
    text: str


class Citation(BaseModel):
    file: str
    start: int
    end: int
    quote: str = Field(description="Exactly the document text at [start:end].")
    line: int = Field(description="1-based line of `start` in the document.")
    page: int | None = Field(None, description="1-based page of `start` (PDF files).")
    section: list[str] = Field(
        [], description="The headings above `start`, outermost first (HTML, Markdown, Word)."
    )

    def place(self) -> str:
        """Where the span is, in the reader's terms: "page 7", "Install › apt", or "line 12"."""
        if self.page is not None:
            return f"page {self.page}"
        if self.section:
            return " › ".join(self.section)
        return f"line {self.line}"


class SourceSpan(BaseModel):
    """Where a retrieved passage lies in its file (for retrieval recall; no text)."""

    file: str
    start: int
    end: int


class DroppedClaim(BaseModel):
    text: str
    reason: str = Field(description="The verification rule that dropped it.")
    support: float | None = Field(None, description="The support check's log-odds, if asked.")


# What the model may write: the JSON schema, the parser and DraftClaim all use these.
# How an answer names a part of a compound question that the documents leave open. It quotes
# the part, so the eval scorer reads the answer without it.
OPEN_PART = "The documents do not answer “{}”"

MAX_CLAIMS = 4
MAX_CITED = 3  # evidence ids per claim
MAX_STATEMENT_CHARS = 400


class DraftClaim(BaseModel):
    """One statement the model drafts, citing evidence ids (the JSON schema's item)."""

    statement: str = Field(max_length=MAX_STATEMENT_CHARS)
    evidence: list[int] = Field(max_length=MAX_CITED)


class Claim(BaseModel):
    text: str
    citations: list[int] = Field(description="Numbers (1-based) into Answer.citations.")
    support: float | None = Field(
        None, description="The model's log-odds that the cited text states it (support check)."
    )


class Part(BaseModel):
    """One question of a compound question, answered on its own (see Answer.parts)."""

    question: str = Field(description="As the pipeline read it, pronouns written out.")
    draft: str = ""
    evidence: list[Evidence] = []
    retrieved: list[SourceSpan] = []


class Answer(BaseModel):
    question: str
    asked: str = Field(
        "",
        description="The question as the model and verification read it, where that "
        "differs: a follow-up with what it refers to written out by the rules.",
    )
    searched: str = Field(
        "",
        description="What retrieval and evidence selection searched with, where that differs "
        "from the question: a follow-up the model wrote out as a question of its own.",
    )
    text: str
    claims: list[Claim] = []
    citations: list[Citation] = []
    abstained: bool = False
    conflict: bool = False
    leads: list[Citation] = Field(
        [], description="Nearest passages offered when abstaining; not citations."
    )
    dropped: list[DroppedClaim] = Field([], description="Draft claims that failed verification.")
    evidence: list[Evidence] = Field([], description="The sentence spans the model was shown.")
    retrieved: list[SourceSpan] = Field([], description="The passages retrieval found, best first.")
    draft: str = Field("", description="The model's raw output, before verification.")
    notice: str | None = None
    backend: str = ""
    model: str = ""
    timings: dict[str, float] = {}
    prompt_tokens: int = 0
    parts: list[Part] = Field(
        [],
        description="A compound question's parts, each retrieved, drafted and verified on its "
        "own (their claims and citations are the answer's); empty for a single question.",
    )


class Turn(BaseModel):
    """One earlier exchange of a conversation, for follow-up questions."""

    question: str
    answer: str


class StreamEvent(BaseModel):
    """What `Assistant.stream` yields: a status line; a notice (one line the answer keeps); the
    evidence the model is reading (before its first token); a text delta of the draft; the
    verified answer, last."""

    kind: Literal["status", "notice", "reading", "token", "answer"]
    text: str = ""
    reading: list[Citation] = []
    answer: Answer | None = None
