"""What tests/ and evals/ share: corpus copies, assistants over them, and small deterministic
fakes that `Assistant` takes as arguments (`encoder=`, `backend=`), so pipeline logic, the CLI
and the UI handlers run in seconds without model weights."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from pydantic import PrivateAttr

from assistant import Assistant
from assistant.backends import Backend
from assistant.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


class FakeEncoder:
    """Hashed bag of lower-cased words: texts that share words are near, so ranking means
    something, and the same text always gets the same vector."""

    id = "fake-bag-of-words-256"
    dims = 256

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dims] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]


Script = Callable[[str], dict[str, Any]]  # the prompt -> the JSON the model would write


def evidence_lines(prompt: str) -> dict[int, str]:
    """The numbered evidence a prompt shows the model: id -> sentence."""
    return {
        int(n): text for n, text in re.findall(r"^\[(\d+)\] \(source \d+\) (.*)$", prompt, re.M)
    }


def cite_sentence_with(needle: str) -> Script:
    """A model that states the first evidence sentence containing `needle` and cites it, and
    returns no claims when none does."""

    def script(prompt: str) -> dict[str, Any]:
        for n, text in evidence_lines(prompt).items():
            if needle.lower() in text.lower():
                return {"claims": [{"statement": text, "evidence": [n]}]}
        return {"claims": []}

    return script


class ScriptedLLM(CustomLLM):
    """An LLM whose reply is computed from the prompt by a script, streamed in small pieces."""

    chunk_chars: int = 7
    _script: Script = PrivateAttr()
    prompts: list[str] = []

    def __init__(self, script: Script, **data: Any) -> None:
        super().__init__(**data)
        self._script = script
        self.prompts = []

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=8192, num_output=512, model_name="scripted")

    def _reply(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return json.dumps(self._script(prompt))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._reply(prompt))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = self._reply(prompt)

        def gen() -> CompletionResponseGen:
            for at in range(0, len(text), self.chunk_chars):
                yield CompletionResponse(
                    text=text[: at + self.chunk_chars], delta=text[at : at + self.chunk_chars]
                )

        return gen()


def scripted_backend(script: Script) -> Backend:
    return Backend(llm=ScriptedLLM(script), name="scripted", model="scripted")


def copy_seeds(root: Path) -> Path:
    folder = root / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder


def seeded_assistant(root: Path, **components: Any) -> Assistant:
    """An Assistant over its own copy of seeds/ in `root`, ingested. The embedded model and
    MiniLM unless `encoder=` / `backend=` fakes are given."""
    a = Assistant(
        Settings(corpus_dir=copy_seeds(root), index_dir=root / "index", backend="embedded"),
        **components,
    )
    a.ingest()
    return a


def fake_assistant(root: Path, script: Script, corpus: Path | None = None) -> Assistant:
    """An Assistant on the fake encoder and a scripted model, over seeds/ or `corpus`, ingested."""
    folder = corpus or copy_seeds(root)
    a = Assistant(
        Settings(corpus_dir=folder, index_dir=root / "index", backend="embedded"),
        encoder=FakeEncoder(),
        backend=scripted_backend(script),
    )
    a.ingest()
    return a


@contextmanager
def html_server(status: int, page: bytes) -> Iterator[str]:
    """A web server on 127.0.0.1 that answers every GET and POST with `page` as HTML and the
    given status (a router page, a proxy error: anything that is not the API asked for); yields
    its base URL and stops it on exit."""

    class Page(BaseHTTPRequestHandler):
        def answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        do_GET = do_POST = answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
