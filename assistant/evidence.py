"""Ranked passages -> a few sentence spans with ids: the only text the model sees.

A small prompt is the main lever on CPU latency (prompt processing dominates), and short spans
make a small model's citations precise.
"""

from __future__ import annotations

import numpy as np

from assistant.chunking import sentence_spans
from assistant.embedding import Encoder
from assistant.instructions import is_instruction
from assistant.retrieval import Ranked
from assistant.schema import Evidence
from assistant.terms import stems

# Mechanisms that can be switched off to measure them: "colon-units" (see _units).
ABLATED: set[str] = set()
MIN_WORDS = 4  # "Photo:" or "-" carry nothing
# A sentence's score: its meaning's similarity to the question, plus these weights times the
# share of the question's words it holds and its passage's fused rank (1 / (rank + 2)). Tuned by
# hand on the dev questions; an IDF weighting of the words was measured and not kept (README).
LEXICAL_WEIGHT = 0.5
RANK_WEIGHT = 0.3


def select_evidence(
    question: str, ranked: list[Ranked], encoder: Encoder, limit: int, token_budget: int
) -> list[Evidence]:
    candidates: dict[tuple[str, int, int], tuple[str, str, float]] = {}
    for rank, hit in enumerate(ranked):
        p = hit.passage
        for a, b in _units(p.text):
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
    wanted = stems(question)
    lexical = np.array([len(wanted & stems(t)) / max(1, len(wanted)) for t in texts])
    prior = np.array([candidates[k][2] for k in keys])
    score = dense + LEXICAL_WEIGHT * lexical + RANK_WEIGHT * prior
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


def _units(text: str) -> list[tuple[int, int]]:
    """The sentences of a passage, where one that ends in a colon ("The activist, Mohammed
    Qurabi al-Ghazal, told Amnesty :") is one span with the sentence it introduces: alone, the
    quote after it would lose its speaker, and the introduction says nothing."""
    units: list[tuple[int, int]] = []
    for a, b in sentence_spans(text):
        if units and text[units[-1][1] - 1] == ":" and "colon-units" not in ABLATED:
            units[-1] = (units[-1][0], b)
        else:
            units.append((a, b))
    return units


def _overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]
