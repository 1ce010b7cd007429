"""The product's Ollama code path, end to end through the Ollama protocol.

The Ollama server binary cannot be installed on these machines, so `OllamaServer` (a test double
over the real llama.cpp model, in tests/ollama_server.py) speaks Ollama's HTTP API to the real
`ollama` client and llama-index's `Ollama` class. Tests against a real Ollama run at the end when
one answers, and are skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from assistant import Assistant
from assistant.backends import make_backend
from assistant.errors import BackendUnavailableError, IndexMismatchError
from assistant.index import IndexStore
from assistant.settings import Settings
from assistant.weights import QWEN_GGUF, SMOLLM2_GGUF, MissingWeightsError, ollama_store_model
from tests.ollama_server import OllamaServer
from tests.support import SEEDS

pytestmark = pytest.mark.integration

MODELS = Settings().model_dir
QWEN, SMOL = QWEN_GGUF.path(MODELS), SMOLLM2_GGUF.path(MODELS)
ARIHA = "How many civilians were killed in the Ariha market attack?"


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(scope="module")
def server() -> Iterator[OllamaServer]:
    if not QWEN.is_file() or not SMOL.is_file():
        pytest.skip("model weights missing: run `make setup`")
    with OllamaServer({"qwen2.5:1.5b": QWEN, "smollm2:135m": SMOL}, embed_model=SMOL) as srv:
        yield srv


@pytest.fixture(scope="module")
def index_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ollama")
    shutil.copytree(SEEDS, root / "corpus")
    Assistant(Settings(corpus_dir=root / "corpus", index_dir=root / "index")).ingest()
    return root


@pytest.fixture
def behaviour(server: OllamaServer) -> Iterator[object]:
    yield server.behaviour
    server.behaviour.missing_models.clear()
    server.behaviour.delay_s = 0.0
    server.behaviour.drop_after_chunks = None


def ollama_settings(root: Path, url: str, **extra: object) -> Settings:
    return Settings(
        corpus_dir=root / "corpus",
        index_dir=root / "index",
        backend="ollama",
        ollama_host=url,
        ollama_model="qwen2.5:1.5b",
        **extra,
    )


def test_cited_verified_answer_through_ollama(server: OllamaServer, index_root: Path) -> None:
    assistant = Assistant(ollama_settings(index_root, server.url))
    events = list(assistant.stream(ARIHA))
    assert "token" in [e.kind for e in events]  # streamed through Ollama's NDJSON chunks
    answer = events[-1].answer
    assert answer is not None and answer.backend == "ollama" and answer.model == "qwen2.5:1.5b"
    assert not answer.abstained and "49" in answer.text
    assert any(c.file == "003_52a8f228d6ea1ced.txt" and "49" in c.quote for c in answer.citations)
    for c in answer.citations:
        assert (index_root / "corpus" / c.file).read_text()[c.start : c.end] == c.quote
    assert answer.prompt_tokens > 0


def test_auto_prefers_ollama_and_falls_back_to_embedded(
    server: OllamaServer, index_root: Path, behaviour: object
) -> None:
    auto = ollama_settings(index_root, server.url).model_copy(update={"backend": "auto"})
    assert make_backend(auto).name == "ollama"
    server.behaviour.missing_models.add("qwen2.5:1.5b")
    assert make_backend(auto).name == "embedded"  # Ollama answers but lacks the model
    stopped = auto.model_copy(update={"ollama_host": dead_url()})
    backend = make_backend(stopped)
    assert backend.name == "embedded" and backend.model == QWEN.name


def test_server_not_running_is_one_sentence(index_root: Path) -> None:
    url = dead_url()
    with pytest.raises(BackendUnavailableError) as caught:
        Assistant(ollama_settings(index_root, url)).ask(ARIHA)
    assert str(caught.value) == (
        f"No Ollama server answers at {url}; start it with "
        "`ollama serve` (or set ASSISTANT_BACKEND=embedded)."
    )


def test_model_not_pulled(server: OllamaServer, index_root: Path, behaviour: object) -> None:
    server.behaviour.missing_models.add("qwen2.5:1.5b")
    with pytest.raises(BackendUnavailableError) as caught:
        Assistant(ollama_settings(index_root, server.url)).ask(ARIHA)
    assert str(caught.value) == (
        f"Ollama at {server.url} has no model 'qwen2.5:1.5b'; run `ollama pull qwen2.5:1.5b`."
    )


def test_timeout(server: OllamaServer, index_root: Path, behaviour: object) -> None:
    server.behaviour.delay_s = 3.0
    settings = ollama_settings(index_root, server.url, ollama_timeout_s=0.5)
    with pytest.raises(
        BackendUnavailableError, match="did not answer in time; raise ASSISTANT_OLLAMA_TIMEOUT_S"
    ):
        Assistant(settings).ask(ARIHA)


def test_connection_dropped_mid_stream(
    server: OllamaServer, index_root: Path, behaviour: object
) -> None:
    server.behaviour.drop_after_chunks = 3
    with pytest.raises(BackendUnavailableError, match="broke off mid-answer"):
        Assistant(ollama_settings(index_root, server.url)).ask(ARIHA)


def test_context_window_smaller_than_prompt(server: OllamaServer, index_root: Path) -> None:
    settings = ollama_settings(index_root, server.url, context_window=256)
    with pytest.raises(BackendUnavailableError, match="do not fit the context window of 256"):
        Assistant(settings).ask(ARIHA)


def test_cli_prints_the_sentence_not_a_traceback(
    index_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(index_root)
    url = dead_url()
    env = {
        "ASSISTANT_BACKEND": "ollama",
        "ASSISTANT_OLLAMA_HOST": url,
        "ASSISTANT_INDEX_DIR": str(index_root / "index"),
    }
    result = CliRunner().invoke(__import__("assistant.cli").cli.main, ["ask", ARIHA], env=env)
    assert result.exit_code == 1
    assert f"No Ollama server answers at {url}" in result.output
    assert "Traceback" not in result.output


def test_ollama_embeddings_as_encoder(server: OllamaServer, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    settings = Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        backend="ollama",
        ollama_host=server.url,
        encoder="ollama:smollm2:135m",
    )
    report = Assistant(settings).ingest()
    assert len(report.added) == 5 and report.passages_embedded > 0
    manifest = IndexStore(settings).read_manifest()
    assert manifest is not None and manifest.encoder == "ollama:smollm2:135m"
    hits = Assistant(settings).retriever().retrieve("Ariha market attack", 3)
    assert hits
    # Switching the encoder never mixes vectors: asking says rebuild, ingesting rebuilds.
    minilm = settings.model_copy(update={"encoder": "minilm"})
    with pytest.raises(IndexMismatchError, match="encoder 'ollama:smollm2:135m'"):
        Assistant(minilm).retriever()
    rebuilt = Assistant(minilm).ingest()
    assert rebuilt.rebuilt and rebuilt.notice and "encoder" in rebuilt.notice


def ollama_store(root: Path, name: str, blob_source: Path | None) -> Path:
    """A model store laid out as Ollama lays it out: manifest + blobs/sha256-<hex>."""
    model, tag = name.split(":")
    digest = "ab" * 32
    manifest = {
        "schemaVersion": 2,
        "layers": [
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "cd" * 32},
            {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}"},
        ],
    }
    path = root / "manifests" / "registry.ollama.ai" / "library" / model / tag
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(manifest))
    (root / "blobs").mkdir()
    if blob_source is not None:
        try:
            os.link(blob_source, root / "blobs" / f"sha256-{digest}")
        except OSError:
            shutil.copyfile(blob_source, root / "blobs" / f"sha256-{digest}")
    return root


def test_pulled_ollama_model_opens_without_the_server(tmp_path: Path, corpus: Path) -> None:
    if not SMOL.is_file():
        pytest.skip("model weights missing: run `make setup`")
    store = ollama_store(tmp_path / "ollama", "smollm2:135m", SMOL)
    assert ollama_store_model(store, "smollm2:135m").read_bytes()[:4] == b"GGUF"
    settings = Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        backend="embedded",
        embedded_model="ollama:smollm2:135m",
        ollama_models_dir=store,
    )
    assistant = Assistant(settings)
    assistant.ingest()
    answer = assistant.ask(ARIHA)
    assert answer.backend == "embedded" and answer.model == "ollama:smollm2:135m"
    for c in answer.citations:  # a weak model may abstain, but never cites unverified text
        assert (corpus / c.file).read_text()[c.start : c.end] == c.quote
    with pytest.raises(MissingWeightsError, match="run `ollama pull qwen2.5:7b`"):
        ollama_store_model(store, "qwen2.5:7b")


def test_non_gguf_blob_is_refused(tmp_path: Path) -> None:
    store = ollama_store(tmp_path / "ollama", "model:latest", None)
    (store / "blobs" / f"sha256-{'ab' * 32}").write_bytes(b"\x00\x01safetensors")
    with pytest.raises(MissingWeightsError, match="not a GGUF file"):
        ollama_store_model(store, "model")


def real_ollama_host() -> str | None:
    host = os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434")
    host = host if host.startswith("http") else f"http://{host}"
    try:
        httpx.get(f"{host}/api/version", timeout=1.0).raise_for_status()
    except httpx.HTTPError:
        return None
    return host


@pytest.mark.skipif(
    real_ollama_host() is None,
    reason="no real Ollama server answers at OLLAMA_HOST or 127.0.0.1:11434",
)
def test_against_a_real_ollama(index_root: Path) -> None:
    host = real_ollama_host()
    assert host is not None
    models = [m["model"] for m in httpx.get(f"{host}/api/tags").json().get("models", [])]
    if not models:
        pytest.skip("the real Ollama server has no model pulled")
    settings = ollama_settings(index_root, host).model_copy(update={"ollama_model": models[0]})
    answer = Assistant(settings).ask(ARIHA)
    assert answer.backend == "ollama"
    for c in answer.citations:
        assert (index_root / "corpus" / c.file).read_text()[c.start : c.end] == c.quote
