"""Folder -> index, incrementally: only new or changed files are parsed, chunked and embedded.

Order of writes (each step safe to interrupt):
1. mark the index as "in progress", then add vectors for new passages (ids are content hashes, so
   a re-run skips what an interrupted run already stored);
2. build a new BM25 folder beside the old one;
3. replace the manifest atomically (this is the commit point readers see);
4. delete vectors and BM25 folders that the new manifest no longer names, clear the mark.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.chunking import chunk
from assistant.embedding import Encoder
from assistant.errors import CorpusNotFoundError
from assistant.index import (
    FileEntry,
    IndexStore,
    Manifest,
    SkippedEntry,
    Stamp,
    index_errors,
    passage_to_node,
)
from assistant.loading import SUPPORTED, parse, read_bytes, walk
from assistant.schema import IngestReport, Passage, Skipped
from assistant.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode

Progress = Callable[[str, int, int], None]  # (stage, done, total): "files", "embedding", ...

EMBED_BATCH = 64


def ingest(
    settings: Settings,
    corpus_dir: Path,
    encoder_factory: Callable[[], Encoder],
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    started = time.perf_counter()
    store = IndexStore(settings)
    report = IngestReport()
    if not corpus_dir.is_dir():
        raise CorpusNotFoundError(
            f"The folder {corpus_dir} does not exist; pass a folder of documents."
        )
    with index_errors(settings.index_dir):
        _ingest(settings, store, report, corpus_dir, encoder_factory, rebuild, progress)
    report.seconds = time.perf_counter() - started
    return report


def _ingest(
    settings: Settings,
    store: IndexStore,
    report: IngestReport,
    corpus_dir: Path,
    encoder_factory: Callable[[], Encoder],
    rebuild: bool,
    progress: Progress | None,
) -> None:
    with store.writer_lock():
        from assistant.index import encoder_id_for

        encoder_id = encoder_id_for(settings)
        old = store.read_manifest()
        if old is not None and not rebuild:
            problem = old.mismatch(settings, encoder_id)
            if problem:
                report.notice = f"Rebuilt the index: it was built with {problem}."
                rebuild = True
        if rebuild:
            store.reset()
            report.rebuilt = True
            old = None
        manifest = Manifest(
            encoder=encoder_id,
            chunk_tokens=settings.chunk_tokens,
            chunk_overlap_tokens=settings.chunk_overlap_tokens,
            corpus_dir=str(corpus_dir.resolve()),
            files={} if old is None else dict(old.files),
            bm25_dir=None if old is None else old.bm25_dir,
            last_ingest=None if old is None else old.last_ingest,
        )

        # Plan: a file whose size and mtime are as recorded is unchanged, unread; any other is
        # hashed, and parsed only when its bytes changed.
        changed: dict[str, tuple[str, Stamp, list[Passage]]] = {}
        restamped: dict[str, Stamp] = {}
        unusable: dict[str, SkippedEntry] = {}
        encoder: Encoder | None = None
        found_files, walk_skipped = walk(corpus_dir)
        report.skipped += walk_skipped
        for n, found in enumerate(found_files, 1):
            if progress:
                progress("files", n, len(found_files))
            try:
                stamp = _stamp(found.path)
            except OSError as exc:
                reason = f"cannot read: {exc.strerror}"
                report.skipped.append(Skipped(file=found.file, reason=reason))
                continue
            entry = manifest.files.get(found.file)
            if entry is not None and entry.same(stamp):
                report.unchanged.append(found.file)
                continue
            known = old.skipped.get(found.file) if old is not None else None
            if known is not None and known.same(stamp):
                report.skipped.append(Skipped(file=found.file, reason=known.reason))
                unusable[found.file] = known
                continue
            data = read_bytes(found, settings.max_file_bytes)
            if isinstance(data, Skipped):  # by type or size: known without reading
                report.skipped.append(data)
                continue
            if entry is not None and entry.sha256 == hashlib.sha256(data).hexdigest():
                report.unchanged.append(found.file)  # touched, not changed
                restamped[found.file] = stamp
                continue
            document = parse(found, data)
            if isinstance(document, Skipped):
                report.skipped.append(document)
                unusable[found.file] = SkippedEntry(**stamp.model_dump(), reason=document.reason)
                continue
            (report.updated if entry is not None else report.added).append(found.file)
            encoder = encoder or encoder_factory()
            passages = chunk(
                document, settings.chunk_tokens, settings.chunk_overlap_tokens, encoder.count_tokens
            )
            changed[found.file] = (document.sha256, stamp, passages)
        # Files that vanished, or turned unreadable, leave the index.
        kept = {*report.unchanged, *changed}
        report.removed = sorted(f for f in manifest.files if f not in kept)
        for file, stamp in restamped.items():
            manifest.files[file] = manifest.files[file].model_copy(update=stamp.model_dump())
        manifest.skipped = unusable
        dirty = bool(changed or report.removed or store.marker_path.exists() or rebuild)
        if not dirty:
            if old is not None and (restamped or unusable != old.skipped):
                store.write_manifest(manifest)  # new stamps only: the passages are as they were
            return

        store.marker_path.write_text(time.strftime("%Y-%m-%d %H:%M:%S"))
        stored = store.stored_ids()
        todo = [p for _, _, ps in changed.values() for p in ps if p.id not in stored]
        if todo:
            assert encoder is not None
            _embed_and_store(store, encoder, todo, progress)
        report.passages_embedded = len(todo)

        for file in report.removed:
            manifest.files.pop(file, None)
        for file, (sha, stamp, made) in changed.items():
            manifest.files[file] = FileEntry(
                sha256=sha, passages=[p.id for p in made], **stamp.model_dump()
            )
        live = manifest.live_ids()
        if progress:
            progress("keyword index", 0, 1)
        manifest.bm25_dir = store.save_bm25(_live_nodes(store, live))
        manifest.last_ingest = time.strftime("%Y-%m-%d %H:%M:%S")
        store.write_manifest(manifest)  # commit point

        store.delete_ids(store.stored_ids() - live)
        store.drop_old_bm25(manifest.bm25_dir)
        store.marker_path.unlink(missing_ok=True)
        if progress:
            progress("keyword index", 1, 1)


def _embed_and_store(
    store: IndexStore, encoder: Encoder, passages: list[Passage], progress: Progress | None
) -> None:
    for i in range(0, len(passages), EMBED_BATCH):
        batch = passages[i : i + EMBED_BATCH]
        vectors = encoder.embed([p.text for p in batch])
        nodes = []
        for passage, vector in zip(batch, vectors, strict=True):
            node = passage_to_node(passage)
            node.embedding = vector.tolist()
            nodes.append(node)
        store.vector_store.add(nodes)
        if progress:
            progress("embedding", min(i + EMBED_BATCH, len(passages)), len(passages))


def _live_nodes(store: IndexStore, live: set[str]) -> list[BaseNode]:
    """All live passages as llama-index nodes, read back from Chroma for the BM25 index."""
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    ids = sorted(live)
    nodes: list[BaseNode] = []
    for i in range(0, len(ids), 5000):
        got = store.collection.get(ids=ids[i : i + 5000], include=["documents", "metadatas"])
        for text, meta in zip(got["documents"], got["metadatas"], strict=True):
            nodes.append(metadata_dict_to_node(meta, text=text))
    return nodes


RACY_NS = 2_000_000_000


def _stamp(path: Path) -> Stamp:
    """A file changed within the last two seconds gets no mtime: an edit in the same clock tick
    could keep both size and mtime, so the next look hashes it instead of trusting them."""
    stamp = Stamp.of(path.stat())
    if time.time_ns() - stamp.mtime_ns < RACY_NS:
        stamp.mtime_ns = -1
    return stamp


def pending_changes(manifest: Manifest, corpus_dir: Path, max_bytes: int) -> list[str]:
    """Files that changed, appeared or vanished since the manifest was written, by their size and
    mtime alone (nothing is read): what the next ingestion would re-read or drop."""
    found, _ = walk(corpus_dir)
    changed: list[str] = []
    present: set[str] = set()
    for item in found:
        if item.path.suffix.lower() not in SUPPORTED:
            continue
        try:
            st = item.path.stat()
        except OSError:
            continue
        if st.st_size > max_bytes and item.file not in manifest.files:
            continue  # skipped by size, unread, at every ingestion
        present.add(item.file)
        known = manifest.files.get(item.file) or manifest.skipped.get(item.file)
        if known is None or (known.size, known.mtime_ns) != (st.st_size, st.st_mtime_ns):
            changed.append(item.file)
    return changed + sorted(set(manifest.files) - present)


STAGES = {
    "files": "Reading files",
    "embedding": "Embedding passages",
    "keyword index": "Building the keyword index",
}


class ProgressLine:
    """Progress calls as one line a person reads: the stage, how far, and the time left."""

    def __init__(self) -> None:
        self.stage = ""
        self.since = 0.0

    def __call__(self, stage: str, done: int, total: int) -> str:
        now = time.perf_counter()
        if stage != self.stage:
            self.stage, self.since = stage, now
        name = STAGES.get(stage, stage)
        if stage == "keyword index":
            return name
        line = f"{name}: {done:,} of {total:,}"
        elapsed = now - self.since
        if 0 < done < total and elapsed >= 1:
            line += f", about {max(1, round(elapsed * (total - done) / done))} s left"
        return line
