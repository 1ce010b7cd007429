"""Chroma server mode: the index's vectors live in a `chroma run` server the test starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant import Assistant
from assistant.errors import BackendUnavailableError
from assistant.index import IndexStore
from assistant.settings import Settings
from tests.support import FakeEncoder
from tests.test_crash_safety import grow_corpus

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-data")
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("chroma run did not start")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def server_settings(tmp_path: Path, corpus: Path, port: int) -> Settings:
    return Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        backend="embedded",
        chroma_host="127.0.0.1",
        chroma_port=port,
    )


@pytest.mark.integration
def test_ingest_and_ask_through_a_chroma_server(
    chroma_server: int, tmp_path: Path, corpus: Path
) -> None:
    settings = server_settings(tmp_path, corpus, chroma_server)
    assistant = Assistant(settings)
    report = assistant.ingest()
    assert len(report.added) == 5
    assert not (settings.index_dir / "chroma").exists()  # vectors went to the server
    manifest = IndexStore(settings).read_manifest()
    assert manifest is not None
    assert IndexStore(settings).stored_ids() == manifest.live_ids()

    # Another process ingests 60 more files while this one answers.
    grow_corpus(corpus, 60)
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(settings.index_dir),
        "ASSISTANT_CORPUS_DIR": str(corpus),
        "ASSISTANT_CHROMA_HOST": "127.0.0.1",
        "ASSISTANT_CHROMA_PORT": str(chroma_server),
    }
    writer = subprocess.Popen(
        [sys.executable, "-m", "assistant", "ingest"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        answer = assistant.ask("How many civilians were killed in the Ariha market attack?")
        assert "49" in answer.text and answer.citations
        assert writer.wait(timeout=600) == 0, writer.stderr.read() if writer.stderr else ""
    finally:
        writer.kill()
    final = IndexStore(settings).read_manifest()
    assert final is not None and len(final.files) == 65
    assert IndexStore(settings).stored_ids() == final.live_ids()
    # A fresh process-level view sees the new documents at once.
    hits = Assistant(settings).retriever().retrieve("Extra document 7", 3)
    assert hits


def test_unreachable_chroma_server_is_one_clear_sentence(tmp_path: Path, corpus: Path) -> None:
    settings = server_settings(tmp_path, corpus, free_port())
    with pytest.raises(BackendUnavailableError, match="No Chroma server answers at 127.0.0.1"):
        Assistant(settings, encoder=FakeEncoder()).ingest()
