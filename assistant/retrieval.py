"""question -> ranked Passages: dense (Chroma) and keyword (BM25) results fused by reciprocal rank.

Only passages named by the manifest are returned, so vectors left by an interrupted ingestion
never surface.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from assistant.embedding import Encoder
from assistant.index import IndexStore, Manifest, node_to_passage
from assistant.questions import holds_phrase, quoted_phrases
from assistant.schema import Passage

RRF_K = 60  # the constant from Cormack et al.; damps the weight of top ranks
KEEP_TOP_HITS = True  # evals/evidence_recall.py --no-top-hits switches keep_top_hits off


@dataclass
class Ranked:
    passage: Passage
    score: float
    sources: dict[str, int] = field(default_factory=dict)  # retriever -> 1-based rank


class HybridRetriever:
    def __init__(self, store: IndexStore, manifest: Manifest, encoder: Encoder) -> None:
        self.store = store
        self.manifest = manifest
        self.encoder = encoder
        self.live = manifest.live_ids()
        self.bm25 = store.load_bm25(manifest)

    def dense(self, question: str, k: int) -> list[Passage]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        vector = self.encoder.embed([question])[0].tolist()
        result = self.store.vector_store.query(
            VectorStoreQuery(query_embedding=vector, similarity_top_k=k)
        )
        return [node_to_passage(n) for n in result.nodes or [] if n.node_id in self.live]

    def keyword(self, question: str, k: int) -> list[Passage]:
        if self.bm25 is None:
            return []
        from llama_index.core.schema import QueryBundle

        self.bm25.similarity_top_k = min(k, len(self.live))
        hits = self.bm25.retrieve(QueryBundle(question))
        return [
            node_to_passage(h.node)
            for h in hits
            if (h.score or 0) > 0 and h.node.node_id in self.live
        ]

    def quoting(self, question: str, k: int) -> list[Passage]:
        """Passages that hold a phrase the question quotes word for word ("Who told a briefing
        'We examined this report'?"), found by a keyword search for the phrase alone."""
        found: dict[str, Passage] = {}
        for phrase in quoted_phrases(question):
            for passage in self.keyword(" ".join(phrase), k):
                if holds_phrase(passage.text, phrase):
                    found.setdefault(passage.id, passage)
        return list(found.values())

    def retrieve(
        self, question: str, k: int, timings: dict[str, float] | None = None
    ) -> list[Ranked]:
        fetch = 2 * k  # fusion needs more than k from each list to reorder them
        t0 = time.perf_counter()
        dense = self.dense(question, fetch)
        t1 = time.perf_counter()
        keyword = self.keyword(question, fetch)
        quoting = self.quoting(question, fetch)
        t2 = time.perf_counter()
        fused = fuse({"dense": dense, "bm25": keyword, "quote": quoting})
        # A quoted phrase is the surest pointer a question gives: the passages holding it first.
        fused = sorted(fused, key=lambda r: "quote" not in r.sources)
        fused = keep_top_hits(fused, k) if KEEP_TOP_HITS else fused[:k]
        if timings is not None:
            timings.update(dense_s=t1 - t0, bm25_s=t2 - t1, fuse_s=time.perf_counter() - t2)
        return fused


def keep_top_hits(fused: list[Ranked], k: int) -> list[Ranked]:
    """The first k, then each retriever's own best passage if fusion left it out. On a small
    corpus most passages are in both lists, and fusion ranks one both found at middling ranks
    above one only BM25 found, first: the one passage that names "Igor Konashenkov" fell out
    of the top six for "Where did Igor Konashenkov speak about the report?". Evidence
    selection still picks the sentences, under the same budget."""
    return fused[:k] + [r for r in fused[k:] if 1 in r.sources.values()]


def fuse(rankings: dict[str, list[Passage]]) -> list[Ranked]:
    """Reciprocal rank fusion: sum of 1 / (RRF_K + rank) over the lists a passage appears in."""
    by_id: dict[str, Ranked] = {}
    for name, passages in rankings.items():
        for rank, passage in enumerate(passages, start=1):
            entry = by_id.setdefault(passage.id, Ranked(passage=passage, score=0.0))
            entry.score += 1.0 / (RRF_K + rank)
            entry.sources[name] = rank
    return sorted(by_id.values(), key=lambda r: r.score, reverse=True)
