"""Ranked passages -> a few sentence spans with ids: the only text the model sees.

A small prompt is the main lever on CPU latency (prompt processing dominates), and short spans
make a small model's citations precise.
"""

from __future__ import annotations

import math

import numpy as np

from assistant.chunking import sentence_spans
from assistant.embedding import Encoder
from assistant.instructions import is_instruction
from assistant.retrieval import Ranked
from assistant.schema import Evidence
from assistant.terms import stems

MIN_WORDS = 4  # "Photo:" or "-" carry nothing
PLAIN_WORDS = False  # every question word weighs the same (the ablation of rarity weights)


def select_evidence(
    question: str, ranked: list[Ranked], encoder: Encoder, limit: int, token_budget: int
) -> list[Evidence]:
    candidates: dict[tuple[str, int, int], tuple[str, str, float]] = {}
    for rank, hit in enumerate(ranked):
        p = hit.passage
        for a, b in sentence_spans(p.text):
            text = p.text[a:b]
            key = (p.file, p.start + a, p.start + b)
            if is_instruction(text):
                continue  # written to steer a model: never shown to it as evidence
            if len(text.split()) >= MIN_WORDS and key not in candidates:
                candidates[key] = (p.id, text, 1.0 / (rank + 2))
    if not candidates:
        return []
    keys = list(candidates)
    texts = [candidates[k][1] for k in keys]
    vectors = encoder.embed([question, *texts])
    dense = vectors[1:] @ vectors[0]
    lexical = shared_words(question, texts)
    prior = np.array([candidates[k][2] for k in keys])
    # Meaning, shared words and the passage's fused rank each count; the weights were tuned by
    # hand on the dev questions.
    score = dense + 0.5 * lexical + 0.3 * prior
    sizes = encoder.count_tokens(texts)
    chosen: list[int] = []
    used = 0
    for i in np.argsort(-score):  # best first: small models lean on what they read first
        if len(chosen) == limit:
            break
        if chosen and used + sizes[i] > token_budget:
            continue
        if any(_overlaps(keys[i], keys[j]) for j in chosen):
            continue  # passages overlap, so the same sentence can come twice
        chosen.append(int(i))
        used += sizes[i]
    return [
        Evidence(
            id=n,
            passage_id=candidates[keys[i]][0],
            file=keys[i][0],
            start=keys[i][1],
            end=keys[i][2],
            text=texts[i],
        )
        for n, i in enumerate(chosen, start=1)
    ]


def shared_words(question: str, texts: list[str]) -> np.ndarray:
    """How much of the question each text holds, each question word weighed by how rare it is
    among the texts: one found in every candidate ("Russia", "report") tells none apart, one
    found in a single sentence ("truth", "detail") points at it, and one found in none (a
    paraphrase) cannot count."""
    wanted = stems(question)
    found = [stems(t) for t in texts]
    if not PLAIN_WORDS:
        df = {w: sum(w in f for f in found) for w in wanted}
        weight = {w: math.log((1 + len(found)) / (1 + d)) if d else 0.0 for w, d in df.items()}
    else:
        weight = dict.fromkeys(wanted, 1.0)
    total = sum(weight.values()) or 1.0
    return np.array([sum(weight[w] for w in wanted & f) / total for f in found])


def _overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]
