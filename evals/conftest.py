"""The evaluation suite's fixtures: one real evaluation of each split per test session.

Run it with `pytest evals/` (a plain `pytest` runs only tests/). Each split (evals/splits.py:
dev, test, handbook) is evaluated the first time a test asks for it: its corpus is copied to a
temporary folder, ingested with the embedded model, and every case is asked once. The combined
report evals/report.md / report.json is rewritten after each split (splits not run this session
keep their previous figures and say their date). `pytest evals/ --split dev` runs one split.

Another model backend: ASSISTANT_BACKEND and the ASSISTANT_OLLAMA_* / ASSISTANT_OPENAI_* variables
are the only settings taken from the environment (the encoder stays MiniLM), and
ASSISTANT_EVAL_REPORT_DIR sends the report elsewhere, so evals/report.* stay the embedded figures:

    ASSISTANT_BACKEND=openai ASSISTANT_OPENAI_BASE_URL=http://127.0.0.1:8080/v1 \
    ASSISTANT_EVAL_REPORT_DIR=/tmp/openai-report pytest evals --split dev

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant
from assistant.evaluation import EvalRun, evaluate, read_previous, write_report
from assistant.schema import Citation, Claim, Evidence
from assistant.settings import Settings
from evals.splits import EVALS, SPLITS, CorpusUnavailable

SABOTAGE_VAR = "ASSISTANT_EVAL_SABOTAGE"
REPORT_VAR = "ASSISTANT_EVAL_REPORT_DIR"
SABOTAGES = ("shift-citations", "no-abstain", "shift-offsets")

_runs: dict[str, EvalRun] = {}
_assistants: dict[str, Assistant] = {}  # one index per corpus, shared by its splits


@pytest.fixture(scope="session")
def eval_report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get(SABOTAGE_VAR):
        return tmp_path_factory.mktemp("sabotaged-report")
    chosen = os.environ.get(REPORT_VAR)
    return Path(chosen).resolve() if chosen else EVALS


def backend_settings() -> dict[str, str]:
    """The model backend from the environment (embedded unless ASSISTANT_BACKEND says)."""
    chosen = {"backend": "embedded"}
    for var, value in os.environ.items():
        if var == "ASSISTANT_BACKEND" or var.startswith(("ASSISTANT_OLLAMA_", "ASSISTANT_OPENAI_")):
            chosen[var.removeprefix("ASSISTANT_").lower()] = value
    return chosen


@pytest.fixture(scope="session")
def run_split(
    tmp_path_factory: pytest.TempPathFactory, eval_report_dir: Path
) -> Callable[[str], EvalRun]:
    sabotage = os.environ.get(SABOTAGE_VAR, "")
    if sabotage and sabotage not in SABOTAGES:
        raise pytest.UsageError(f"{SABOTAGE_VAR}={sabotage!r}; use one of {SABOTAGES}")

    backend = backend_settings()

    def run(name: str) -> EvalRun:
        if name in _runs:
            return _runs[name]
        split = SPLITS[name]
        try:
            split.source_dir()
        except CorpusUnavailable as exc:
            pytest.skip(str(exc))
        with pytest.MonkeyPatch.context() as mp:
            for var in list(os.environ):  # settings come only from here: no ASSISTANT_* vars,
                if var.startswith("ASSISTANT_"):
                    mp.delenv(var)
            root = tmp_path_factory.mktemp(split.corpus)
            mp.chdir(root)  # and no assistant.toml from the working folder
            if sabotage:
                _sabotage(mp, sabotage)
            if split.corpus not in _assistants:
                assistant = Assistant(
                    Settings(
                        corpus_dir=split.copy_corpus(root / "corpus"),
                        index_dir=root / "index",
                        **backend,  # type: ignore[arg-type]
                    )
                )
                assistant.ingest()
                _assistants[split.corpus] = assistant
            previous = read_previous(eval_report_dir / "report.json")
            _runs[name] = evaluate(
                _assistants[split.corpus], split.cases, name, previous, corpus=split.corpus
            )
        write_report(list(_runs.values()), eval_report_dir, order=list(SPLITS))
        return _runs[name]

    return run


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--split",
        action="append",
        choices=list(SPLITS),
        help="evaluate only this split (repeatable; default: all)",
    )


@pytest.fixture(scope="session", params=list(SPLITS))
def eval_run(request: pytest.FixtureRequest, run_split: Callable[[str], EvalRun]) -> EvalRun:
    chosen = request.config.getoption("--split")
    if chosen and request.param not in chosen:
        pytest.skip(f"--split {' '.join(chosen)} leaves out {request.param}")
    return run_split(request.param)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for run in _runs.values():
        terminalreporter.write_sep("=", f"{run.split} ({run.wall_s:.0f} s, {run.model})")
        terminalreporter.write_line(run.summary_markdown())
    if _runs:
        terminalreporter.write_line("report: evals/report.md (or the sabotage folder)")


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
            text = result.dropped[0].text if result.dropped else first.text
            result.claims = [Claim(text=text, citations=[1])]
        elif mode == "shift-offsets":
            for c in result.citations:
                c.start, c.end = c.start + 1, c.end + 1
        return result

    mp.setattr(verification, "verify", broken)  # api.py imports it when a question is asked
    if hasattr(api, "verify"):  # or at import time, in older versions
        mp.setattr(api, "verify", broken)
