"""Ingestion at scale on a real corpus (BBC News, 2,225 articles). Prints figures; asserts nothing.

    .venv/bin/python bench/ingest.py [--files N]      # --files 100: a quick partial run

Measured in one run, on the same passages: the bare encoder's passages/s and the whole
pipeline's (load, hash, chunk, embed, store in Chroma, BM25, manifest), so the pipeline's
overhead shows as a ratio; then an unchanged re-run (in-process and as a fresh CLI process),
the index size on disk and peak memory. The figures also go to bench/results.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Figures, peak_rss_mb, script_options  # noqa: E402
from corpora import bbc_news  # noqa: E402

from assistant import Assistant  # noqa: E402
from assistant.chunking import chunk  # noqa: E402
from assistant.loading import iter_files, parse  # noqa: E402
from assistant.schema import Document, Skipped  # noqa: E402
from assistant.settings import Settings  # noqa: E402

BATCH = 64  # the pipeline's embedding batch (assistant/ingest.py EMBED_BATCH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=0, help="use only the first N files")
    args = parser.parse_args()
    fig = Figures("ingest", partial=bool(args.files), options=script_options())

    source = bbc_news()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
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
        encoder.embed([p.text for p in passages[:BATCH]])  # warm-up
        t = time.perf_counter()
        for i in range(0, len(passages), BATCH):
            encoder.embed([p.text for p in passages[i : i + BATCH]])
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
        ratio = pipeline_rate / bare_rate

        fig.line(f"corpus: BBC News, {len(files)} files, {len(documents)} read, "
                 f"{len(report.skipped)} skipped "
                 f"({'; '.join(s.reason for s in report.skipped[:3]) or 'none'})")
        fig.line(f"passages: {len(passages)} (chunk {settings.chunk_tokens} tokens), "
                 f"threads {settings.threads}")
        fig.line(f"bare encoder:  {bare_rate:8.1f} passages/s  ({bare_s:.1f} s)")
        fig.line(f"pipeline:      {pipeline_rate:8.1f} passages/s  ({pipeline_s:.1f} s, "
                 f"{report.passages_embedded} embedded)")
        fig.line(f"ratio pipeline/bare: {ratio:.2f}  (target >= 0.8)")
        fig.line(f"unchanged re-run: {rerun_s:.2f} s in-process, {rerun_cli_s:.2f} s as a new "
                 f"`assistant ingest` process; embedded {again.passages_embedded}  "
                 "(target < 2 s for 2,000 files)")
        fig.line(f"index on disk: {stats.size_bytes / 1e6:.1f} MB for {stats.passages} passages")
        fig.line(f"peak memory (RSS): {peak_rss_mb():.0f} MB")
        for key, value in {
            "files": len(files), "documents": len(documents), "passages": len(passages),
            "bare_rate": bare_rate, "pipeline_rate": pipeline_rate, "ratio": ratio,
            "rerun_s": rerun_s, "rerun_cli_s": rerun_cli_s, "index_mb": stats.size_bytes / 1e6,
            "peak_rss_mb": peak_rss_mb(),
        }.items():
            fig.set(key, value)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"written to {fig.save()}")


if __name__ == "__main__":
    main()
