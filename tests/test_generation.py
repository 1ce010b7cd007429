"""The two forms of a draft (JSON and "statement [ids]" lines): parsing, streaming, grammar."""

from __future__ import annotations

import pytest

from assistant.generation import LINES_GRAMMAR, NONE, constraint, parse_claims, preview
from assistant.schema import MAX_CITED, MAX_CLAIMS


def test_lines_parse_to_claims_with_their_ids() -> None:
    draft = "49 people were killed in the market. [1]\nAmnesty said so. [2, 3]\n"
    claims = parse_claims(draft)
    assert [(c.statement, c.evidence) for c in claims] == [
        ("49 people were killed in the market.", [1]),
        ("Amnesty said so.", [2, 3]),
    ]


def test_a_line_cut_off_before_its_ids_is_not_a_claim() -> None:
    assert [c.statement for c in parse_claims("One. [1]\nTwo, cut off here")] == ["One."]
    assert parse_claims("Cut off [1,") == []


def test_none_is_the_empty_answer() -> None:
    assert parse_claims(f"{NONE}\n") == []
    assert preview(NONE[:2]) == preview(NONE) == ""


def test_limits_hold_for_lines_as_for_json() -> None:
    draft = "".join(f"Claim {n}. [1,2,3,4,5]\n" for n in range(MAX_CLAIMS + 2))
    claims = parse_claims(draft)
    assert len(claims) == MAX_CLAIMS and all(len(c.evidence) == MAX_CITED for c in claims)


def test_json_drafts_still_parse() -> None:
    claims = parse_claims(
        '{"claims": [{"statement": "It began on 30 September.", "evidence": [2]}]}'
    )
    assert [(c.statement, c.evidence) for c in claims] == [("It began on 30 September.", [2])]
    cut = '{"claims": [{"statement": "A.", "evidence": [1]}, {"statement": "B'
    assert [c.statement for c in parse_claims(cut)] == ["A."]


def test_preview_of_lines_only_grows() -> None:
    draft = "Amnesty said 200 civilians died. [1]\nRussia denied it. [2]\n"
    shown = ""
    for end in range(len(draft) + 1):
        visible = preview(draft[:end])
        assert visible.startswith(shown.rstrip()), (shown, visible)
        shown = visible
    assert shown == "Amnesty said 200 civilians died. Russia denied it."


def test_the_lines_grammar_is_valid_gbnf() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    assert constraint("lines") == LINES_GRAMMAR
    assert isinstance(constraint("json"), dict)
    llama_cpp.LlamaGrammar.from_string(LINES_GRAMMAR, verbose=False)  # raises when malformed


def test_a_later_none_line_ends_the_draft_and_is_not_shown() -> None:
    from assistant.generation import finished

    draft = "Russia began on 30 September. [1]\nNone"
    assert finished(draft) and not finished("Russia began on 30 September. [1]\nNine")
    assert preview(draft) == "Russia began on 30 September."
    assert not finished('{"claims": []}')
