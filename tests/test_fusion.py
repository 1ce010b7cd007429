"""Reciprocal rank fusion and the retrievers' own best passages (no model, no index)."""

from __future__ import annotations

from assistant.retrieval import fuse, keep_top_hits
from assistant.schema import Passage


def _passages(*names: str) -> list[Passage]:
    return [Passage(id=n, file=f"{n}.txt", start=0, end=1, text=n) for n in names]


def test_a_passage_both_lists_hold_outranks_one_only_bm25_found_first() -> None:
    # dense and BM25 agree on a..f; only BM25 has "named" first (a rare name in the question)
    dense = _passages("a", "b", "c", "d", "e", "f")
    bm25 = _passages("named", "a", "b", "c", "d", "e", "f")
    fused = fuse({"dense": dense, "bm25": bm25})
    assert [r.passage.id for r in fused[:6]] == ["a", "b", "c", "d", "e", "f"]
    kept = keep_top_hits(fused, 6)
    assert [r.passage.id for r in kept] == ["a", "b", "c", "d", "e", "f", "named"]


def test_nothing_is_added_when_each_best_passage_is_already_in() -> None:
    dense = _passages("a", "b", "c")
    bm25 = _passages("b", "a", "c")
    fused = fuse({"dense": dense, "bm25": bm25})
    assert len(keep_top_hits(fused, 2)) == 2
