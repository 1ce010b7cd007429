"""Score the assistant against hand-labelled cases (a .jsonl file) and write a report.

Each case is asked once (a follow-up with its scripted earlier turn). An answer is *correct* when
it does not abstain, contains one of the case's `accept` strings and none of its `must_not`
strings (all compared in lower case). A citation *supports* a case when its span overlaps the span
of one of the case's labelled `support` quotes (found in the file text, runs of whitespace
matching any whitespace, so a quote survives re-wrapped text). A citation is *verifiable* when
its quote is exactly the current file text at [start:end]. Offsets are into the text the product
reads (`read_document`), which is why the corpus texts come from there and not from
`Path.read_text`.

To place a loss in the data path, each answerable case also records whether a labelled support
span reached the retrieved passages (*retrieval recall*) and the evidence sentences the model was
shown (*evidence recall*); each dropped draft claim carries the verification rule that dropped it.

Several splits (for example dev, test and a second corpus) go into one report, side by side.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from assistant.errors import AssistantError
from assistant.loading import read_document
from assistant.schema import (
    OPEN_PART,
    Answer,
    Claim,
    DroppedClaim,
    Evidence,
    Part,
    SourceSpan,
    Turn,
)

if TYPE_CHECKING:
    from assistant.api import Assistant

Kind = Literal["fact", "multi", "conflict", "attribution", "variant", "followup", "unanswerable"]
KINDS: tuple[Kind, ...] = (
    "fact",
    "multi",
    "conflict",
    "attribution",
    "variant",
    "followup",
    "unanswerable",
)
Verdict = Literal["correct", "wrong", "abstained-ok", "abstained-wrong"]
Span = tuple[str, int, int]  # (file, start, end)


class Support(BaseModel):
    file: str
    quote: str


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    question: str
    kind: Kind
    accept: list[str]
    must_not: list[str]
    support: list[Support]
    notes: str = ""
    history: list[Turn] = []  # a follow-up's earlier turns, scripted (not asked)

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


class ScoredCitation(BaseModel):
    file: str
    start: int
    end: int
    line: int
    page: int | None = None
    section: list[str] = []
    quote: str
    supporting: bool  # overlaps a labelled support span of the case
    verifiable: bool  # quote == current file text[start:end]


class CaseResult(BaseModel):
    id: str
    kind: Kind
    question: str
    asked: str = ""  # the follow-up as the rules wrote it out, where that differs
    searched: str = ""  # what retrieval searched with, where the model wrote it out
    answer: str
    abstained: bool
    conflict: bool
    verdict: Verdict
    why: str
    error: str | None = None  # the assistant raised instead of answering
    citations: list[ScoredCitation]
    claims: list[Claim] = []  # the verified claims (with the support check's score)
    dropped: list[DroppedClaim] = []  # draft claims that failed verification, with the rule
    draft: str = ""  # the model's raw output
    evidence: list[Evidence] = []  # what the model was shown (to replay verification offline)
    parts: list[Part] = []  # a compound question's parts, each with its draft and evidence
    retrieved: list[SourceSpan] = []  # the passages retrieval found
    support_found: bool = True  # every labelled quote was found in its file (else: a bad label)
    retrieved_support: bool | None = None  # a support span overlaps a retrieved passage
    evidence_support: bool | None = None  # a support span overlaps an evidence sentence
    total_s: float | None
    first_token_s: float | None
    prompt_tokens: int

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


class Metrics(BaseModel):
    """Ratios are None when their denominator is empty (shown as "–")."""

    cases: int
    answerable: int
    abstained: int
    answer_accuracy: float | None
    citation_precision: float | None
    citation_recall: float | None
    abstention_recall: float | None
    abstention_precision: float | None
    answerable_abstained: float | None = None  # share of answerable cases that abstained
    retrieval_recall: float | None = None
    evidence_recall: float | None = None
    verifiability: float | None
    citations: int
    uncited_answers: int  # answered (not abstained, no error) without a citation: must be 0
    errors: int
    latency_p50_s: float | None
    latency_p90_s: float | None
    first_token_p50_s: float | None
    mean_prompt_tokens: float | None


# (field, label, is a ratio shown as %)
ROWS: tuple[tuple[str, str, bool], ...] = (
    ("answer_accuracy", "answer accuracy (answerable)", True),
    ("citation_precision", "citation precision", True),
    ("citation_recall", "citation recall", True),
    ("abstention_recall", "abstention recall", True),
    ("abstention_precision", "abstention precision", True),
    ("answerable_abstained", "answerable questions abstained", True),
    ("retrieval_recall", "retrieval recall (support in passages)", True),
    ("evidence_recall", "evidence recall (support in evidence)", True),
    ("verifiability", "verifiability", True),
    ("uncited_answers", "answers without a citation", False),
    ("errors", "errors", False),
    ("latency_p50_s", "latency p50 (s)", False),
    ("latency_p90_s", "latency p90 (s)", False),
    ("first_token_p50_s", "first token p50 (s)", False),
    ("mean_prompt_tokens", "mean prompt tokens", False),
    ("cases", "cases", False),
)


class EvalRun(BaseModel):
    """One split's cases asked over one corpus."""

    split: str = "cases"
    date: str
    backend: str
    model: str
    cases_file: str
    corpus: str = ""
    wall_s: float
    metrics: Metrics
    per_kind: dict[str, Metrics]
    previous: Metrics | None = None
    previous_date: str | None = None
    previous_verdicts: dict[str, str] = {}
    results: list[CaseResult]

    def summary_markdown(self) -> str:
        """This split's metric tables: overall (with the change against the previous run) and
        per kind."""
        head = "| metric | value |" + (" previous | change |" if self.previous else "")
        lines = [head, "|---|---:|" + ("---:|---:|" if self.previous else "")]
        for name, label, ratio in ROWS:
            row = f"| {label} | {format_metric(getattr(self.metrics, name), ratio)} |"
            if self.previous:
                old = getattr(self.previous, name, None)
                new = getattr(self.metrics, name)
                row += f" {format_metric(old, ratio)} | {_delta(new, old, ratio)} |"
            lines.append(row)
        return "\n".join([*lines, "", _per_kind_table(self)])

    def changes(self) -> list[str]:
        if self.previous is None:
            return ["No previous run of this split: this is the first."]
        changed = [
            f"- `{r.id}`: {self.previous_verdicts[r.id]} → {r.verdict}"
            for r in self.results
            if self.previous_verdicts.get(r.id, r.verdict) != r.verdict
        ]
        return [f"Previous run: {self.previous_date}.", *(changed or ["No case changed."])]


