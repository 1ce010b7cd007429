"""The evaluation suite: invariants and per-metric floors over one real run of each split.

Run with `pytest evals/`; the floors live in evals/floors.toml. One test per metric, so a failure
names the metric. The scorer tests at the end need no model.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from assistant.evaluation import CaseResult, EvalRun, Metrics
from evals.splits import SPLITS

pytestmark = pytest.mark.integration

EVALS = Path(__file__).resolve().parent
LIMITS = tomllib.loads((EVALS / "floors.toml").read_text(encoding="utf-8"))
FLOORS: dict[str, dict[str, float]] = LIMITS["floors"]  # split -> metric -> floor
CEILINGS: dict[str, float] = LIMITS["ceilings"]  # the same for every split
METRICS = sorted({m for floors in FLOORS.values() for m in floors})
REQUIRED = ("ariha-deaths", "campaign-start")  # in the dev split


def _listing(results: list[CaseResult]) -> str:
    return "\n".join(f"  {r.id} [{r.verdict}] {r.answer[:160]}" for r in results)


# -- invariants (every split) -------------------------------------------------------------------


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


def test_every_labelled_quote_is_in_its_file(eval_run: EvalRun) -> None:
    assert [r.id for r in eval_run.results if not r.support_found] == []


@pytest.mark.parametrize("case_id", REQUIRED)
def test_required_case_is_correct(eval_run: EvalRun, case_id: str) -> None:
    if eval_run.split != "dev":
        pytest.skip("the required cases are in the dev split")
    result = next(r for r in eval_run.results if r.id == case_id)
    assert result.verdict == "correct", f"{result.why}: {result.answer}"


# -- floors and ceilings (evals/floors.toml) ----------------------------------------------------


def _failing(eval_run: EvalRun, metric: str) -> list[CaseResult]:
    if eval_run.split != "dev":
        return []  # held-out splits are read as totals only, never case by case
    if metric.startswith("abstention") or metric == "answerable_abstained":
        return [r for r in eval_run.results if r.abstained != (r.kind == "unanswerable")]
    if metric.startswith("citation"):
        return [
            r
            for r in eval_run.results
            if r.kind != "unanswerable" and not all(c.supporting for c in r.citations)
        ]
    return [r for r in eval_run.results if r.verdict in ("wrong", "abstained-wrong")]


@pytest.mark.parametrize("metric", METRICS)
def test_floor(eval_run: EvalRun, metric: str) -> None:
    floors = FLOORS[eval_run.split]
    if metric not in floors:
        pytest.skip(f"no floor for {metric} on {eval_run.split}")
    value = getattr(eval_run.metrics, metric)
    assert value is not None and value >= floors[metric], (
        f"{eval_run.split}: {metric} = {value} is below its floor {floors[metric]}; cases:\n"
        + _listing(_failing(eval_run, metric))
    )


@pytest.mark.parametrize("metric", sorted(CEILINGS))
def test_ceiling(eval_run: EvalRun, metric: str) -> None:
    value = getattr(eval_run.metrics, metric)
    assert value is not None and value <= CEILINGS[metric], (
        f"{eval_run.split}: {metric} = {value} is above its ceiling {CEILINGS[metric]}"
    )


def test_limits_name_real_metrics_and_splits() -> None:
    assert set(FLOORS) == set(SPLITS)
    assert set(METRICS) | set(CEILINGS) <= set(Metrics.model_fields)


def test_report_is_written(eval_run: EvalRun, eval_report_dir: Path) -> None:
    data = json.loads((eval_report_dir / "report.json").read_text(encoding="utf-8"))
    run = next(r for r in data["runs"] if r["split"] == eval_run.split)
    assert [c["id"] for c in run["results"]] == [r.id for r in eval_run.results]
    markdown = (eval_report_dir / "report.md").read_text(encoding="utf-8")
    assert all(f"`{r.id}`" in markdown for r in eval_run.results)
