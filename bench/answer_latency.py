"""Answer latency with the embedded model, warm, over the eval questions. Prints figures only.

    .venv/bin/python bench/answer_latency.py [--limit N]     # --limit 3: a quick partial run

Reports p50/p90 answer time, time to the first streamed token, prompt tokens, peak memory, and
the cold start (a new `assistant ask` process, from start to printed answer). The figures also
go to bench/results.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Figures, copy_seeds, eval_questions, fmt, peak_rss_mb, percentile, script_options  # noqa: E402

from assistant import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402

WARM_UP = "Warm-up: who is Philip Luther?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions")
    args = parser.parse_args()
    fig = Figures("answer_latency", partial=bool(args.limit), options=script_options())
    questions = eval_questions(args.limit)

    work = Path(tempfile.mkdtemp(prefix="bench-answers-"))
    try:
        settings = Settings(corpus_dir=copy_seeds(work / "corpus"), index_dir=work / "index",
                            backend="embedded")
        assistant = Assistant(settings)
        assistant.ingest()

        env = {**os.environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir),
               "ASSISTANT_BACKEND": "embedded"}
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "assistant", "ask", questions[0]], env=env,
                       check=True, capture_output=True)
        cold_s = time.perf_counter() - t

        assistant.ask(WARM_UP)  # loads the model once, as a session would
        totals, firsts, prompts = [], [], []
        for question in questions:
            answer = assistant.ask(question)
            totals.append(answer.timings["total_s"])
            if "first_token_s" in answer.timings:
                firsts.append(answer.timings["first_token_s"])
            prompts.append(answer.prompt_tokens)
        peak_mb = peak_rss_mb()

        p50, p90 = percentile(totals, 50), percentile(totals, 90)
        f50, f90 = percentile(firsts, 50), percentile(firsts, 90)
        fig.line(f"questions: {len(questions)} (evals/dev.jsonl), backend embedded, "
                 f"model {assistant.backend.model}, threads {settings.threads}")
        fig.line(f"answer time   p50 {fmt(p50, '5.2f')} s   p90 {fmt(p90, '5.2f')} s"
                 "   (target p50 <= 4 s)")
        fig.line(f"first token   p50 {fmt(f50, '5.2f')} s   p90 {fmt(f90, '5.2f')} s"
                 f"   (target <= 1.5 s; {len(firsts)} answers streamed tokens)")
        fig.line(f"prompt tokens mean {statistics.mean(prompts):5.0f}   max {max(prompts)}")
        fig.line(f"peak memory (RSS) {peak_mb:6.0f} MB   (target <= 3 GB)")
        fig.line(f"cold start (new process to printed answer) {cold_s:5.1f} s")
        for key, value in {
            "questions": len(questions), "answer_p50_s": p50, "answer_p90_s": p90,
            "first_token_p50_s": f50, "first_token_p90_s": f90,
            "prompt_tokens_mean": statistics.mean(prompts), "peak_rss_mb": peak_mb,
            "cold_start_s": cold_s,
        }.items():
            fig.set(key, value)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"written to {fig.save()}")


if __name__ == "__main__":
    main()
