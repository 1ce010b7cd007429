"""The typed records passed between the stages of the data path (the contract between modules)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Document(BaseModel):
    file: str = Field(description="Path relative to the corpus folder, with '/' separators.")
    text: str
    sha256: str = Field(description="sha256 of the file's bytes.")


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


class Answer(BaseModel):
    question: str
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


class Turn(BaseModel):
    """One earlier exchange of a conversation, for follow-up questions."""

    question: str
    answer: str


class StreamEvent(BaseModel):
    """What `Assistant.stream` yields: a status line; the evidence the model is reading (before
    its first token); a text delta of the draft; the verified answer, last."""

    kind: Literal["status", "reading", "token", "answer"]
    text: str = ""
    reading: list[Citation] = []
    answer: Answer | None = None
