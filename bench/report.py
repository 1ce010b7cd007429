"""bench/results.md: the machine, the versions, each benchmark's printed figures, and the targets.

Each script stores its run in bench/results.json (`record`); results.md is always rendered again
from that file, so a script run alone updates its own section and the targets table, and
`bench/run_all.py` (which starts from an empty results.json) writes the whole page.

    .venv/bin/python bench/report.py      # render results.md again from results.json
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS_JSON = BENCH / "results.json"
RESULTS_MD = BENCH / "results.md"

SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("ingest", "Ingestion", "bench/ingest.py"),
    ("answer_latency", "Answer latency", "bench/answer_latency.py"),
    ("retrieval", "Retrieval latency at scale", "bench/retrieval.py"),
    ("peer", "Side by side with LlamaIndex's CitationQueryEngine", "bench/peer.py"),
)
PACKAGES = ("llama-cpp-python", "chromadb", "llama-index-core", "onnxruntime", "bm25s")


# -- what is stored -----------------------------------------------------------------------------


def load() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError):
        return {"runs": {}}


def reset() -> None:
    """Forget every stored run (run_all starts here, so no stale section survives)."""
    RESULTS_JSON.write_text(json.dumps({"runs": {}}, indent=1) + "\n", encoding="utf-8")


def record(section: str, *, lines: list[str], values: dict[str, Any], partial: bool,
           options: str, started: str, wall_s: float, load_avg: str,
           environment: str = "", failed: str | None = None) -> Path:
    data = load()
    data.setdefault("runs", {})[section] = {
        "lines": lines, "values": values, "partial": partial, "options": options,
        "started": started, "wall_s": wall_s, "load": load_avg, "environment": environment,
        "failed": failed,
    }
    RESULTS_JSON.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    RESULTS_MD.write_text(render(data), encoding="utf-8")
    return RESULTS_MD


# -- the machine --------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": f"{len(os.sched_getaffinity(0))} usable (os.sched_getaffinity), "
                 f"{os.cpu_count()} in the machine",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


# -- targets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    text: str
    section: str
    measure: Measure
    met: Callable[[float], bool]


Measure = Callable[[dict[str, Any]], tuple[float, str] | None]  # values -> (number, shown)


def _value(key: str, unit: str = "", spec: str = ".2f") -> Measure:
    def measure(values: dict[str, Any]) -> tuple[float, str] | None:
        v = values.get(key)
        return None if v is None else (float(v), f"{float(v):{spec}}{unit}")
    return measure


def _retrieval_at(size: int) -> Measure:
    def measure(values: dict[str, Any]) -> tuple[float, str] | None:
        row = values.get("sizes", {}).get(str(size))
        if not row or row.get("fused_p50_ms") is None:
            return None
        return float(row["fused_p50_ms"]), f"{row['fused_p50_ms']:.1f} ms"
    return measure


def _rerun(values: dict[str, Any]) -> tuple[float, str] | None:
    if values.get("rerun_cli_s") is None or values.get("files", 0) < 2000:
        return None  # the target is about 2,000 files; a smaller run does not judge it
    return (float(values["rerun_cli_s"]),
            f"{values['rerun_cli_s']:.2f} s as a new process ({values['rerun_s']:.2f} s "
            f"in-process), {values['files']} files")


def _peer_diff(metric: str) -> Measure:
    def measure(values: dict[str, Any]) -> tuple[float, str] | None:
        ours = values.get("ours", {}).get(metric)
        peer = values.get("peer", {}).get(metric)
        if ours is None or peer is None:
            return None
        return ours - peer, f"ours {100 * ours:.1f}% vs peer {100 * peer:.1f}%"
    return measure


def _peer_latency(values: dict[str, Any]) -> tuple[float, str] | None:
    ours = values.get("ours", {}).get("latency_p50_s")
    peer = values.get("peer", {}).get("latency_p50_s")
    if not ours or not peer:
        return None
    return ours / peer, f"ours {ours:.2f} s vs peer {peer:.2f} s (ratio {ours / peer:.2f})"


TARGETS: tuple[Target, ...] = (
    Target("answer p50 <= 4 s", "answer_latency", _value("answer_p50_s", " s"),
           lambda v: v <= 4.0),
    Target("first token p50 <= 1.5 s", "answer_latency", _value("first_token_p50_s", " s"),
           lambda v: v <= 1.5),
    Target("peak memory <= 3 GB (answering process)", "answer_latency",
           _value("peak_rss_mb", " MB", ".0f"), lambda v: v <= 3 * 1024),
    Target("retrieval p50 <= 25 ms at 100k passages (fused)", "retrieval",
           _retrieval_at(100_000), lambda v: v <= 25.0),
    Target("pipeline ingest >= 0.8x bare encoder", "ingest", _value("ratio", "x"),
           lambda v: v >= 0.8),
    Target("unchanged re-run of 2,000 files < 2 s", "ingest", _rerun, lambda v: v < 2.0),
    Target("answer accuracy above the peer's", "peer", _peer_diff("answer_accuracy"),
           lambda v: v > 0),
    Target("citation precision above the peer's", "peer", _peer_diff("citation_precision"),
           lambda v: v > 0),
    Target("answer p50 at most half the peer's", "peer", _peer_latency, lambda v: v <= 0.5),
)


def judge(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each target; verdict is met / missed / not measured."""
    rows = []
    for target in TARGETS:
        run = data.get("runs", {}).get(target.section)
        measured = target.measure(run["values"]) if run and not run.get("failed") else None
        if measured is None:
            rows.append((target.text, "–", "not measured"))
            continue
        number, shown = measured
        verdict = "met" if target.met(number) else "missed"
        if run and run.get("partial"):
            verdict += " (partial run)"
        rows.append((target.text, shown, verdict))
    return rows


# -- rendering ----------------------------------------------------------------------------------


def render(data: dict[str, Any]) -> str:
    runs: dict[str, Any] = data.get("runs", {})
    m, v = machine(), versions()
    out = [
        "# Benchmark results", "",
        "Written by the scripts in bench/ (`.venv/bin/python bench/run_all.py` runs them all). "
        "Figures are measured in one run on the machine below; ratios compare runs made in the "
        "same process or session. These are benchmarks, not tests: nothing here fails a build.",
        "",
        f"- rendered: {datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- CPU: {m['cpu']}; cores: {m['cores']}; memory: {m['memory']}; {m['os']}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
    ]
    if any(r.get("partial") for r in runs.values()):
        out += ["", "**Some sections below are partial runs (--limit/--quick options): their "
                "figures come from small inputs and do not judge the targets.**"]
    out += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    out += [f"| {t} | {measured} | {verdict} |" for t, measured, verdict in judge(data)]
    for key, title, script in SECTIONS:
        out += ["", f"## {title}", ""]
        run = runs.get(key)
        if run is None:
            out.append(f"Not run (`{script}`).")
            continue
        kind = "partial run" if run.get("partial") else "full run"
        out.append(f"`{script} {run['options']}` — {kind}, started {run['started']}, "
                   f"{run['wall_s']:.0f} s; load average (1/5/15 min) {run['load']}.")
        if run.get("environment"):
            out += ["", f"Settings from the environment: `{run['environment']}`."]
        if run.get("failed"):
            out += ["", f"**Failed:** {run['failed']}"]
        if run["lines"]:
            out += ["", "```", *run["lines"], "```"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    RESULTS_MD.write_text(render(load()), encoding="utf-8")
    print(f"wrote {RESULTS_MD}")
