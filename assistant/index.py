"""The index on disk: a Chroma collection, a BM25 index and a manifest, plus the writer lock.

Readers trust only the manifest, which is replaced atomically at the end of an ingestion. Chroma
may hold extra vectors left by an interrupted run; they are invisible to readers (filtered by the
manifest) and collected by the next ingestion. So a kill -9 at any point leaves the previous
index usable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from assistant.errors import IndexLockedError, IndexMismatchError
from assistant.schema import IndexStats, Passage
from assistant.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode
    from llama_index.retrievers.bm25 import BM25Retriever
    from llama_index.vector_stores.chroma import ChromaVectorStore

SCHEMA_VERSION = 1
CHUNKER_VERSION = 2  # bump when chunking changes: passages from two chunkers never mix
COLLECTION = "passages"


class FileEntry(BaseModel):
    sha256: str
    passages: list[str]


class Manifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    encoder: str
    chunk_tokens: int
    chunk_overlap_tokens: int
    chunker_version: int = CHUNKER_VERSION
    corpus_dir: str | None = None
    files: dict[str, FileEntry] = {}
    bm25_dir: str | None = None
    last_ingest: str | None = None

    def live_ids(self) -> set[str]:
        return {pid for entry in self.files.values() for pid in entry.passages}

    def mismatch(self, settings: Settings, encoder_id: str) -> str | None:
        """Why this index cannot take vectors made with the current settings, if it cannot."""
        if self.schema_version != SCHEMA_VERSION:
            return f"index schema {self.schema_version} (this version uses {SCHEMA_VERSION})"
        if self.chunker_version != CHUNKER_VERSION:
            return f"chunker version {self.chunker_version} (this version uses {CHUNKER_VERSION})"
        if self.encoder != encoder_id:
            return f"encoder '{self.encoder}' (settings now say '{encoder_id}')"
        if (self.chunk_tokens, self.chunk_overlap_tokens) != (
            settings.chunk_tokens,
            settings.chunk_overlap_tokens,
        ):
            return (
                f"chunking {self.chunk_tokens}/{self.chunk_overlap_tokens} tokens "
                f"(settings now say {settings.chunk_tokens}/{settings.chunk_overlap_tokens})"
            )
        return None


def encoder_id_for(settings: Settings) -> str:
    """The id an encoder will report, known without loading it."""
    from assistant.embedding import MiniLMEncoder

    return MiniLMEncoder.id if settings.encoder == "minilm" else settings.encoder


def passage_to_node(passage: Passage) -> BaseNode:
    from llama_index.core.schema import TextNode

    return TextNode(
        id_=passage.id,
        text=passage.text,
        start_char_idx=passage.start,
        end_char_idx=passage.end,
        metadata={"file": passage.file},
        excluded_embed_metadata_keys=["file"],
        excluded_llm_metadata_keys=["file"],
    )


def node_to_passage(node: BaseNode) -> Passage:
    text = node.get_content()
    start = node.start_char_idx if node.start_char_idx is not None else 0  # type: ignore[attr-defined]
    end = node.end_char_idx if node.end_char_idx is not None else start + len(text)  # type: ignore[attr-defined]
    return Passage(id=node.node_id, file=node.metadata["file"], start=start, end=end, text=text)


class IndexStore:
    """Opens the parts of one index folder; nothing is loaded until it is used."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.index_dir
        self.manifest_path = self.dir / "manifest.json"
        self.marker_path = self.dir / "ingest-in-progress"

    # -- manifest -------------------------------------------------------------------------
    def read_manifest(self) -> Manifest | None:
        try:
            return Manifest.model_validate_json(self.manifest_path.read_text())
        except FileNotFoundError:
            return None

    def write_manifest(self, manifest: Manifest) -> None:
        tmp = self.manifest_path.with_suffix(".json.tmp")
        with tmp.open("w") as f:
            f.write(manifest.model_dump_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.manifest_path)  # atomic: readers see the old or the new, never half

    def require_manifest(self) -> Manifest:
        manifest = self.read_manifest()
        if manifest is None or not manifest.files:
            raise IndexMismatchError(
                f"The index in {self.dir} is empty; run `assistant ingest DIR` to build it."
            )
        problem = manifest.mismatch(self.settings, encoder_id_for(self.settings))
        if problem:
            raise IndexMismatchError(
                f"The index in {self.dir} was built with {problem}; "
                "run `assistant ingest --rebuild` to rebuild it."
            )
        return manifest

    # -- Chroma ---------------------------------------------------------------------------
    @cached_property
    def client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.settings.chroma_host:
            try:
                return chromadb.HttpClient(
                    host=self.settings.chroma_host,
                    port=self.settings.chroma_port,
                    settings=chroma_settings,
                )
            except Exception as exc:
                from assistant.errors import BackendUnavailableError

                raise BackendUnavailableError(
                    f"No Chroma server answers at {self.settings.chroma_host}:"
                    f"{self.settings.chroma_port}; start it with `chroma run --path DIR "
                    f"--host 127.0.0.1 --port {self.settings.chroma_port}` or unset "
                    f"ASSISTANT_CHROMA_HOST ({type(exc).__name__})."
                ) from exc
        self.dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(self.dir / "chroma"), settings=chroma_settings)

    @cached_property
    def collection(self) -> Any:
        return self.client.get_or_create_collection(COLLECTION, metadata={"hnsw:space": "cosine"})

    @cached_property
    def vector_store(self) -> ChromaVectorStore:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.collection)

    def stored_ids(self) -> set[str]:
        return set(self.collection.get(include=[])["ids"])

    def delete_ids(self, ids: set[str]) -> None:
        batch = list(ids)
        for i in range(0, len(batch), 5000):
            self.collection.delete(ids=batch[i : i + 5000])

    def reset(self) -> None:
        # chroma raises different types across versions when the collection is absent
        with contextlib.suppress(Exception):
            self.client.delete_collection(COLLECTION)
        self.__dict__.pop("collection", None)
        self.__dict__.pop("vector_store", None)
        for old in self.dir.glob("bm25-*"):
            shutil.rmtree(old, ignore_errors=True)

    # -- BM25 -----------------------------------------------------------------------------
    def save_bm25(self, nodes: list[BaseNode]) -> str | None:
        """Write a new BM25 folder beside the current one; the manifest switches to it."""
        if not nodes:
            return None
        from llama_index.retrievers.bm25 import BM25Retriever

        name = f"bm25-{time.time_ns()}"
        retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(50, len(nodes)))
        retriever.persist(str(self.dir / name), show_progress=False)
        return name

    def load_bm25(self, manifest: Manifest) -> BM25Retriever | None:
        if not manifest.bm25_dir:
            return None
        from llama_index.retrievers.bm25 import BM25Retriever

        return BM25Retriever.from_persist_dir(
            str(self.dir / manifest.bm25_dir), show_progress=False
        )

    def drop_old_bm25(self, keep: str | None) -> None:
        for old in self.dir.glob("bm25-*"):
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)

    # -- stats ----------------------------------------------------------------------------
    def stats(self) -> IndexStats:
        manifest = self.read_manifest()
        size = sum(p.stat().st_size for p in self.dir.rglob("*") if p.is_file())
        return IndexStats(
            index_dir=str(self.dir),
            corpus_dir=manifest.corpus_dir if manifest else None,
            files=len(manifest.files) if manifest else 0,
            passages=len(manifest.live_ids()) if manifest else 0,
            encoder=manifest.encoder if manifest else encoder_id_for(self.settings),
            size_bytes=size,
            last_ingest=manifest.last_ingest if manifest else None,
        )

    # -- the writer lock ------------------------------------------------------------------
    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writer at a time; a second one is told who holds the lock, at once."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "writer.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(path)
                raise IndexLockedError(
                    f"The index in {self.dir} is being updated by {holder}; "
                    "wait for it to finish (or stop that process) and try again."
                ) from None
            os.ftruncate(fd, 0)
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:])[:200],
                "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            os.write(fd, json.dumps(info).encode())
            yield
        finally:
            os.close(fd)  # closing releases the flock; the kernel also does so on kill -9


def _read_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
        return f"process {info['pid']} ({info['command']}, since {info['since']})"
    except (OSError, ValueError, KeyError):
        return "another process"
