"""The hand-labelled case files of every split (evals/splits.py): schema, counts per kind, and
every support quote found in the text the product reads. No model (the fast layer)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from assistant.evaluation import KINDS, Case, find_quote, load_cases
from assistant.loading import read_document
from evals.splits import SPLITS, CorpusUnavailable, handbook_files

# The least a split must hold of each kind (dev's follow-ups came after its first 68 cases).
MINIMUM = {
    "dev": {"unanswerable": 8, "conflict": 6, "followup": 8},
    "test": {
        "fact": 14,
        "attribution": 8,
        "multi": 9,
        "conflict": 7,
        "variant": 9,
        "unanswerable": 10,
        "followup": 9,
    },
    "handbook": {
        "fact": 16,
        "attribution": 5,
        "multi": 7,
        "conflict": 3,
        "variant": 8,
        "unanswerable": 10,
        "followup": 7,
    },
}
TOTAL = {"dev": 60, "test": 60, "handbook": 50}


def _cases(split: str) -> list[Case]:
    return load_cases(SPLITS[split].cases)


@pytest.mark.parametrize("split", list(SPLITS))
def test_counts_ids_and_kinds(split: str) -> None:
    cases = _cases(split)
    kinds = Counter(c.kind for c in cases)
    assert len(cases) >= TOTAL[split] and len({c.id for c in cases}) == len(cases)
    assert set(kinds) <= set(KINDS)
    short = {k: n for k, n in MINIMUM[split].items() if kinds[k] < n}
    assert not short, f"{split} has too few cases of {short}: {dict(kinds)}"


@pytest.mark.parametrize("split", list(SPLITS))
def test_labels_are_well_formed(split: str) -> None:
    for c in _cases(split):
        assert c.question.strip() and c.notes.strip(), c.id
        assert all(s == s.lower() and s.strip() for s in c.accept + c.must_not), c.id
        assert not any(bad in good for bad in c.must_not for good in c.accept), c.id
        if c.kind == "unanswerable":
            assert c.accept == [] and c.support == [], c.id
        else:
            assert c.accept and c.support, c.id
        # a follow-up has an earlier turn; so may a question the documents do not answer
        if c.kind == "followup":
            assert c.history, c.id
        elif c.kind != "unanswerable":
            assert not c.history, c.id


@pytest.mark.parametrize("split", list(SPLITS))
def test_support_quotes_are_in_the_text_the_product_reads(split: str) -> None:
    try:
        root = SPLITS[split].source_dir()
    except CorpusUnavailable as exc:
        pytest.skip(str(exc))
    allowed = set(handbook_files()) if SPLITS[split].corpus == "handbook" else None
    texts: dict[str, str] = {}
    missing = []
    for c in _cases(split):
        for sup in c.support:
            assert allowed is None or sup.file in allowed, f"{c.id}: {sup.file} is not listed"
            if sup.file not in texts:
                texts[sup.file] = read_document(Path(root), sup.file).text
            if not find_quote(texts[sup.file], sup.quote):
                missing.append((c.id, sup.file, sup.quote))
    assert missing == []


def test_required_cases_are_labelled() -> None:
    cases = {c.id: c for c in _cases("dev")}
    ariha, start = cases["ariha-deaths"], cases["campaign-start"]
    assert "49" in ariha.accept and "ariha" in ariha.question.lower()
    assert "003_52a8f228d6ea1ced.txt" in {s.file for s in ariha.support}
    assert {"30 september", "september 30", "sept. 30"} <= set(start.accept)
