"""The scorer itself, and the case files' schema: no model, no index (the fast layer)."""

from __future__ import annotations

import pytest

from assistant.evaluation import Case, compute_metrics, load_cases, score_case
from assistant.schema import Answer, Citation
from evals.splits import SPLITS

TEXT = "Intro line.\nThe market attack killed 49 civilians. A spokesman denied it.\n"
CASE = Case(
    id="t",
    question="How many?",
    kind="fact",
    accept=["49"],
    must_not=["46"],
    support=[{"file": "a.txt", "quote": "killed 49 civilians"}],
)  # type: ignore[list-item]


def _cite(start: int, end: int, file: str = "a.txt", text: str = TEXT) -> Citation:
    return Citation(file=file, start=start, end=end, quote=text[start:end], line=2)


def test_scorer_correct_supporting_and_verifiable() -> None:
    at = TEXT.index("The market")
    r = score_case(
        CASE,
        Answer(question="q", text="It killed 49 [1]", citations=[_cite(at, at + 39)]),
        {"a.txt": TEXT},
    )
    assert r.verdict == "correct" and r.citations[0].supporting and r.citations[0].verifiable


def test_scorer_wrong_span_file_and_quote() -> None:
    at = TEXT.index("A spokesman")
    stale = Citation(file="a.txt", start=0, end=5, quote="Other", line=1)
    cits = [_cite(at, at + 10), _cite(12, 40, file="b.txt"), stale]
    r = score_case(
        CASE, Answer(question="q", text="49 or 46", citations=cits), {"a.txt": TEXT, "b.txt": TEXT}
    )
    assert r.verdict == "wrong" and "46" in r.why
    assert [c.supporting for c in r.citations] == [False, False, False]
    assert [c.verifiable for c in r.citations] == [True, True, False]


def test_metrics_count_abstention_both_ways() -> None:
    none = Case(id="u", question="?", kind="unanswerable", accept=[], must_not=[], support=[])
    abstain = Answer(question="q", text="The documents do not say.", abstained=True)
    results = [score_case(none, abstain, {}), score_case(CASE, abstain, {"a.txt": TEXT})]
    m = compute_metrics(results)
    assert [r.verdict for r in results] == ["abstained-ok", "abstained-wrong"]
    assert (m.abstention_recall, m.abstention_precision, m.answer_accuracy) == (1.0, 0.5, 0.0)
    assert m.citation_recall == 0.0 and m.citation_precision is None


def test_scorer_finds_a_quote_across_rewrapped_whitespace() -> None:
    text = "Intro.\nThe market attack\n  killed 49 civilians."
    case = Case.model_validate(
        {**CASE.model_dump(), "support": [{"file": "a.txt", "quote": "attack killed 49"}]}
    )
    r = score_case(case, Answer(question="q", text="49"), {"a.txt": text})
    assert r.support_found


@pytest.mark.parametrize("split", list(SPLITS))
def test_cases_file_loads(split: str) -> None:
    cases = load_cases(SPLITS[split].cases)
    assert len(cases) == len({c.id for c in cases}) >= 50


def test_an_open_part_of_a_compound_question_is_not_read_as_its_answer() -> None:
    case = CASE.model_copy(update={"question": "Who said so, and did 49 die?"})
    at = TEXT.index("A spokesman")
    answer = Answer(
        question=case.question,
        text="A spokesman denied it. [1] The documents do not answer “did 49 die?”",
        citations=[_cite(at, at + 22)],
    )
    assert score_case(case, answer, {"a.txt": TEXT}).verdict == "wrong"
