"""Helpers shared by the benchmark scripts: paths, percentiles, memory, the eval questions, and
`Figures`, which prints each line a script reports and records it (with its numbers) for
bench/results.md.

Benchmarks print ratios measured in one run; they never assert on timings.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SEEDS = REPO / "seeds"
CASES = REPO / "evals" / "dev.jsonl"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation, as the evals compute it)."""
    return float(np.percentile(list(values), q)) if values else None


def rss_mb() -> float:
    """The current resident set size of this process (VmRSS), in MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """The peak resident set size of this process so far (ru_maxrss), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def eval_questions(limit: int = 0) -> list[str]:
    """The questions of evals/dev.jsonl, in file order; `limit` keeps the first N."""
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    questions = [str(c["question"]) for c in cases]
    return questions[:limit] if limit > 0 else questions


def copy_seeds(target: Path) -> Path:
    """A private copy of seeds/ (benchmarks never write next to the shipped corpus)."""
    shutil.copytree(SEEDS, target)
    return target


def fmt(value: float | None, spec: str = ".2f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


class Figures:
    """What one benchmark script reports: the printed lines and the numbers behind them.

    `line` prints at once (so a long run shows progress) and keeps the text for results.md;
    `set` records a number that bench/results.md uses to judge a target.
    """

    def __init__(self, section: str, partial: bool, options: str) -> None:
        self.section = section
        self.partial = partial  # a --limit/--quick run: not the benchmark's full input
        self.options = options
        self.lines: list[str] = []
        self.values: dict[str, Any] = {}
        self.started = time.strftime("%Y-%m-%d %H:%M:%S")
        self.load_before = load_average()
        self.environment = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items())
                                    if k.startswith("ASSISTANT_"))
        self._t0 = time.perf_counter()

    def line(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def save(self) -> Path:
        """Store this run in bench/results.json and re-render bench/results.md."""
        from report import record  # bench/ is on sys.path when a script runs

        return record(
            self.section, lines=self.lines, values=self.values, partial=self.partial,
            options=self.options, started=self.started, environment=self.environment,
            wall_s=time.perf_counter() - self._t0,
            load_avg=f"{self.load_before} before, {load_average()} after",
        )


def script_options() -> str:
    """The command line a script was started with, for the record."""
    return " ".join(sys.argv[1:]) or "(defaults)"
