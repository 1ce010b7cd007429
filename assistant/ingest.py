"""Folder -> index, incrementally: only new or changed files are parsed, chunked and embedded.

Order of writes (each step safe to interrupt):
1. mark the index as "in progress", then add vectors for new passages (ids are content hashes, so
   a re-run skips what an interrupted run already stored);
2. build a new BM25 folder beside the old one;
3. replace the manifest atomically (this is the commit point readers see);
4. delete vectors and BM25 folders that the new manifest no longer names, clear the mark.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.chunking import chunk
from assistant.embedding import Encoder
from assistant.errors import CorpusNotFoundError
from assistant.index import FileEntry, IndexStore, Manifest, index_errors, passage_to_node
from assistant.loading import iter_files, parse
from assistant.schema import IngestReport, Passage, Skipped
from assistant.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode

Progress = Callable[[str, int, int], None]  # (stage, done, total)

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
        )

        # Plan: hash every file; parse only those whose bytes changed.
        changed: dict[str, tuple[str, list[Passage]]] = {}
        encoder: Encoder | None = None
        for item in iter_files(corpus_dir, settings.max_file_bytes):
            if isinstance(item, Skipped):
                report.skipped.append(item)
                continue
            found, data = item
            document = parse(found, data)
            if isinstance(document, Skipped):
                report.skipped.append(document)
                continue
            entry = manifest.files.get(found.file)
            if entry is not None and entry.sha256 == document.sha256:
                report.unchanged.append(found.file)
                continue
            (report.updated if entry is not None else report.added).append(found.file)
            encoder = encoder or encoder_factory()
            passages = chunk(
                document, settings.chunk_tokens, settings.chunk_overlap_tokens, encoder.count_tokens
            )
            changed[found.file] = (document.sha256, passages)
        # Files that vanished, or turned unreadable, leave the index.
        kept = {*report.unchanged, *changed}
        report.removed = sorted(f for f in manifest.files if f not in kept)
        dirty = bool(changed or report.removed or store.marker_path.exists() or rebuild)
        if not dirty:
            return

        store.marker_path.write_text(time.strftime("%Y-%m-%d %H:%M:%S"))
        stored = store.stored_ids()
        todo = [p for _, ps in changed.values() for p in ps if p.id not in stored]
        if todo:
            assert encoder is not None
            _embed_and_store(store, encoder, todo, progress)
        report.passages_embedded = len(todo)

        for file in report.removed:
            manifest.files.pop(file, None)
        for file, (sha, made) in changed.items():
            manifest.files[file] = FileEntry(sha256=sha, passages=[p.id for p in made])
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
