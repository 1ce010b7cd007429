"""The index on disk: a Chroma collection, a BM25 index and a manifest, plus the writer lock.

Readers trust only the manifest, which is replaced atomically at the end of an ingestion. Chroma
may hold extra vectors left by an interrupted run; they are invisible to readers (filtered by the
manifest) and collected by the next ingestion. So a kill -9 at any point leaves the previous
index usable.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from assistant.errors import (
    AssistantError,
    IndexLockedError,
    IndexMismatchError,
    IndexReadOnlyError,
    IndexUnavailableError,
)
from assistant.schema import IndexStats, Passage
from assistant.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode
    from llama_index.retrievers.bm25 import BM25Retriever
    from llama_index.vector_stores.chroma import ChromaVectorStore

SCHEMA_VERSION = 1
CHUNKER_VERSION = 3  # bump when text extraction or chunking changes: offsets must not mix
COLLECTION = "passages"


class Stamp(BaseModel):
    """What a file's stat says; when it still says so, the file is taken as unchanged unread."""

    size: int = -1
    mtime_ns: int = -1

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        return cls(size=st.st_size, mtime_ns=st.st_mtime_ns)

    def same(self, other: Stamp) -> bool:
        return (self.size, self.mtime_ns) == (other.size, other.mtime_ns)


class FileEntry(Stamp):
    sha256: str
    passages: list[str]


class SkippedEntry(Stamp):
    reason: str


class Manifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    encoder: str
    chunk_tokens: int
    chunk_overlap_tokens: int
    chunker_version: int = CHUNKER_VERSION
    corpus_dir: str | None = None
    files: dict[str, FileEntry] = {}
    skipped: dict[str, SkippedEntry] = Field(
        {}, description="Files read and found unusable (empty, binary, damaged), by stamp."
    )
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


# -- errors: one sentence about the index folder --------------------------------------------------
READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
FULL = {errno.ENOSPC, errno.EDQUOT}


@contextmanager
def index_errors(index_dir: Path) -> Iterator[None]:
    """Failures of the index folder (OS or Chroma) as one sentence saying what to do. An OSError
    about a file elsewhere (a document, a model) is left alone."""
    try:
        yield
    except AssistantError:
        raise
    except OSError as exc:
        if exc.filename is not None and not _inside(exc.filename, index_dir):
            raise
        raise os_error_sentence(index_dir, exc) from exc
    except Exception as exc:
        from chromadb.errors import ChromaError

        if not isinstance(exc, ChromaError):
            raise
        raise chroma_error_sentence(index_dir, exc) from exc


def _inside(filename: str | bytes | os.PathLike[Any], folder: Path) -> bool:
    path = Path(os.path.abspath(os.fsdecode(filename)))
    return path.is_relative_to(os.path.abspath(folder))


def read_only(index_dir: Path) -> IndexReadOnlyError:
    return IndexReadOnlyError(
        f"The index folder {index_dir} is read-only; make it writable, or set "
        "ASSISTANT_INDEX_DIR to a folder you can write."
    )


def os_error_sentence(index_dir: Path, exc: OSError) -> IndexUnavailableError:
    if exc.errno in READ_ONLY:
        return read_only(index_dir)
    if exc.errno in FULL:
        return IndexUnavailableError(
            f"The disk holding the index folder {index_dir} is full; free some space and try again."
        )
    if exc.errno == errno.EEXIST or (exc.errno == errno.ENOTDIR and index_dir.is_file()):
        why = "it is a file, not a folder"
    elif exc.errno == errno.ENOTDIR:
        why = "a part of its path is a file, not a folder"
    else:
        why = (exc.strerror or type(exc).__name__).lower()
    return IndexUnavailableError(
        f"The index folder {index_dir} cannot be used ({why}); set ASSISTANT_INDEX_DIR to a "
        "folder you can write."
    )


def chroma_error_sentence(index_dir: Path, exc: Exception) -> IndexUnavailableError:
    text = str(exc)
    if "readonly database" in text or "read-only" in text.lower():
        return read_only(index_dir)
    first = " ".join(text.split())[:160] or type(exc).__name__
    return IndexUnavailableError(
        f"Chroma cannot use the index in {index_dir} ({first}); check the folder, or rebuild "
        "the index with `assistant ingest --rebuild`."
    )


