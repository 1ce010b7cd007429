"""Retrieval latency at 1k, 10k and 100k passages, through the product's own index and query path.

    .venv/bin/python bench/retrieval.py                   # 1k, 10k, 100k; 50 queries
    .venv/bin/python bench/retrieval.py --quick           # 1k and 2k, 10 queries: a partial run
    .venv/bin/python bench/retrieval.py --sizes 1000,10000 --queries 50 [--profile]

For each size: p50 and p90 over the eval questions of the dense stage (question encoding + Chroma),
the BM25 stage, fusion and the whole `HybridRetriever.retrieve` call, as `Assistant.retriever()`
opens it; the resident memory of the process that built the index and of a fresh process that
opened it and answered the queries, and how both grow with the size. Target: retrieval p50 <=
25 ms at 100k. A size whose p50 misses it (or every size, with --profile) is profiled with
pyinstrument and the profile is printed.

The passages are real: BBC News articles (bench/corpora.py) chunked with the product's chunker.
Beyond the distinct passages the corpus has, texts repeat with a numeric suffix (" (2)") under a
copy's file name. Embedding 100k passages would take hours on 2 cores, so only the first
--real-vectors passages (default 5,000) are embedded with MiniLM; every other passage gets one of
those real vectors plus gaussian noise (sigma 0.02 per dimension, cosine ~0.93 to the original),
re-normalised. Dense latency depends on the vectors' count and dimension, not their meaning, but
that synthetic part is stated with the figures. Each index is written the way `assistant ingest`
writes one (Chroma collection through IndexStore.vector_store, BM25 through save_bm25 over the
passages read back from Chroma, then the manifest), so the measured query path is the product's.
Sizes run in child processes so that each memory figure belongs to one index.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from common import Figures, eval_questions, peak_rss_mb, percentile, rss_mb, script_options  # noqa: E402

from assistant.settings import Settings  # noqa: E402

TARGET_MS = 25.0
NOISE_SIGMA = 0.02
DIM = 384
ADD_BATCH = 4096
WARM_UP_QUERIES = 5
RESULT = "RESULT "
STAGES = ("encode", "chroma", "dense", "bm25", "fuse", "fused")


# -- the passages (parent) ----------------------------------------------------------------------


def real_passages(settings: Settings, wanted: int) -> tuple[list[dict[str, Any]], int, Path]:
    """Passages of BBC News articles, chunked as the product chunks, until `wanted` or the end."""
    from corpora import bbc_news

    from assistant.chunking import chunk
    from assistant.embedding import token_counter
    from assistant.loading import iter_files, parse
    from assistant.schema import Document

    source = bbc_news()
    count = token_counter(settings)
    passages: list[dict[str, Any]] = []
    documents = 0
    for item in iter_files(source, settings.max_file_bytes):
        if isinstance(item, tuple):
            doc = parse(*item)
            if isinstance(doc, Document):
                documents += 1
                passages += [p.model_dump() for p in chunk(doc, settings.chunk_tokens,
                                                            settings.chunk_overlap_tokens, count)]
        if len(passages) >= wanted:
            break
    return passages[:wanted], documents, source


def real_vectors(
    settings: Settings, passages: list[dict[str, Any]], n: int
) -> tuple[np.ndarray, float | None]:
    """MiniLM vectors of the first n passages, cached by content (the embedding rate, if run)."""
    from corpora import CACHE

    from assistant.embedding import MiniLMEncoder

    key = hashlib.sha256("".join(p["id"] for p in passages[:n]).encode()).hexdigest()[:16]
    path = CACHE / f"retrieval-vectors-{MiniLMEncoder.id}-{n}-{key}.npy"
    if path.exists():
        return np.load(path), None
    encoder = MiniLMEncoder(settings)
    t = time.perf_counter()
    vectors = encoder.embed([p["text"] for p in passages[:n]])
    rate = n / (time.perf_counter() - t)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, rate


def synthetic(
    passages: list[dict[str, Any]], real: np.ndarray, size: int, seed: int = 0
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """`size` passages: the real ones, then copies with a numeric suffix; vectors as documented."""
    from assistant.chunking import passage_id

    out = []
    for i in range(size):
        copy, base = divmod(i, len(passages))
        p = passages[base]
        if copy == 0:
            out.append(p)
            continue
        file = f"copy{copy:03d}/{p['file']}"
        text = f"{p['text']} ({copy + 1})"
        out.append({"id": passage_id(file, p["start"], text), "file": file, "start": p["start"],
                    "end": p["start"] + len(text), "text": text})
    n_real = min(len(real), size)
    vectors = np.empty((size, DIM), dtype=np.float32)
    vectors[:n_real] = real[:n_real]
    if size > n_real:
        rng = np.random.default_rng(seed)
        extra = real[np.arange(n_real, size) % n_real] + rng.normal(
            0.0, NOISE_SIGMA, (size - n_real, DIM)).astype(np.float32)
        vectors[n_real:] = extra / np.linalg.norm(extra, axis=1, keepdims=True)
    return out, vectors


# -- a child: build one index -------------------------------------------------------------------


def child_build(work: Path, size: int) -> dict[str, Any]:
    """Write the index as `assistant ingest` does, with vectors already computed."""
    from assistant.index import FileEntry, IndexStore, Manifest, encoder_id_for, passage_to_node
    from assistant.ingest import _live_nodes
    from assistant.schema import Passage

    settings = Settings(corpus_dir=work, index_dir=work / f"index-{size}")
    passages = json.loads((work / "passages.json").read_text(encoding="utf-8"))
    real = np.load(work / "vectors.npy")
    rows, vectors = synthetic(passages, real, size)
    rss_start = rss_mb()
    store = IndexStore(settings)
    t0 = time.perf_counter()
    with store.writer_lock():
        for i in range(0, size, ADD_BATCH):
            nodes = []
            batch = zip(rows[i : i + ADD_BATCH], vectors[i : i + ADD_BATCH], strict=True)
            for row, vector in batch:
                node = passage_to_node(Passage(**row))
                node.embedding = vector.tolist()
                nodes.append(node)
            store.vector_store.add(nodes)
        t1 = time.perf_counter()
        by_file: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            by_file[row["file"]].append(row["id"])
        manifest = Manifest(
            encoder=encoder_id_for(settings), chunk_tokens=settings.chunk_tokens,
            chunk_overlap_tokens=settings.chunk_overlap_tokens, corpus_dir=None,
            # The files are not read at query time; their hash only stands in for the bytes'.
            files={f: FileEntry(sha256=hashlib.sha256(f.encode()).hexdigest(), passages=ids)
                   for f, ids in by_file.items()},
        )
        manifest.bm25_dir = store.save_bm25(_live_nodes(store, manifest.live_ids()))
        manifest.last_ingest = time.strftime("%Y-%m-%d %H:%M:%S")
        store.write_manifest(manifest)
        t2 = time.perf_counter()
    return {
        "size": size, "files": len(by_file), "chroma_s": t1 - t0, "bm25_manifest_s": t2 - t1,
        "rss_before_build_mb": rss_start, "rss_after_build_mb": rss_mb(),
        "peak_build_mb": peak_rss_mb(), "index_mb": _size_mb(settings.index_dir),
    }


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


# -- a child: query one index -------------------------------------------------------------------


def child_query(work: Path, size: int, queries: int, profile: bool) -> dict[str, Any]:
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from assistant import Assistant

    settings = Settings(corpus_dir=work, index_dir=work / f"index-{size}")
    questions = eval_questions(queries)
    app = Assistant(settings)
    encoder = app.encoder
    encoder.embed(["warm-up"])
    # The libraries of the query path, imported before the base figure: "index in RSS" is then
    # the index's own memory, not chromadb's or bm25s's code.
    import chromadb  # noqa: F401
    import llama_index.retrievers.bm25  # noqa: F401
    import llama_index.vector_stores.chroma  # noqa: F401

    import assistant.retrieval  # noqa: F401

    rss_base = rss_mb()
    t = time.perf_counter()
    retriever = app.retriever()  # opens the manifest, Chroma and BM25 as `ask` does
    open_s = time.perf_counter() - t
    rss_open = rss_mb()
    k = settings.top_k
    for q in questions[:WARM_UP_QUERIES]:
        app.retriever().retrieve(q, k)

    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    for q in questions:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        app.retriever().retrieve(q, k, timings)
        samples["fused"].append(time.perf_counter() - t)
        samples["dense"].append(timings["dense_s"])
        samples["bm25"].append(timings["bm25_s"])
        samples["fuse"].append(timings["fuse_s"])
        # The dense stage's two parts, measured apart: encoding the question, the Chroma query.
        t = time.perf_counter()
        vector = encoder.embed([q])[0].tolist()
        samples["encode"].append(time.perf_counter() - t)
        t = time.perf_counter()
        retriever.store.vector_store.query(VectorStoreQuery(query_embedding=vector,
                                                            similarity_top_k=2 * k))
        samples["chroma"].append(time.perf_counter() - t)
    stats = {f"{s}_p{q}_ms": 1000 * (percentile(v, q) or 0.0) for s, v in samples.items()
             for q in (50, 90)}
    result: dict[str, Any] = {
        "size": size, "queries": len(questions), "open_s": open_s, "rss_base_mb": rss_base,
        "rss_open_mb": rss_open, "rss_after_queries_mb": rss_mb(), "peak_query_mb": peak_rss_mb(),
        **stats,
    }
    if profile or stats["fused_p50_ms"] > TARGET_MS:
        result["profile"] = profile_queries(app, questions, k)
    return result


def profile_queries(app: Any, questions: list[str], k: int, rounds: int = 3) -> str:
    """Where the time of `retrieve` goes: pyinstrument over a few passes of the questions."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(rounds):
        for q in questions:
            app.retriever().retrieve(q, k)
    profiler.stop()
    flat = [line for line in profiler.output_text(flat=True).splitlines()
            if re.match(r"\s*\d+\.\d+ ", line)]
    tree = profiler.output_text().splitlines()
    start = next((i + 1 for i, line in enumerate(tree) if line.startswith("Profile at")), 0)
    tree = [line for line in tree[start:] if line.strip()]
    return "\n".join(["top functions by own time (s):", *flat[:20], "",
                      "call tree (s):", *tree[:50]])


