"""Answer latency with the embedded model over the eval questions; optionally against an older
revision in the same run, interleaved question by question. Prints figures only.

    .venv/bin/python bench/answer_latency.py [--limit N] [--against REV]

Each side is a worker process (bench/answer_worker.py) with its own index of a private copy of
the seeds. With --against, REV is checked out in a temporary git worktree and both workers take
turns on each question (which goes first alternates), so both see the same machine load. Reports
p50/p90 answer time, time to the evidence being shown and to the first streamed token, prompt
tokens, the first answer after start (the model loads in the background meanwhile), identical
drafts, peak memory, and llama.cpp's prefill/decode rates on this machine, to place the times
against the hardware (prompt tokens / prefill rate + output tokens / decode rate). The figures
also go to bench/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import REPO, Figures, copy_seeds, eval_questions, fmt, percentile, script_options  # noqa: E402

WORKER = Path(__file__).parent / "answer_worker.py"


class Side:
    """A worker answering with the code of one checkout."""

    def __init__(self, label: str, tree: Path, work: Path) -> None:
        self.label = label
        corpus = copy_seeds(work / f"{label}-corpus")
        env = {**os.environ, "PYTHONPATH": str(tree)}
        env = {k: v for k, v in env.items() if not k.startswith("ASSISTANT_")}
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(corpus), str(work / f"{label}-index")],
            cwd=work, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.ready = self._read()
        self.results: list[dict[str, Any]] = []

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.label} worker stopped (see its error output above)")
        return json.loads(line)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def summary(fig: Figures, side: Side) -> dict[str, float | None]:
    warm = side.results[1:]  # the first answer after start is reported on its own
    first = side.results[0]["total_s"] if side.results else None
    values = {
        "answer_p50_s": percentile([r["total_s"] for r in warm], 50),
        "answer_p90_s": percentile([r["total_s"] for r in warm], 90),
        "first_token_p50_s": percentile([r["first_token_s"] for r in warm
                                         if "first_token_s" in r], 50),
        "reading_p50_s": percentile([r["reading_s"] for r in warm if "reading_s" in r], 50),
        "reading_max_s": max((r["reading_s"] for r in warm if "reading_s" in r), default=None),
        "prompt_tokens_mean": (sum(r["prompt_tokens"] for r in warm) / len(warm)) if warm else None,
        "first_answer_s": first,
        "peak_rss_mb": max((r["peak_rss_mb"] for r in side.results), default=None),
    }
    fig.line(f"{side.label:>8}: answer p50 {fmt(values['answer_p50_s'])} s, p90 "
             f"{fmt(values['answer_p90_s'])} s; first token p50 "
             f"{fmt(values['first_token_p50_s'])} s; evidence shown p50 "
             f"{fmt(values['reading_p50_s'])} s (max {fmt(values['reading_max_s'])} s); "
             f"prompt tokens {fmt(values['prompt_tokens_mean'], '.0f')}; first answer after start "
             f"{fmt(first)} s; peak RSS {fmt(values['peak_rss_mb'], '.0f')} MB")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions")
    parser.add_argument("--against", default="", help="a git revision to time in the same run")
    args = parser.parse_args()
    fig = Figures("answer_latency", partial=bool(args.limit), options=script_options())
    questions = eval_questions(args.limit)
    work = Path(tempfile.mkdtemp(prefix="bench-answers-"))
    old_tree = work / "old-tree"
    sides: list[Side] = []
    try:
        sides.append(Side("current", REPO, work))
        if args.against:
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q",
                            str(old_tree), args.against], check=True)
            sides.append(Side(args.against[:12], old_tree, work))
        for n, question in enumerate(questions):
            order = sides if n % 2 == 0 else sides[::-1]
            for side in order:
                side.results.append(side.ask({"question": question}))
        rates = sides[0].ask({"rates": True})
        fig.line(f"questions: {len(questions)} (evals/dev.jsonl), embedded model, warm; "
                 f"llama.cpp here: prefill {rates['prefill_tok_s']:.0f} tok/s, decode "
                 f"{rates['decode_tok_s']:.1f} tok/s")
        current = summary(fig, sides[0])
        for key, value in current.items():
            fig.set(key, value)
        fig.set("prefill_tok_s", rates["prefill_tok_s"])
        fig.set("decode_tok_s", rates["decode_tok_s"])
        if len(sides) == 2:
            old = summary(fig, sides[1])
            for key in ("answer_p50_s", "answer_p90_s", "first_token_p50_s", "prompt_tokens_mean"):
                if current[key] is not None and old[key]:
                    ratio = current[key] / old[key]
                    fig.line(f"   ratio current/{sides[1].label} {key}: {ratio:.2f}")
                    fig.set(f"ratio_{key}", ratio)
            same = sum(a.get("draft") == b.get("draft")
                       for a, b in zip(sides[0].results, sides[1].results, strict=True))
            fig.line(f"   identical drafts: {same} of {len(questions)}")
    finally:
        for side in sides:
            side.close()
        if old_tree.exists():
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                            str(old_tree)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    print(f"written to {fig.save()}")


if __name__ == "__main__":
    main()