class EvalReport(BaseModel):
    """Every split of one evaluation, for report.md and report.json."""

    runs: list[EvalRun]

    def summary_markdown(self) -> str:
        """The splits' main metrics side by side, then each split by kind."""
        names = [r.split for r in self.runs]
        lines = [
            "| metric | " + " | ".join(names) + " |",
            "|---|" + "---:|" * len(names),
        ]
        for name, label, ratio in ROWS:
            cells = " | ".join(format_metric(getattr(r.metrics, name), ratio) for r in self.runs)
            lines.append(f"| {label} | {cells} |")
        for run in self.runs:
            lines += ["", f"**{run.split}** by kind:", "", _per_kind_table(run)]
        return "\n".join(lines)

    def report_markdown(self) -> str:
        out = ["# Evaluation report", ""]
        for run in self.runs:
            out.append(
                f"- **{run.split}**: {run.cases_file} ({len(run.results)} cases) over "
                f"{run.corpus or 'the index'}; {run.backend} · {run.model}; {run.date}; "
                f"{run.wall_s:.0f} s"
            )
        out += ["", "## Metrics", "", self.summary_markdown(), ""]
        out += ["## Why claims were dropped", "", _drop_table(self.runs), ""]
        for run in self.runs:
            out += [f"## Changes in {run.split}", "", *run.changes(), ""]
        for run in self.runs:
            out += [f"## Cases of {run.split}", ""]
            for r in run.results:
                out += _case_markdown(r)
        return "\n".join(out)

    def write(self, report_dir: Path) -> None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "report.json").write_text(self.model_dump_json(indent=2) + "\n", "utf-8")
        (report_dir / "report.md").write_text(self.report_markdown() + "\n", "utf-8")