def run_child(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"child {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            result: dict[str, Any] = json.loads(line[len(RESULT):])
            return result
    raise RuntimeError(f"child {' '.join(args)} printed no result:\n{proc.stdout[-2000:]}")


# -- the parent ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="passage counts, comma-separated")
    parser.add_argument("--queries", type=int, default=50, help="eval questions to time")
    parser.add_argument("--real-vectors", type=int, default=5000,
                        help="passages embedded with MiniLM; the rest reuse them with noise")
    parser.add_argument("--quick", action="store_true",
                        help="sizes 1000,2000, 10 queries, 500 real vectors (a partial run)")
    parser.add_argument("--profile", action="store_true", help="profile every size")
    parser.add_argument("--child", choices=["build", "query"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "build":
            result = child_build(args.work, args.size)
        else:
            result = child_query(args.work, args.size, args.queries, args.profile)
        print(RESULT + json.dumps(result), flush=True)
        return

    if args.quick:
        args.sizes, args.queries, args.real_vectors = "1000,2000", 10, 500
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    full = sizes == [1000, 10_000, 100_000] and args.queries >= 50
    fig = Figures("retrieval", partial=not full, options=script_options())

    settings = Settings()
    passages, documents, source = real_passages(settings, max(sizes))
    n_real = min(args.real_vectors, len(passages))
    real, rate = real_vectors(settings, passages, n_real)
    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    try:
        (work / "passages.json").write_text(json.dumps(passages), encoding="utf-8")
        np.save(work / "vectors.npy", real)
        fig.line(f"passages: BBC News ({documents} articles read) chunked by the product's "
                 f"chunker ({settings.chunk_tokens} tokens): {len(passages)} distinct real "
                 "passages; larger sizes repeat them with a numeric suffix")
        fig.line(f"vectors: {n_real} real MiniLM embeddings"
                 + (f" (embedded at {rate:.0f} passages/s)" if rate else " (cached)")
                 + f"; every other passage reuses one of them plus gaussian noise "
                 f"(sigma {NOISE_SIGMA}/dim), re-normalised: SYNTHETIC beyond {n_real}")
        fig.line(f"queries: {args.queries} eval questions (after {WARM_UP_QUERIES} warm-up), "
                 f"top_k {settings.top_k} (each retriever fetches {2 * settings.top_k}), "
                 f"threads {settings.threads}")
        fig.line("")
        rows: dict[str, dict[str, Any]] = {}
        for size in sizes:
            built = run_child(["--child", "build", "--work", str(work), "--size", str(size)])
            query_args = ["--child", "query", "--work", str(work), "--size", str(size),
                          "--queries", str(args.queries)] + (["--profile"] if args.profile else [])
            queried = run_child(query_args)
            shutil.rmtree(work / f"index-{size}", ignore_errors=True)
            rows[str(size)] = {**built, **queried}
            build_s = built["chroma_s"] + built["bm25_manifest_s"]
            print(f"  {size} passages: built in {build_s:.1f} s, fused p50 "
                  f"{queried['fused_p50_ms']:.1f} ms", file=sys.stderr, flush=True)
        report(fig, sizes, rows)
        fig.set("sizes", {k: {key: v for key, v in r.items() if key != "profile"}
                          for k, r in rows.items()})
        fig.set("real_vectors", n_real)
        fig.set("distinct_passages", len(passages))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"written to {fig.save()}")


def report(fig: Figures, sizes: list[int], rows: dict[str, dict[str, Any]]) -> None:
    fig.line("latency, ms (p50 / p90)")
    fig.line(f"{'passages':>9} {'encode':>13} {'chroma':>13} {'dense':>13} {'bm25':>13} "
             f"{'fuse':>11} {'retrieve':>13}  target p50 <= {TARGET_MS:.0f} ms")
    for size in sizes:
        r = rows[str(size)]
        cells = " ".join(
            f"{r[f'{s}_p50_ms']:6.1f}/{r[f'{s}_p90_ms']:<6.1f}".rjust(11 if s == "fuse" else 13)
            for s in STAGES)
        verdict = "met" if r["fused_p50_ms"] <= TARGET_MS else "MISSED"
        fig.line(f"{size:>9} {cells}  {verdict}")
    fig.line("(dense = encode + chroma + filtering; encode and chroma are timed apart, "
             "retrieve = dense + bm25 + fuse)")
    fig.line("")
    fig.line("memory (RSS, MB) and index size")
    fig.line(f"{'passages':>9} {'build (s)':>10} {'disk MB':>8} {'builder':>8} {'query base':>11} "
             f"{'opened':>7} {'after q':>8} {'index in RSS':>13} {'open (s)':>9}")
    for size in sizes:
        r = rows[str(size)]
        index_rss = r["rss_after_queries_mb"] - r["rss_base_mb"]
        fig.line(f"{size:>9} {r['chroma_s'] + r['bm25_manifest_s']:>10.1f} {r['index_mb']:>8.0f} "
                 f"{r['rss_after_build_mb']:>8.0f} {r['rss_base_mb']:>11.0f} "
                 f"{r['rss_open_mb']:>7.0f} {r['rss_after_queries_mb']:>8.0f} "
                 f"{index_rss:>13.0f} {r['open_s']:>9.2f}")
    fig.line("(builder = the building process after the build; query base = a fresh process with "
             "the encoder loaded; opened = after Assistant.retriever(); index in RSS = after "
             "queries minus base)")
    if len(sizes) > 1:
        lo, hi = rows[str(sizes[0])], rows[str(sizes[-1])]
        scale = sizes[-1] / sizes[0]
        grow = (hi["rss_after_queries_mb"] - hi["rss_base_mb"]) - (
            lo["rss_after_queries_mb"] - lo["rss_base_mb"])
        fig.line(f"growth {sizes[0]} -> {sizes[-1]} passages (x{scale:.0f}): retrieve p50 "
                 f"x{hi['fused_p50_ms'] / lo['fused_p50_ms']:.2f}, dense p50 "
                 f"x{hi['dense_p50_ms'] / lo['dense_p50_ms']:.2f}, bm25 p50 "
                 f"x{hi['bm25_p50_ms'] / lo['bm25_p50_ms']:.2f}; serving RSS "
                 f"+{grow:.0f} MB ({1000 * grow / (sizes[-1] - sizes[0]):.1f} KB per passage)")
    for size in sizes:
        profile = rows[str(size)].get("profile")
        if profile:
            fig.line("")
            fig.line(f"profile at {size} passages (pyinstrument, 3 passes over the queries):")
            for line in profile.splitlines():
                fig.line("  " + line)


if __name__ == "__main__":
    main()
