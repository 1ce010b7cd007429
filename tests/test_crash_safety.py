"""kill -9 during ingestion leaves the previous index usable; a second writer is told at once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.errors import IndexLockedError
from assistant.index import IndexStore
from assistant.settings import Settings
from tests.support import SEEDS

# Real ingestion processes with the real encoder, killed mid-way: slow, so integration tests.
pytestmark = pytest.mark.integration

INGEST = "from assistant import Assistant; Assistant().ingest()"


def grow_corpus(folder: Path, files: int, seed: int = 0) -> None:
    """Many distinct documents made of shuffled seed sentences: slow enough to interrupt."""
    rng = random.Random(seed)
    sentences = [
        s.strip() + "."
        for p in sorted(SEEDS.iterdir())
        for s in p.read_text().split(".")
        if len(s.split()) > 5
    ]
    for n in range(files):
        body = " ".join(rng.sample(sentences, 12))
        (folder / f"extra_{n:04d}.txt").write_text(f"Extra document {n}.\n\n{body}\n")


def start_ingest(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(settings.index_dir),
        "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
    }
    return subprocess.Popen(
        [sys.executable, "-c", INGEST], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def wait_for(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


@pytest.mark.parametrize("delay", [0.0, 1.0])
def test_kill_during_ingestion_keeps_previous_index(
    settings: Settings, corpus: Path, delay: float
) -> None:
    assistant = Assistant(settings)
    assistant.ingest(corpus)
    before = IndexStore(settings).read_manifest()
    assert before is not None
    question = "How many civilians were killed in the Ariha market attack?"
    hits_before = [h.passage.id for h in assistant.retriever().retrieve(question, 5)]

    grow_corpus(corpus, 100, seed=int(delay * 10))
    proc = start_ingest(settings)
    store = IndexStore(settings)
    wait_for(store.marker_path.exists)  # it has started writing
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    # The previous index answers exactly as before: same manifest, same hits.
    after_kill = store.read_manifest()
    assert after_kill == before
    fresh = Assistant(settings)
    assert [h.passage.id for h in fresh.retriever().retrieve(question, 5)] == hits_before
    assert fresh.index_stats().passages == len(before.live_ids())

    # The next run completes the work, and the index holds nothing but live passages.
    report = Assistant(settings).ingest(corpus)
    assert len(report.added) == 100 and report.unchanged
    final = store.read_manifest()
    assert final is not None and len(final.files) == 105
    assert IndexStore(settings).stored_ids() == final.live_ids()
    assert not store.marker_path.exists()
    assert len([p for p in settings.index_dir.glob("bm25-*")]) == 1


def test_second_writer_is_told_who_holds_the_lock(settings: Settings, corpus: Path) -> None:
    Assistant(settings).ingest(corpus)
    grow_corpus(corpus, 150)
    proc = start_ingest(settings)
    try:
        lock = settings.index_dir / "writer.lock"
        wait_for(lambda: IndexStore(settings).marker_path.exists())
        holder = json.loads(lock.read_text())
        assert holder["pid"] == proc.pid
        started = time.monotonic()
        with pytest.raises(IndexLockedError) as caught:
            Assistant(settings).ingest(corpus)
        assert time.monotonic() - started < 5  # at once, never a hang
        message = str(caught.value)
        assert f"process {proc.pid}" in message and "wait for it to finish" in message
        # Readers are not blocked by the writer.
        hits = Assistant(settings).retriever().retrieve("Ariha market", 3)
        assert hits
    finally:
        proc.kill()
        proc.wait()
    # Once the holder is gone, the lock is free again (the kernel drops it even on kill -9).
    report = Assistant(settings).ingest(corpus)
    assert len(report.added) == 150
