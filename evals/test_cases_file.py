"""Sanity checks for the hand-labelled evaluation cases in evals/cases.jsonl.

Plain pytest module: standard library + pytest only, no project imports.
"""
import json
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CASES_PATH = HERE / "cases.jsonl"
SEEDS_DIR = HERE.parent / "seeds"

KEYS = {"id", "question", "kind", "accept", "must_not", "support", "notes"}
KINDS = {"fact", "multi", "conflict", "attribution", "unanswerable", "variant"}


def _raw_lines():
    return [ln for ln in CASES_PATH.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _cases():
    return [json.loads(ln) for ln in _raw_lines()]


def _seed_text(name):
    path = SEEDS_DIR / name
    assert path.is_file(), f"seed file not found: {path}"
    return path.read_text(encoding="utf-8")


def test_every_line_parses():
    for i, line in enumerate(_raw_lines(), 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:  # pragma: no cover - failure path
            pytest.fail(f"line {i} is not valid JSON: {exc}")
        assert isinstance(obj, dict), f"line {i} is not a JSON object"


def test_keys_exact():
    for c in _cases():
        assert set(c) == KEYS, f"{c.get('id')}: keys {sorted(c)}"


def test_field_types():
    for c in _cases():
        cid = c["id"]
        assert isinstance(cid, str) and cid.strip(), c
        assert isinstance(c["question"], str) and c["question"].strip(), cid
        assert isinstance(c["notes"], str) and c["notes"].strip(), cid
        assert isinstance(c["accept"], list), cid
        assert isinstance(c["must_not"], list), cid
        assert isinstance(c["support"], list), cid
        for s in c["accept"] + c["must_not"]:
            assert isinstance(s, str) and s.strip(), cid
        for sup in c["support"]:
            assert isinstance(sup, dict) and set(sup) == {"file", "quote"}, cid
            assert isinstance(sup["file"], str) and isinstance(sup["quote"], str), cid


def test_ids_unique():
    counts = Counter(c["id"] for c in _cases())
    dupes = [k for k, v in counts.items() if v > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_kinds_valid():
    for c in _cases():
        assert c["kind"] in KINDS, f"{c['id']}: bad kind {c['kind']!r}"


def test_counts():
    cases = _cases()
    kinds = Counter(c["kind"] for c in cases)
    assert len(cases) >= 50, len(cases)
    assert kinds["unanswerable"] >= 8, kinds
    assert kinds["conflict"] >= 6, kinds


def test_accept_and_must_not_lower_case():
    for c in _cases():
        for s in c["accept"] + c["must_not"]:
            assert s == s.lower(), f"{c['id']}: {s!r} is not lower-case"


def test_answerable_have_accept_and_support():
    for c in _cases():
        if c["kind"] == "unanswerable":
            assert c["accept"] == [], c["id"]
            assert c["support"] == [], c["id"]
        else:
            assert c["accept"], f"{c['id']}: empty accept"
            assert c["support"], f"{c['id']}: empty support"


def test_accept_and_must_not_disjoint():
    for c in _cases():
        for bad in c["must_not"]:
            for good in c["accept"]:
                assert bad not in good, f"{c['id']}: must_not {bad!r} inside accept {good!r}"


def test_support_quotes_verbatim():
    assert SEEDS_DIR.is_dir(), f"seeds folder missing: {SEEDS_DIR}"
    cache = {}
    for c in _cases():
        for sup in c["support"]:
            name = sup["file"]
            assert "/" not in name and "\\" not in name, f"{c['id']}: {name!r}"
            if name not in cache:
                cache[name] = _seed_text(name)
            assert sup["quote"], f"{c['id']}: empty quote"
            assert sup["quote"] in cache[name], (
                f"{c['id']}: quote not verbatim in {name}: {sup['quote']!r}"
            )


def _by_id():
    return {c["id"]: c for c in _cases()}


def test_required_ariha_deaths():
    cases = _by_id()
    assert "ariha-deaths" in cases
    c = cases["ariha-deaths"]
    assert c["kind"] != "unanswerable"
    assert "49" in c["accept"]
    assert "ariha" in c["question"].lower()
    files = {s["file"] for s in c["support"]}
    assert "003_52a8f228d6ea1ced.txt" in files
    assert {"000_6e9e46d24ddb9ba8.txt", "001_46bde3bbeec631bf.txt"} <= files
    assert all("49" in s["quote"] for s in c["support"])


def test_required_campaign_start():
    cases = _by_id()
    assert "campaign-start" in cases
    c = cases["campaign-start"]
    assert c["kind"] != "unanswerable"
    expected = {"30 september", "september 30", "sept. 30", "30th september", "september 30th"}
    assert expected <= set(c["accept"])
    by_file = {s["file"]: s["quote"] for s in c["support"]}
    assert "Sept. 30" in by_file.get("002_3ede4edd75e29cfd.txt", "")
    assert "September 30th 2015" in by_file.get("003_52a8f228d6ea1ced.txt", "")
