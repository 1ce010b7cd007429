"""Run every benchmark in sequence and write bench/results.md.

    .venv/bin/python bench/run_all.py            # the full runs (about 40 min on 2 cores)
    .venv/bin/python bench/run_all.py --quick    # small inputs, to check that all scripts work
    .venv/bin/python bench/run_all.py --only retrieval,peer

Each script runs in its own process (so each memory figure is its own) and stores its figures in
bench/results.json; results.md is rendered from that file with the machine (CPU model, usable
cores, memory), the versions, the date, each script's printed figures and the targets, judged met
or missed where a figure allows it. Run on a quiet machine: the timings are only as good as that.
A script that fails is recorded as failed and the others still run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import report  # noqa: E402
from common import BENCH, REPO, load_average  # noqa: E402

# (section, script, quick options)
SCRIPTS: tuple[tuple[str, str, list[str]], ...] = (
    ("ingest", "ingest.py", ["--files", "100"]),
    ("answer_latency", "answer_latency.py", ["--limit", "3"]),
    ("retrieval", "retrieval.py", ["--quick"]),
    ("peer", "peer.py", ["--limit", "3"]),
)
# The peer answers in ~40 s a question on 2 cores (its prompts are ~2,100 tokens), so all 68
# cases would take 45 min on their own; by default it gets 24, spread over every kind.
PEER_QUESTIONS = 24


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs (partial runs)")
    parser.add_argument("--only", default="", help="comma-separated sections: "
                        + ", ".join(s for s, _, _ in SCRIPTS))
    parser.add_argument("--peer-questions", type=int, default=PEER_QUESTIONS,
                        help=f"questions for the peer comparison (default {PEER_QUESTIONS}; "
                             "0: all cases, about 45 min more)")
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - {s for s, _, _ in SCRIPTS}
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    if not only:
        report.reset()  # a whole run starts clean: no section from an earlier run survives
    for section, script, quick in SCRIPTS:
        if only and section not in only:
            continue
        options = quick if args.quick else []
        if section == "peer" and not args.quick:
            options = ["--limit", str(args.peer_questions)] if args.peer_questions else []
        command = [sys.executable, str(BENCH / script), *options]
        print(f"\n=== {script} {' '.join(command[2:])}", flush=True)
        started, load = time.strftime("%Y-%m-%d %H:%M:%S"), load_average()
        t = time.perf_counter()
        code = subprocess.run(command, cwd=REPO).returncode
        if code != 0:
            report.record(section, lines=[], values={}, partial=args.quick,
                          options=" ".join(command[2:]) or "(defaults)", started=started,
                          wall_s=time.perf_counter() - t, load_avg=f"{load} before",
                          failed=f"exit code {code}; see the script's output")
            print(f"=== {script} failed with exit code {code}", flush=True)
    report.RESULTS_MD.write_text(report.render(report.load()), encoding="utf-8")
    print(f"\nwrote {report.RESULTS_MD}")
    for target, measured, verdict in report.judge(report.load()):
        print(f"  {verdict:<24} {target}: {measured}")


if __name__ == "__main__":
    main()
