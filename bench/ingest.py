"""Ingestion at scale on a real corpus (BBC News, 2,225 articles). Prints figures; asserts nothing.

    .venv/bin/python bench/ingest.py [--files N]

Measured in one run, on the same passages: the bare encoder's passages/s and the whole
pipeline's (load, hash, chunk, embed, store in Chroma, BM25, manifest), so the pipeline's
overhead shows as a ratio; then an unchanged re-run (in-process and as a fresh CLI process),
the index size on disk and peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpora import bbc_news  # noqa: E402

from assistant import Assistant  # noqa: E402
from assistant.chunking import chunk  # noqa: E402
from assistant.loading import iter_files, parse  # noqa: E402
from assistant.schema import Document, Skipped  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=0, help="use only the first N files")
    args = parser.parse_args()

    source = bbc_news()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    corpus = work / "corpus"
    files = sorted(source.rglob("*.txt"))
    if args.files:
        files = files[: args.files]
    for path in files:
        target = corpus / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    settings = Settings(corpus_dir=corpus, index_dir=work / "index")
    assistant = Assistant(settings)
    encoder = assistant.encoder

    # The same passages the pipeline will make, embedded by the bare encoder.
    documents: list[Document] = []
    for item in iter_files(corpus, settings.max_file_bytes):
        if not isinstance(item, Skipped):
            doc = parse(*item)
            if isinstance(doc, Document):
                documents.append(doc)
    passages = [p for d in documents for p in chunk(d, settings.chunk_tokens,
                                                    settings.chunk_overlap_tokens,
                                                    encoder.count_tokens)]
    encoder.embed([p.text for p in passages[:64]])  # warm-up
    t = time.perf_counter()
    for i in range(0, len(passages), 64):
        encoder.embed([p.text for p in passages[i : i + 64]])
    bare_s = time.perf_counter() - t
    bare_rate = len(passages) / bare_s

    t = time.perf_counter()
    report = assistant.ingest(corpus)
    pipeline_s = time.perf_counter() - t
    pipeline_rate = report.passages_embedded / pipeline_s

    t = time.perf_counter()
    again = assistant.ingest(corpus)
    rerun_s = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "assistant", "ingest", str(corpus)], check=True,
                   capture_output=True,
                   env={**os.environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir)})
    rerun_cli_s = time.perf_counter() - t
    stats = assistant.index_stats()

    print(f"corpus: BBC News, {len(files)} files, {len(documents)} read, "
          f"{len(report.skipped)} skipped ({'; '.join(s.reason for s in report.skipped[:3])})")
    print(f"passages: {len(passages)} (chunk {settings.chunk_tokens} tokens)")
    print(f"bare encoder:  {bare_rate:8.1f} passages/s  ({bare_s:.1f} s)")
    print(f"pipeline:      {pipeline_rate:8.1f} passages/s  ({pipeline_s:.1f} s, "
          f"{report.passages_embedded} embedded)")
    print(f"ratio pipeline/bare: {pipeline_rate / bare_rate:.2f}  (target >= 0.8)")
    print(f"unchanged re-run: {rerun_s:.2f} s in-process, {rerun_cli_s:.2f} s as a new "
          f"`assistant ingest` process; embedded {again.passages_embedded}  (target < 2 s)")
    print(f"index on disk: {stats.size_bytes / 1e6:.1f} MB for {stats.passages} passages")
    print(f"peak memory (RSS): {peak_rss_mb():.0f} MB")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