def _per_kind_table(run: EvalRun) -> str:
    kinds = [k for k in KINDS if k in run.per_kind]
    lines = ["| metric | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
    for name, label, ratio in ROWS:
        cells = " | ".join(format_metric(getattr(run.per_kind[k], name), ratio) for k in kinds)
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def _drop_table(runs: Sequence[EvalRun]) -> str:
    reasons = sorted({d.reason for run in runs for r in run.results for d in r.dropped})
    if not reasons:
        return "No draft claim was dropped."
    lines = [
        "| rule | " + " | ".join(r.split for r in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for reason in reasons:
        counts = [sum(d.reason == reason for r in run.results for d in r.dropped) for run in runs]
        lines.append(f"| {reason} | " + " | ".join(map(str, counts)) + " |")
    return "\n".join(lines)


def _case_markdown(r: CaseResult) -> list[str]:
    out = [f"### `{r.id}` ({r.kind}) — {r.verdict}", "", f"**Q:** {r.question}", ""]
    if r.asked:
        out += [f"*Read as:* {r.asked}", ""]
    if r.searched:
        out += [f"*Searched as:* {r.searched}", ""]
    out += [f"**A:** {r.answer}", "", f"*Why:* {r.why}", ""]
    for n, c in enumerate(r.citations, start=1):
        marks = ("supporting" if c.supporting else "not a labelled support") + (
            "" if c.verifiable else ", NOT VERIFIABLE"
        )
        quote = " ".join(c.quote.split())
        place = ""
        if c.page is not None:
            place = f", page {c.page}"
        elif c.section:
            place = f", § {' › '.join(c.section)}"
        out.append(f"- [{n}] `{c.file}:{c.line}`{place} ({marks}): “{quote}”")
    out += [f"- dropped ({d.reason}): “{d.text}”" for d in r.dropped]
    if r.answerable:
        reach = {True: "yes", False: "no", None: "–"}
        out.append(
            f"- support in retrieved passages: {reach[r.retrieved_support]}, "
            f"in evidence: {reach[r.evidence_support]}"
            + ("" if r.support_found else "; A LABELLED QUOTE IS NOT IN ITS FILE")
        )
    timing = f"{r.total_s:.1f} s" if r.total_s is not None else "–"
    return [*out, f"- time {timing}, prompt {r.prompt_tokens} tokens", ""]


def format_metric(value: float | None, ratio: bool) -> str:
    if value is None:
        return "–"
    if ratio:
        return f"{100 * value:.1f}%"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _delta(new: float | None, old: float | None, ratio: bool) -> str:
    if new is None or old is None:
        return "–"
    diff = new - old
    return f"{100 * diff:+.1f} pts" if ratio else f"{diff:+.2f}"


# -- cases and scoring ------------------------------------------------------------------------


def load_cases(path: str | Path) -> list[Case]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [Case.model_validate_json(line) for line in lines if line.strip()]


def find_quote(text: str, quote: str) -> list[tuple[int, int]]:
    """Every occurrence of `quote` in `text`, any run of whitespace matching any other."""
    parts = quote.split()
    if not parts:
        return []
    pattern = r"\s+".join(re.escape(p) for p in parts)
    return [(m.start(), m.end()) for m in re.finditer(pattern, text)]


def support_spans(case: Case, corpus_texts: Mapping[str, str]) -> list[Span]:
    """Every occurrence of each labelled support quote in its file's text."""
    return [
        (sup.file, a, b)
        for sup in case.support
        for a, b in find_quote(corpus_texts.get(sup.file, ""), sup.quote)
    ]


def _reaches(spans: Sequence[Span], found: Iterable[tuple[str, int, int]]) -> bool:
    return any(f == g and a < e and s < b for g, a, b in found for f, s, e in spans)


_OPEN_PART = re.compile(re.escape(OPEN_PART).replace(r"\{\}", "[^”]*"))


def score_case(
    case: Case, answer: Answer, corpus_texts: Mapping[str, str], error: str | None = None
) -> CaseResult:
    """`error`: the assistant raised this instead of answering (`answer` is then a stand-in)."""
    spans = support_spans(case, corpus_texts)
    found_all = all(find_quote(corpus_texts.get(s.file, ""), s.quote) for s in case.support)
    citations = [
        ScoredCitation(
            file=c.file,
            start=c.start,
            end=c.end,
            line=c.line,
            page=c.page,
            section=c.section,
            quote=c.quote,
            supporting=_reaches(spans, [(c.file, c.start, c.end)]),
            verifiable=c.file in corpus_texts and corpus_texts[c.file][c.start : c.end] == c.quote,
        )
        for c in answer.citations
    ]
    text = _OPEN_PART.sub("", answer.text).lower()  # a part's own words are not its answer
    verdict: Verdict
    if error:
        verdict, why = "wrong", f"the assistant raised an error: {error}"
    elif not case.answerable:
        verdict, why = (
            ("abstained-ok", "abstained: the documents do not answer this")
            if answer.abstained
            else ("wrong", "answered a question the documents do not answer")
        )
    elif answer.abstained:
        verdict, why = "abstained-wrong", "abstained although the documents answer this"
    elif bad := [s for s in case.must_not if s in text]:
        verdict, why = "wrong", f"says {bad[0]!r}, which betrays a wrong answer"
    elif good := [s for s in case.accept if s in text]:
        verdict, why = "correct", f"contains {good[0]!r}"
    else:
        verdict, why = "wrong", f"contains none of {case.accept}"
    if verdict != "abstained-ok" and not answer.abstained and not error:
        n = sum(c.supporting for c in citations)
        why += f"; {n} of {len(citations)} citations overlap a labelled support"
    measurable = case.answerable and bool(spans) and not error
    return CaseResult(
        id=case.id,
        kind=case.kind,
        question=case.question,
        asked=answer.asked,
        searched=answer.searched,
        answer=answer.text,
        abstained=answer.abstained,
        conflict=answer.conflict,
        verdict=verdict,
        why=why,
        error=error,
        citations=citations,
        claims=answer.claims,
        dropped=answer.dropped,
        draft=answer.draft,
        evidence=answer.evidence,
        parts=answer.parts,
        retrieved=answer.retrieved,
        support_found=found_all,
        retrieved_support=(
            _reaches(spans, [(p.file, p.start, p.end) for p in answer.retrieved])
            if measurable
            else None
        ),
        evidence_support=(
            _reaches(spans, [(e.file, e.start, e.end) for e in answer.evidence])
            if measurable
            else None
        ),
        total_s=answer.timings.get("total_s"),
        first_token_s=answer.timings.get("first_token_s"),
        prompt_tokens=answer.prompt_tokens,
    )


# -- metrics ----------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _share(flags: Sequence[bool | None]) -> float | None:
    known = [f for f in flags if f is not None]
    return _ratio(sum(known), len(known))


def compute_metrics(results: Sequence[CaseResult]) -> Metrics:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    abstained = [r for r in results if r.abstained]
    answerable_citations = [c for r in answerable for c in r.citations]
    all_citations = [c for r in results for c in r.citations]
    timed = [r.total_s for r in results if r.total_s is not None]
    first = [r.first_token_s for r in results if r.first_token_s is not None]
    prompted = [r.prompt_tokens for r in results if r.prompt_tokens]
    return Metrics(
        cases=len(results),
        answerable=len(answerable),
        abstained=len(abstained),
        answer_accuracy=_ratio(sum(r.verdict == "correct" for r in answerable), len(answerable)),
        citation_precision=_ratio(
            sum(c.supporting for c in answerable_citations), len(answerable_citations)
        ),
        citation_recall=_ratio(
            sum(not r.abstained and any(c.supporting for c in r.citations) for r in answerable),
            len(answerable),
        ),
        abstention_recall=_ratio(sum(r.abstained for r in unanswerable), len(unanswerable)),
        abstention_precision=_ratio(sum(not r.answerable for r in abstained), len(abstained)),
        answerable_abstained=_ratio(sum(r.abstained for r in answerable), len(answerable)),
        retrieval_recall=_share([r.retrieved_support for r in answerable]),
        evidence_recall=_share([r.evidence_support for r in answerable]),
        verifiability=_ratio(sum(c.verifiable for c in all_citations), len(all_citations)),
        citations=len(all_citations),
        uncited_answers=sum(not r.abstained and not r.error and not r.citations for r in results),
        errors=sum(r.error is not None for r in results),
        latency_p50_s=_percentile(timed, 50),
        latency_p90_s=_percentile(timed, 90),
        first_token_p50_s=_percentile(first, 50),
        mean_prompt_tokens=float(np.mean(prompted)) if prompted else None,
    )


# -- running ----------------------------------------------------------------------------------


def _ask(assistant: Assistant, case: Case) -> tuple[Answer, str | None]:
    try:
        return assistant.ask(case.question, history=case.history), None
    except AssistantError as exc:  # recorded as a wrong answer, so one bad case keeps the run
        stand_in = Answer(question=case.question, text=f"(error) {exc}")
        return stand_in, str(exc)


def corpus_texts(assistant: Assistant, files: set[str]) -> dict[str, str]:
    """The current text of each file, read as the product reads it, from the indexed folder."""
    manifest = assistant.manifest()
    root = Path(manifest.corpus_dir) if manifest.corpus_dir else assistant.settings.corpus_dir
    texts = {}
    for file in sorted(files | set(manifest.files)):
        try:
            texts[file] = read_document(root, file).text
        except (OSError, ValueError):
            continue  # a missing file: its citations are unverifiable, its support unfound
    return texts


def read_previous(path: Path) -> EvalReport | None:
    try:
        return EvalReport.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def evaluate(
    assistant: Assistant,
    cases_path: str | Path,
    split: str | None = None,
    previous: EvalReport | None = None,
    corpus: str = "",
) -> EvalRun:
    """Ask every case of `cases_path` once and score the answers (nothing is written)."""
    cases = load_cases(cases_path)
    split = split or Path(cases_path).stem
    started = time.perf_counter()
    answers = [_ask(assistant, case) for case in cases]
    wall_s = time.perf_counter() - started
    files = {s.file for c in cases for s in c.support} | {
        c.file for a, _ in answers for c in a.citations
    }
    texts = corpus_texts(assistant, files)
    results = [
        score_case(case, answer, texts, error)
        for case, (answer, error) in zip(cases, answers, strict=True)
    ]
    served = next((a for a, error in answers if error is None), None)
    prior = next((r for r in previous.runs if r.split == split), None) if previous else None
    return EvalRun(
        split=split,
        date=datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        backend=served.backend if served else "?",
        model=served.model if served else "?",
        cases_file=str(cases_path),
        corpus=corpus,
        wall_s=wall_s,
        metrics=compute_metrics(results),
        per_kind={
            k: compute_metrics([r for r in results if r.kind == k])
            for k in KINDS
            if any(r.kind == k for r in results)
        },
        previous=prior.metrics if prior else None,
        previous_date=prior.date if prior else None,
        previous_verdicts={r.id: r.verdict for r in prior.results} if prior else {},
        results=results,
    )


def write_report(
    runs: Sequence[EvalRun], report_dir: str | Path, order: Sequence[str] = ()
) -> EvalReport:
    """Write report.md and report.json with these runs; splits in the previous report.json that
    were not run this time are kept as they were (each run says its date), so one report always
    shows every split. `order` lists split names to put first."""
    report_dir = Path(report_dir)
    previous = read_previous(report_dir / "report.json")
    by_split = {r.split: r for r in (previous.runs if previous else [])}
    by_split.update({r.split: r for r in runs})
    rank = {name: n for n, name in enumerate(order)}
    ordered = sorted(by_split.values(), key=lambda r: (rank.get(r.split, len(rank)), r.split))
    report = EvalReport(runs=ordered)
    report.write(report_dir)
    return report


def run_evaluation(assistant: Assistant, cases_path: str | Path, report_dir: str | Path) -> EvalRun:
    """Evaluate one cases file and add it to the report in `report_dir`."""
    report_dir = Path(report_dir)
    run = evaluate(assistant, cases_path, previous=read_previous(report_dir / "report.json"))
    write_report([run], report_dir)
    return run
