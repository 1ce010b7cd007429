"""Replay verification over the drafts a report recorded, with the current code, in seconds.

    .venv/bin/python evals/replay.py [REPORT.json] [--split dev]

Each case's recorded model draft and evidence go through today's `verify`; the answers are
scored again and the metrics printed beside the recorded ones, with every verdict that changed.
Only verification is replayed (retrieval, evidence and the model are as recorded), so this is
for tuning verification rules on the dev split. Never replay the held-out splits case by case.
The focus check's second opinion (the model asked whether a cited text answers the question) is
not recorded: without --judge it says yes, so replay with --judge where it can fire.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant import verification  # noqa: E402
from assistant.api import combined_answer  # noqa: E402
from assistant.evaluation import (  # noqa: E402
    ROWS,
    EvalRun,
    compute_metrics,
    format_metric,
    load_cases,
    read_previous,
    score_case,
)
from assistant.generation import parse_claims  # noqa: E402
from assistant.loading import read_document  # noqa: E402
from assistant.questions import standalone  # noqa: E402
from assistant.schema import Answer, Part  # noqa: E402
from assistant.verification import Judge, Verified, verify_part  # noqa: E402
from evals.splits import EVALS, SPLITS  # noqa: E402


def _recorded(scores: dict[str, float]) -> Judge:
    """The support check's scores as the run recorded them (a claim it never saw passes)."""

    def judge(pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [scores.get(statement, float("inf")) for _, statement in pairs]

    return judge


def _verify(part: Part, text: Callable[[str], str], judge: Judge) -> Verified:
    passages = [text(p.file)[p.start : p.end] for p in part.retrieved]
    return verify_part(
        part.question, parse_claims(part.draft), part.evidence, passages, text, judge
    )


def replay(run: EvalRun, judge: Judge | None = None) -> list:  # type: ignore[type-arg]
    split = SPLITS[run.split]
    root = split.source_dir()
    cases = {c.id: c for c in load_cases(split.cases)}
    texts: dict[str, str] = {}

    def text(file: str) -> str:
        if file not in texts:
            texts[file] = read_document(root, file).text
        return texts[file]

    results = []
    for old in run.results:
        case = cases[old.id]
        asked = old.asked or case.question  # as the pipeline read it (a follow-up's referent)
        if case.history and not old.asked:
            asked = standalone(case.question, case.history[-1].question, case.history[-1].answer)
        recorded = {c.text: c.support for c in [*old.claims, *old.dropped] if c.support is not None}
        # a compound question was drafted part by part: each part is verified on its own
        parts = old.parts or [
            Part(question=asked, draft=old.draft, evidence=old.evidence, retrieved=old.retrieved)
        ]
        verified, answer_text = combined_answer(
            asked,
            [p.question for p in parts],
            [_verify(p, text, judge or _recorded(recorded)) for p in parts],
        )
        answer = Answer(
            question=case.question,
            text=answer_text,
            citations=verified.citations,
            abstained=verified.abstained,
            conflict=verified.conflict,
            dropped=verified.dropped,
            evidence=old.evidence,
            retrieved=old.retrieved,
        )
        for f in {s.file for s in case.support} | {c.file for c in answer.citations}:
            text(f)
        results.append(score_case(case, answer, texts, old.error))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, default=EVALS / "report.json")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--judge", action="store_true", help="run the support check (model)")
    parser.add_argument("--ablate", action="append", default=[], help="a rule to switch off")
    parser.add_argument("--totals", action="store_true", help="metrics only, no cases")
    parser.add_argument("--threshold", type=float, help="the support check's threshold")
    args = parser.parse_args()
    verification.ABLATED.update(args.ablate)
    if args.threshold is not None:
        verification.SUPPORT_THRESHOLD = args.threshold
    report = read_previous(args.report)
    run = next((r for r in report.runs if r.split == args.split), None) if report else None
    if run is None or not any(r.draft for r in run.results):
        sys.exit(f"{args.report} has no {args.split} run with recorded drafts")
    judge = None
    if args.judge:
        from assistant.backends import embedded_backend
        from assistant.settings import Settings

        judge = embedded_backend(Settings()).support_judge()
    new = replay(run, judge)
    before, after = compute_metrics(run.results), compute_metrics(new)
    for name, label, ratio in ROWS[:9]:
        old_v, new_v = getattr(before, name), getattr(after, name)
        print(f"{label:<42} {format_metric(old_v, ratio):>8} -> {format_metric(new_v, ratio):>8}")
    if args.totals or args.split != "dev":
        return  # held-out splits: totals only
    for old, now in zip(run.results, new, strict=True):
        if old.verdict != now.verdict or old.answer != now.answer:
            print(
                f"\n{old.id}: {old.verdict} -> {now.verdict}\n"
                f"  was: {old.answer}\n  now: {now.answer}"
            )
            for d in now.dropped:
                print(f"  dropped ({d.reason}): {d.text}")


if __name__ == "__main__":
    main()
