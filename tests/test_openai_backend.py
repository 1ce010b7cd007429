"""The OpenAI-compatible backend, end to end against a real llama_cpp.server (llama-cpp-python's
own OpenAI-compatible server) serving the Qwen GGUF on 127.0.0.1, started and stopped here.

Failures that need no model (no server at the URL, a web page that is not such a server, the
`auto` fallback, where the key comes from) run without it, in seconds.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

import assistant.backends as backends
from assistant import Assistant
from assistant.embedding import make_encoder
from assistant.errors import AssistantError, BackendUnavailableError, IndexMismatchError
from assistant.index import IndexStore
from assistant.openai_backend import api_key
from assistant.settings import Settings
from assistant.weights import QWEN_GGUF, SMOLLM2_GGUF
from tests.support import (
    FakeEncoder,
    cite_sentence_with,
    copy_seeds,
    fake_assistant,
    html_server,
    seeded_assistant,
)

QWEN = QWEN_GGUF.path(Settings().model_dir)
SMOL = SMOLLM2_GGUF.path(Settings().model_dir)
MODEL = "qwen2.5-coder-1.5b"  # the server's alias for the GGUF
KEY = "test-key-5f3a"
ARIHA = "How many civilians were killed in the market attack in Ariha?"
CAMPAIGN = "When did Russia start its air strikes in Syria?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def openai_settings(base: Settings, url: str, key: str | None = None, **extra: object) -> Settings:
    return base.model_copy(
        update={
            "backend": "openai",
            "openai_base_url": url,
            "openai_model": MODEL,
            "openai_api_key": SecretStr(key) if key else None,
            **extra,
        }
    )


# -- a real server ---------------------------------------------------------------------------


# `python -m llama_cpp.server`, its models loaded as the project loads its own: on a CPU with AMX
# a native build's AMX weight buffers segfault at the first answer (assistant.backends). The
# context manager is kept in a name: collected, it would restore the default at once.
SERVER = (
    "import runpy; from assistant.backends import amx_safe_loading; "
    "loading = amx_safe_loading(); loading.__enter__(); "
    "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)"
)


def llama_cpp_server(model: Path, alias: str, *options: str) -> Iterator[str]:
    """llama_cpp.server on 127.0.0.1 with an API key, until the test module ends; one thread,
    as it shares the cores with the test process."""
    if not model.is_file():
        pytest.skip("model weights missing: run `make setup`")
    port = free_port()
    command = [sys.executable, "-c", SERVER, "--model", str(model)]
    command += ["--model_alias", alias, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--api_key", KEY, "--n_threads", "1", "--n_threads_batch", "1", *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=1.0).status_code == 401:
                    break  # up, and asking for the key
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The Qwen GGUF with the server's default 2048-token context."""
    yield from llama_cpp_server(QWEN, MODEL, "--n_ctx", "2048")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The seeds, indexed with MiniLM (the encoder stays local)."""
    return seeded_assistant(tmp_path_factory.mktemp("openai"))


def cited_file_text(assistant: Assistant, file: str) -> str:
    return (assistant.settings.corpus_dir / file).read_text()


@pytest.mark.integration
def test_cited_verified_answers_through_the_server(server: str, indexed: Assistant) -> None:
    assistant = Assistant(openai_settings(indexed.settings, server, KEY))
    for question, figure, file in [
        (ARIHA, "49", "003_52a8f228d6ea1ced.txt"),
        (CAMPAIGN, "30", "002_3ede4edd75e29cfd.txt"),
    ]:
        answer = assistant.ask(question)
        assert answer.backend == "openai" and answer.model == MODEL
        assert not answer.abstained and figure in answer.text, answer.draft
        assert answer.citations
        for c in answer.citations:
            assert cited_file_text(assistant, c.file)[c.start : c.end] == c.quote
        if question == ARIHA:
            assert any(c.file == file and "49" in c.quote for c in answer.citations)
    assert answer.timings["generate_s"] > 0


@pytest.mark.integration
def test_streams_an_answer_with_the_key_from_a_file(
    server: str, indexed: Assistant, tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    assistant = Assistant(openai_settings(indexed.settings, server, openai_api_key_file=key_file))
    events = list(assistant.stream(ARIHA))
    tokens = [e.text for e in events if e.kind == "token"]
    assert len(tokens) > 1  # the statements arrive piece by piece
    answer = events[-1].answer
    assert answer is not None and "49" in answer.text and "49" in "".join(tokens)


@pytest.mark.integration
def test_auto_picks_the_configured_server(server: str, indexed: Assistant) -> None:
    auto = openai_settings(indexed.settings, server, KEY, backend="auto")
    backend = backends.make_backend(auto)
    assert backend.name == "openai" and backend.model == MODEL
    unset = auto.model_copy(update={"openai_model": None})
    assert backends.make_backend(unset).model == MODEL  # the server's first model


@pytest.mark.integration
def test_support_judge_through_log_probabilities(server: str, indexed: Assistant) -> None:
    backend = backends.make_backend(openai_settings(indexed.settings, server, KEY))
    judge = backend.support_judge()
    assert judge is not None
    sentence = (
        "For example the attack on November 29th, when Russian warplane fired three missiles "
        "into a busy public market in Ariha, Idlib province, which causing 49 civilians killed."
    )
    stated, unstated = judge(
        [(sentence, "49 civilians were killed in Ariha."), (sentence, "A hospital was hit.")]
    )
    assert stated > 0 and stated > unstated + 1.0


@pytest.mark.integration
def test_wrong_key_is_one_sentence(server: str, indexed: Assistant) -> None:
    settings = openai_settings(indexed.settings, server, "not-the-key")
    with pytest.raises(BackendUnavailableError) as caught:
        Assistant(settings).ask(ARIHA)
    assert str(caught.value) == (
        f"The server at {server} refused the API key (HTTP 401); set ASSISTANT_OPENAI_API_KEY "
        "or ASSISTANT_OPENAI_API_KEY_FILE to the server's key."
    )
    assert "not-the-key" not in str(caught.value)


@pytest.mark.integration
def test_unknown_model_is_one_sentence(server: str, indexed: Assistant) -> None:
    settings = openai_settings(indexed.settings, server, KEY, openai_model="qwen2.5:7b")
    with pytest.raises(BackendUnavailableError) as caught:
        Assistant(settings).ask(ARIHA)
    assert str(caught.value) == (
        f"The server at {server} has no model 'qwen2.5:7b' (it serves '{MODEL}'); set "
        "ASSISTANT_OPENAI_MODEL to one it serves."
    )


@pytest.mark.integration
def test_prompt_larger_than_the_server_context(server: str, indexed: Assistant) -> None:
    # Our own check passes (a 16k window is configured); the server, at 2048, refuses.
    settings = openai_settings(
        indexed.settings,
        server,
        KEY,
        context_window=16384,
        top_k=40,
        evidence_sentences=400,
        evidence_tokens=6000,
    )
    with pytest.raises(BackendUnavailableError) as caught:
        Assistant(settings).ask(ARIHA)
    assert str(caught.value) == (
        f"The prompt is longer than the server at {server} allows (its context size); start "
        "the server with a larger context or lower ASSISTANT_EVIDENCE_TOKENS."
    )


@pytest.mark.integration
def test_timeout_is_one_sentence(server: str, indexed: Assistant) -> None:
    settings = openai_settings(indexed.settings, server, KEY, openai_timeout_s=0.3)
    with pytest.raises(BackendUnavailableError) as caught:
        Assistant(settings).ask("Who is Philip Luther?")
    assert str(caught.value) == (
        f"The server at {server} did not answer in time; raise ASSISTANT_OPENAI_TIMEOUT_S or "
        "use a smaller model."
    )


@pytest.mark.integration
def test_server_embeddings_as_encoder(tmp_path: Path) -> None:
    embedder = llama_cpp_server(SMOL, "smollm2", "--embedding", "true")
    url = next(embedder)
    try:
        settings = Settings(
            corpus_dir=copy_seeds(tmp_path),
            index_dir=tmp_path / "index",
            encoder="openai:smollm2",
            openai_base_url=url,
            openai_api_key=SecretStr(KEY),
        )
        report = Assistant(settings).ingest()
        assert len(report.added) == 5 and report.passages_embedded > 0
        manifest = IndexStore(settings).read_manifest()
        assert manifest is not None and manifest.encoder == "openai:smollm2"
        assert Assistant(settings).retriever().retrieve("Ariha market attack", 3)
        # Switching the encoder never mixes vectors: asking says rebuild, ingesting rebuilds.
        minilm = settings.model_copy(update={"encoder": "minilm"})
        with pytest.raises(IndexMismatchError, match="encoder 'openai:smollm2'"):
            Assistant(minilm).retriever()
        rebuilt = Assistant(minilm).ingest()
        assert rebuilt.rebuilt and rebuilt.notice and "encoder" in rebuilt.notice
    finally:
        embedder.close()  # stops the server


# -- no model needed -------------------------------------------------------------------------


def test_no_server_at_the_url(tmp_path: Path) -> None:
    indexed = fake_assistant(tmp_path, cite_sentence_with("49"))
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendUnavailableError) as caught:
        Assistant(openai_settings(indexed.settings, url), encoder=FakeEncoder()).ask(ARIHA)
    assert str(caught.value) == (
        f"No server answers at {url}; start your OpenAI-compatible server (for example "
        "`python -m llama_cpp.server --model FILE`) or check ASSISTANT_OPENAI_BASE_URL."
    )


PAGE = b"<!DOCTYPE html><html><body><h1>Router login</h1><p>Not an API.</p></body></html>\n"


@pytest.fixture(params=[200, 404])
def web_page(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    with html_server(request.param, PAGE) as url:
        yield f"{url}/v1", request.param


def test_a_web_page_is_named_not_printed(tmp_path: Path, web_page: tuple[str, int]) -> None:
    url, status = web_page
    indexed = fake_assistant(tmp_path, cite_sentence_with("49"))
    with pytest.raises(AssistantError) as caught:
        Assistant(openai_settings(indexed.settings, url), encoder=FakeEncoder()).ask(ARIHA)
    assert str(caught.value) == (
        f"{url} answered, but it is not an OpenAI-compatible API (HTTP {status}, text/html); "
        "check ASSISTANT_OPENAI_BASE_URL (it usually ends in /v1)."
    )


def test_auto_falls_back_when_the_configured_server_is_down(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backends, "embedded_backend", lambda s: "embedded")
    down = settings.model_copy(
        update={
            "backend": "auto",
            "openai_base_url": f"http://127.0.0.1:{free_port()}/v1",
            "ollama_host": f"http://127.0.0.1:{free_port()}",
        }
    )
    assert backends.make_backend(down) == "embedded"


def test_openai_needs_a_url(settings: Settings) -> None:
    with pytest.raises(BackendUnavailableError, match="set ASSISTANT_OPENAI_BASE_URL"):
        backends.make_backend(settings.model_copy(update={"backend": "openai"}))
    with pytest.raises(BackendUnavailableError, match="set ASSISTANT_OPENAI_BASE_URL"):
        make_encoder(settings.model_copy(update={"encoder": "openai:nomic"}))


def test_the_key_comes_from_the_environment_or_a_file_and_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_OPENAI_API_KEY", KEY)
    assert api_key(Settings()) == KEY
    result = CliRunner().invoke(__import__("assistant.cli").cli.main, ["settings"])
    assert result.exit_code == 0 and "openai_api_key" in result.output
    assert KEY not in result.output and KEY not in repr(Settings())
    monkeypatch.delenv("ASSISTANT_OPENAI_API_KEY")
    (tmp_path / "key").write_text(f"  {KEY}\n")
    monkeypatch.setenv("ASSISTANT_OPENAI_API_KEY_FILE", str(tmp_path / "key"))
    assert api_key(Settings()) == KEY
    monkeypatch.setenv("ASSISTANT_OPENAI_API_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(BackendUnavailableError, match="cannot be read"):
        api_key(Settings())


@pytest.mark.integration
def test_cli_prints_the_sentence_not_a_traceback(
    indexed: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(indexed.settings.corpus_dir.parent)
    url = f"http://127.0.0.1:{free_port()}/v1"
    env = {
        "ASSISTANT_BACKEND": "openai",
        "ASSISTANT_OPENAI_BASE_URL": url,
        "ASSISTANT_INDEX_DIR": str(indexed.settings.index_dir),
    }
    result = CliRunner().invoke(__import__("assistant.cli").cli.main, ["ask", ARIHA], env=env)
    assert result.exit_code == 1
    assert f"No server answers at {url}" in result.output
    assert "Traceback" not in result.output