# Chroma keeps one shared "system" per folder per process. When the folder is deleted (or
# replaced) under it, that system keeps writing into the deleted files, so each folder's
# identity is remembered and a changed one gets a new system.
_CHROMA_OPENED: dict[str, tuple[int, int] | None] = {}


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _forget_chroma(key: str) -> None:
    from chromadb.api.shared_system_client import SharedSystemClient

    # Private to chromadb (1.5): there is no public way to drop one folder's shared system.
    system = SharedSystemClient._identifier_to_system.pop(key, None)
    SharedSystemClient._identifier_to_refcount.pop(key, None)
    if system is not None:
        with contextlib.suppress(Exception):
            system.stop()


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
        self._chroma: dict[str, Any] = {}  # client, collection, vector_store, identity
        self._had_manifest = False

    # -- manifest -------------------------------------------------------------------------
    def read_manifest(self) -> Manifest | None:
        with index_errors(self.dir):
            try:
                text = self.manifest_path.read_text()
            except FileNotFoundError:
                return None
        try:
            manifest = Manifest.model_validate_json(text)
        except ValueError:
            raise IndexUnavailableError(
                f"The index manifest {self.manifest_path} is damaged; rebuild the index with "
                "`assistant ingest --rebuild`."
            ) from None
        self._had_manifest = True
        return manifest

    def write_manifest(self, manifest: Manifest) -> None:
        tmp = self.manifest_path.with_suffix(".json.tmp")
        with tmp.open("w") as f:
            f.write(manifest.model_dump_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.manifest_path)  # atomic: readers see the old or the new, never half

    def require_manifest(self) -> Manifest:
        manifest = self.read_manifest()
        if manifest is None and self._had_manifest and not self.dir.exists():
            raise IndexUnavailableError(
                f"The index folder {self.dir} is missing; run `assistant ingest DIR` (or add "
                "documents) to build it again."
            )
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
    @property
    def client(self) -> Any:
        """The Chroma client: a server's, or the folder's own, reopened when the folder was
        deleted or replaced since it was opened."""
        if self.settings.chroma_host:
            if "client" not in self._chroma:
                self._chroma["client"] = self._http_client()
            return self._chroma["client"]
        path = self.dir / "chroma"
        key = str(path)
        if self._chroma and self._chroma.get("identity") != _identity(path):
            self._chroma.clear()  # gone or replaced: the cached client writes into the void
        if not self._chroma:
            if key in _CHROMA_OPENED and _CHROMA_OPENED[key] != _identity(path):
                _forget_chroma(key)
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            with index_errors(self.dir):
                self.dir.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(
                    path=key, settings=ChromaSettings(anonymized_telemetry=False)
                )
            _CHROMA_OPENED[key] = _identity(path)
            self._chroma = {"client": client, "identity": _CHROMA_OPENED[key]}
        return self._chroma["client"]

    def _http_client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            return chromadb.HttpClient(
                host=self.settings.chroma_host or "",
                port=self.settings.chroma_port,
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        except Exception as exc:
            from assistant.errors import BackendUnavailableError

            raise BackendUnavailableError(
                f"No Chroma server answers at {self.settings.chroma_host}:"
                f"{self.settings.chroma_port}; start it with `chroma run --path DIR "
                f"--host 127.0.0.1 --port {self.settings.chroma_port}` or unset "
                f"ASSISTANT_CHROMA_HOST ({type(exc).__name__})."
            ) from exc

    @property
    def collection(self) -> Any:
        client = self.client  # first: it may drop a stale cache
        if "collection" not in self._chroma:
            with index_errors(self.dir):
                self._chroma["collection"] = client.get_or_create_collection(
                    COLLECTION, metadata={"hnsw:space": "cosine"}
                )
        return self._chroma["collection"]

    @property
    def vector_store(self) -> ChromaVectorStore:
        collection = self.collection
        if "vector_store" not in self._chroma:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._chroma["vector_store"] = ChromaVectorStore(chroma_collection=collection)
        store: ChromaVectorStore = self._chroma["vector_store"]
        return store

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
        self._chroma.pop("collection", None)
        self._chroma.pop("vector_store", None)
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
        size = 0
        for p in self.dir.rglob("*"):
            with contextlib.suppress(OSError):  # a file an ingestion is replacing right now
                size += p.stat().st_size if p.is_file() else 0
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
        path = self.dir / "writer.lock"
        with index_errors(self.dir):
            self.dir.mkdir(parents=True, exist_ok=True)
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
