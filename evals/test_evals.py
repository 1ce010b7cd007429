"""The evaluation suite: invariants and per-metric floors over one real run of evals/cases.jsonl.

Run with `pytest evals/`; the floors live in evals/floors.toml. One test per metric, so a failure
names the metric. The scorer tests at the end need no model.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from assistant.evaluation import (
    Case,
    CaseResult,
    EvalRun,
    Metrics,
    compute_metrics,
    load_cases,
    score_case,
)
from assistant.schema import Answer, Citation

pytestmark = pytest.mark.integration

EVALS = Path(__file__).resolve().parent
LIMITS = tomllib.loads((EVALS / "floors.toml").read_text(encoding="utf-8"))
FLOORS: dict[str, float] = LIMITS["floors"]
CEILINGS: dict[str, float] = LIMITS["ceilings"]
REQUIRED = ("ariha-deaths", "campaign-start")


def _listing(results: list[CaseResult]) -> str:
    return "\n".join(f"  {r.id} [{r.verdict}] {r.answer[:160]}" for r in results)


# -- invariants -------------------------------------------------------------------------------


def test_every_citation_is_verifiable(eval_run: EvalRun) -> None:
    bad = [
        (r.id, c.file, c.start, c.end)
        for r in eval_run.results
        for c in r.citations
        if not c.verifiable
    ]
    assert eval_run.metrics.citations > 0, "no citations at all"
    assert eval_run.metrics.verifiability == 1.0, f"quotes differ from the file text: {bad}"


def test_no_answer_without_a_citation(eval_run: EvalRun) -> None:
    uncited = [r for r in eval_run.results if not r.abstained and not r.error and not r.citations]
    assert eval_run.metrics.uncited_answers == 0, _listing(uncited)


def test_no_case_raised(eval_run: EvalRun) -> None:
    assert eval_run.metrics.errors == 0, [(r.id, r.error) for r in eval_run.results if r.error]


@pytest.mark.parametrize("case_id", REQUIRED)
def test_required_case_is_correct(eval_run: EvalRun, case_id: str) -> None:
    result = next(r for r in eval_run.results if r.id == case_id)
    assert result.verdict == "correct", f"{result.why}: {result.answer}"


# -- floors and ceilings (evals/floors.toml) ----------------------------------------------------


def _failing(eval_run: EvalRun, metric: str) -> list[CaseResult]:
    if metric.startswith("abstention"):
        return [r for r in eval_run.results if r.abstained != (r.kind == "unanswerable")]
    if metric.startswith("citation"):
        return [
            r
            for r in eval_run.results
            if r.kind != "unanswerable" and not all(c.supporting for c in r.citations)
        ]
    return [r for r in eval_run.results if r.verdict in ("wrong", "abstained-wrong")]


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_floor(eval_run: EvalRun, metric: str) -> None:
    value = getattr(eval_run.metrics, metric)
    assert value is not None and value >= FLOORS[metric], (
        f"{metric} = {value} is below its floor {FLOORS[metric]}; cases:\n"
        + _listing(_failing(eval_run, metric))
    )


@pytest.mark.parametrize("metric", sorted(CEILINGS))
def test_ceiling(eval_run: EvalRun, metric: str) -> None:
    value = getattr(eval_run.metrics, metric)
    assert value is not None and value <= CEILINGS[metric], (
        f"{metric} = {value} is above its ceiling {CEILINGS[metric]}"
    )


def test_limits_name_real_metrics() -> None:
    assert set(FLOORS) | set(CEILINGS) <= set(Metrics.model_fields)


def test_report_is_written(eval_run: EvalRun, eval_report_dir: Path) -> None:
    data = json.loads((eval_report_dir / "report.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in data["results"]] == [r.id for r in eval_run.results]
    markdown = (eval_report_dir / "report.md").read_text(encoding="utf-8")
    assert all(f"`{r.id}`" in markdown for r in eval_run.results)


# -- the scorer itself (no model) ---------------------------------------------------------------

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


def test_cases_file_loads() -> None:
    cases = load_cases(EVALS / "cases.jsonl")
    assert len(cases) == len({c.id for c in cases}) >= 50
