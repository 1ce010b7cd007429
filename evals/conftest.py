"""The evaluation suite's fixture: one real evaluation per test session.

Run it with `pytest evals/` (a plain `pytest` runs only tests/). It copies seeds/ to a temporary
corpus, ingests it with the embedded model, asks every case in evals/cases.jsonl once, and writes
evals/report.md and evals/report.json (the previous report.json is read first, for the change).

Self-test of the suite (not a product feature): ASSISTANT_EVAL_SABOTAGE deliberately breaks the
pipeline, and the suite must then fail. The report then goes to a temporary folder, so
evals/report.* keep the honest numbers.

    ASSISTANT_EVAL_SABOTAGE=shift-citations  every citation moved to the next evidence span
                                             (still verbatim text, but the wrong passage)
    ASSISTANT_EVAL_SABOTAGE=no-abstain       abstention disabled: an ungrounded answer cites the
                                             first evidence span instead of abstaining
    ASSISTANT_EVAL_SABOTAGE=shift-offsets    citation offsets moved one character, quotes kept
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant
from assistant.evaluation import EvalRun, run_evaluation
from assistant.schema import Citation, Claim, Evidence
from assistant.settings import Settings

EVALS = Path(__file__).resolve().parent
SEEDS = EVALS.parent / "seeds"
CASES = EVALS / "cases.jsonl"
SABOTAGE_VAR = "ASSISTANT_EVAL_SABOTAGE"
SABOTAGES = ("shift-citations", "no-abstain", "shift-offsets")

_finished: list[tuple[EvalRun, Path]] = []


@pytest.fixture(scope="session")
def eval_report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sabotaged-report") if os.environ.get(SABOTAGE_VAR) else EVALS


@pytest.fixture(scope="session")
def eval_run(tmp_path_factory: pytest.TempPathFactory, eval_report_dir: Path) -> EvalRun:
    sabotage = os.environ.get(SABOTAGE_VAR, "")
    if sabotage and sabotage not in SABOTAGES:
        raise pytest.UsageError(f"{SABOTAGE_VAR}={sabotage!r}; use one of {SABOTAGES}")
    root = tmp_path_factory.mktemp("eval")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):  # settings come only from here: no ASSISTANT_* variables,
            if name.startswith("ASSISTANT_"):
                mp.delenv(name)
        mp.chdir(root)  # and no assistant.toml from the working folder
        if sabotage:
            _sabotage(mp, sabotage)
        shutil.copytree(SEEDS, root / "corpus")
        assistant = Assistant(
            Settings(corpus_dir=root / "corpus", index_dir=root / "index", backend="embedded")
        )
        assistant.ingest()
        run = run_evaluation(assistant, CASES, eval_report_dir)
    _finished.append((run, eval_report_dir))
    return run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for run, report_dir in _finished:
        terminalreporter.write_sep("=", f"evaluation ({run.wall_s:.0f} s, {run.model})")
        terminalreporter.write_line(run.summary_markdown())
        terminalreporter.write_line(f"report: {report_dir / 'report.md'}")


# -- the self-test switch -----------------------------------------------------------------------

Verify = Callable[..., Any]


def _citation(ev: Evidence, text: str) -> Citation:
    return Citation(
        file=ev.file,
        start=ev.start,
        end=ev.end,
        quote=text[ev.start : ev.end],
        line=text.count("\n", 0, ev.start) + 1,
    )


def _sabotage(mp: pytest.MonkeyPatch, mode: str) -> None:
    import assistant.api as api
    import assistant.verification as verification

    real: Verify = verification.verify

    def broken(
        drafts: Sequence[Any],
        evidence: Sequence[Evidence],
        read_text: Callable[[str], str],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        result = real(drafts, evidence, read_text, *args, **kwargs)
        if mode == "shift-citations" and evidence:
            keys = [(e.file, e.start, e.end) for e in evidence]
            for n, c in enumerate(result.citations):
                nxt = evidence[(keys.index((c.file, c.start, c.end)) + 1) % len(evidence)]
                result.citations[n] = _citation(nxt, read_text(nxt.file))
        elif mode == "no-abstain" and result.abstained and evidence:
            first = evidence[0]
            result.citations = [_citation(first, read_text(first.file))]
            result.claims = [Claim(text=(result.dropped or [first.text])[0], citations=[1])]
        elif mode == "shift-offsets":
            for c in result.citations:
                c.start, c.end = c.start + 1, c.end + 1
        return result

    mp.setattr(verification, "verify", broken)  # api.py imports it when a question is asked
    if hasattr(api, "verify"):  # or at import time, in older versions
        mp.setattr(api, "verify", broken)
