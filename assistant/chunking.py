"""Document -> Passages, and text -> sentence spans.

Passages are built from character spans, never from copied strings, so
`document.text[p.start:p.end] == p.text` holds by construction. (llama-index's SentenceSplitter
recovers offsets by searching for the chunk text afterwards, which is not guaranteed exact.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

from assistant.schema import Document, Passage

TokenCounter = Callable[[Sequence[str]], list[int]]

# A sentence ends at . ! ? or … (plus closing quotes/brackets) when the next word starts with a
# capital, a quote or a bracket, and at every line break: news text, lists and headings put one
# statement per line. "Sept. 30", "the U.S. and" and "Mr. Putin" do not end sentences.
_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z])|\n")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st mt gen col lt sgt capt gov sen rep pres jr sr inc ltd co corp vs etc "
    "jan feb mar apr jun jul aug sep sept oct nov dec no fig e.g i.e".split()
)
_WORD_GAP = re.compile(r"\s+")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences in text[start:end], trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _END.finditer(text, start, end):
        if match.group() != "\n" and _is_abbreviation(text, cursor, match.start()):
            continue
        _append_trimmed(text, cursor, match.end(), spans)
        cursor = match.end()
    _append_trimmed(text, cursor, end, spans)
    return spans


def _is_abbreviation(text: str, lo: int, dot: int) -> bool:
    """Is the word before the full stop at `dot` an abbreviation or an initial (U.S., J.)?"""
    if text[dot] != ".":
        return False
    i = dot
    while i > lo and not text[i - 1].isspace():
        i -= 1
    word = text[i:dot].lower().lstrip("\"'“‘(")
    if word in _ABBREVIATIONS or len(word.replace(".", "")) == 1:
        return True
    # Dotted initials (u.s, e.g, a.m) and ellipses are no sentence end; a dotted word that is
    # no initials, such as a path, a host, a version or an address (sources.list, 10.0.0.1,
    # 4.2), is: technical text ends sentences with them.
    return "." in word and all(len(part) <= 1 for part in word.split("."))


def _append_trimmed(text: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if a < b:
        out.append((a, b))


def words_count(texts: Sequence[str]) -> list[int]:
    """A tokenizer-free counter (whitespace words), for tests and as a fallback."""
    return [len(t.split()) for t in texts]


def passage_id(file: str, start: int, text: str) -> str:
    """Content-derived: an unchanged passage keeps its id (and its vector) across edits."""
    return hashlib.sha256(f"{file}\x00{start}\x00{text}".encode()).hexdigest()[:32]


def chunk(
    document: Document, max_tokens: int, overlap_tokens: int, count_tokens: TokenCounter
) -> list[Passage]:
    text = document.text
    pieces = _split_long(text, sentence_spans(text), max_tokens, count_tokens)
    sizes = count_tokens([text[a:b] for a, b in pieces])
    passages: list[Passage] = []
    i = 0
    while i < len(pieces):
        j, total = i, 0
        while j < len(pieces) and (j == i or total + sizes[j] <= max_tokens):
            total += sizes[j]
            j += 1
        start, end = pieces[i][0], pieces[j - 1][1]
        body = text[start:end]
        passages.append(
            Passage(
                id=passage_id(document.file, start, body),
                file=document.file,
                start=start,
                end=end,
                text=body,
            )
        )
        if j >= len(pieces):
            break
        # Next passage starts with the trailing sentences that fit in the overlap budget.
        back, carried = j, 0
        while back - 1 > i and carried + sizes[back - 1] <= overlap_tokens:
            back -= 1
            carried += sizes[back]
        i = back
    return passages


def _split_long(
    text: str, spans: list[tuple[int, int]], max_tokens: int, count_tokens: TokenCounter
) -> list[tuple[int, int]]:
    """Cut sentences longer than `max_tokens` at word gaps into pieces that fit."""
    sizes = count_tokens([text[a:b] for a, b in spans])
    out: list[tuple[int, int]] = []
    for (a, b), size in zip(spans, sizes, strict=True):
        if size <= max_tokens:
            out.append((a, b))
            continue
        pieces = -(-size // max_tokens) + 1  # token counts are approximate: leave headroom
        target = max(1, (b - a) // pieces)
        cursor = a
        while b - cursor > target:
            gap = _WORD_GAP.search(text, cursor + target, b)
            if gap is None:  # no word gap left (e.g. CJK): cut between characters
                out.append((cursor, cursor + target))
                cursor += target
                continue
            out.append((cursor, gap.start()))
            cursor = gap.end()
        out.append((cursor, b))
    trimmed: list[tuple[int, int]] = []
    for a, b in out:  # a cut between characters can leave whitespace at a piece's edge
        _append_trimmed(text, a, b, trimmed)
    return trimmed
